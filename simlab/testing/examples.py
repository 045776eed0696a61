"""Example parameters of components, for the conformance checks; temporary registration.

The conformance checks need one valid configuration of each component. A component
whose fields all have defaults is checked with its defaults; one with a required field,
or whose defaults need more history than the small conformance market holds, is checked
with the parameters listed in :data:`EXAMPLES` (merged over its defaults). A plugin
author adds an entry with :func:`add_example`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pydantic

from simlab.config import registry

EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("cost", "composite"): {"models": [{"type": "spread", "half_spread_bps": 3.0},
                                       {"type": "sqrt_impact", "eta": 0.1}]},
    # the defaults look back five years; the conformance market holds two and a half
    # a wrapper needs the Step it wraps
    ("step", "static"): {"step": {"type": "min_variance", "window": 60}},
    ("step", "estimator"): {"estimator": "simlab.testing.examples.InverseVarianceEstimator", "window": 60},
    ("strategy", "long_term_reversal"): {"lookback": 250, "skip": 21},
    ("strategy", "value_momentum"): {"value_lookback": 250, "value_skip": 21,
                                     "momentum_lookback": 126, "momentum_skip": 5},
}


class InverseVarianceEstimator:
    """The smallest object the ``estimator`` Step accepts: ``fit(X)`` sets ``weights_``
    proportional to ``1 / variance`` of each column of X (needs nothing beyond numpy)."""

    def fit(self, X):
        """Set ``weights_`` from the columns' sample variances; return self."""
        import numpy as np

        inv = 1.0 / np.var(np.asarray(X, dtype=float), axis=0, ddof=1)
        self.weights_ = inv / inv.sum()
        return self


def add_example(kind: str, key: str, params: dict[str, Any]) -> None:
    """Check ``kind`` ``key`` with ``params`` (merged over its defaults)."""
    EXAMPLES[(kind, key)] = dict(params)


def required_fields(cls: type) -> list[str]:
    """Names of the constructor fields of ``cls`` without a default."""
    if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
        return [name for name, f in cls.model_fields.items() if f.is_required()]
    return [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING]


def example_params(kind: str, key: str, cls: type) -> dict[str, Any]:
    """The parameters (without ``type``) to check ``kind`` ``key`` with.

    Raises
    ------
    AssertionError
        The component has a required field and no example, naming how to add one.
    """
    if (kind, key) in EXAMPLES:
        return dict(EXAMPLES[(kind, key)])
    missing = required_fields(cls)
    if missing:
        raise AssertionError(
            f"{kind} {key!r}: the conformance checks need a valid configuration, and "
            f"{cls.__qualname__} has required fields without defaults ({', '.join(missing)}); "
            f"give them defaults or add an example: "
            f"simlab.testing.add_example({kind!r}, {key!r}, {{{missing[0]!r}: ...}})"
        )
    return {}


@contextlib.contextmanager
def registered(kind: str, key: str, cls: type, params: dict[str, Any] | None = None):
    """Register ``cls`` as ``kind`` ``key`` inside the ``with`` block only (with an example).

    >>> from dataclasses import dataclass
    >>> from strategies.base import Strategy
    >>> @dataclass(frozen=True)
    ... class Flat(Strategy):
    ...     def signal(self, md):
    ...         return md.close * 0.0
    >>> with registered("strategy", "flat_example", Flat):
    ...     "flat_example" in registry.registry("strategy")
    True
    >>> "flat_example" in registry.registry("strategy")
    False
    """
    registry.registry(kind)  # load the built-ins first, so that a clash is a real clash
    registry.register(kind, key)(cls)
    old = EXAMPLES.get((kind, key))
    if params is not None:
        EXAMPLES[(kind, key)] = dict(params)
    try:
        yield cls
    finally:
        registry.unregister(kind, key)
        if params is not None:
            if old is None:
                EXAMPLES.pop((kind, key), None)
            else:
                EXAMPLES[(kind, key)] = old
