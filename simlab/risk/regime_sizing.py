"""Regime sizing: the ``regime_sizing`` Step scales the whole book by a multiplier per regime.

The design documents' rule: "regime sizing that scales up (e.g. trending x1.2)". A regime
detector (:mod:`simlab.risk.regime`) labels each day; the Step multiplies every weight by
the multiplier of the decision day's label. The default detector is ``trend`` (the
benchmark against its 200-day average: label 0 above it, "trending"; 1 below it; 2 more
than 5% below) with multipliers 1.2, 1.0 and 0.75. Days before the detector has enough
history are label 0 with ``known = False``; they take the multiplier ``unknown`` (1).

A multiplier above 1 borrows. simlab's default caps the gross exposure after scaling at
``max_gross: 1.0``: the scale-up then only puts cash back to work and never levers the
book, which an experiment without ``execution.leverage`` could not fund anyway (buys would
be cut to the cash at hand, silently changing the rule). ``rules: as_written`` (or
``max_gross: null``) applies the multiplier as written, levered.

Diagnostics (B,): ``regime`` (label), ``regime_known``, ``multiplier`` (applied before the
cap), ``scale`` (applied after it), ``gross``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from simlab.config.registry import register
from simlab.contract.step import Step, per_scenario
from simlab.errors import ConfigError
from simlab.risk.regime import MAX_LABELS, RegimeLabels, detector_config, parse_detector

DEFAULT_MULTIPLIERS = {"0": 1.2, "1": 1.0, "2": 0.75}


def _check_regime(value: Any) -> dict:
    try:
        return detector_config(value, "")
    except ConfigError as err:
        raise PydanticCustomError("config", str(err)) from None


def _check_multipliers(value: Any) -> dict:
    if not isinstance(value, dict) or not value:
        raise PydanticCustomError("config", "expected {label: multiplier}, labels 0..3")
    out = {}
    for key, m in value.items():
        text = str(key)
        if not (text.isdigit() and int(text) < MAX_LABELS):
            raise PydanticCustomError("config", f"unknown regime label {key!r}; use 0..{MAX_LABELS - 1}")
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m < np.inf:
            raise PydanticCustomError("config", f"{text}: multiplier must be a number >= 0; got {m!r}")
        out[text] = float(m)
    return out


def _default_regime() -> dict:
    return detector_config({"type": "trend"})


@register("step", "regime_sizing")
@dataclass(frozen=True)
class RegimeSizing(Step):
    """Scale the book by a multiplier per regime label (module docstring).

    Fields: ``regime`` (a detector), ``multipliers`` ({label: multiplier}, a missing label
    takes 1), ``unknown`` (the multiplier before the detector has history), ``max_gross``
    (cap on sum |w| after scaling, None for none) and the preset ``rules`` (``simlab`` or
    ``as_written``, which removes the cap).

    Requires: the detector's data (the benchmark for ``trend``). Provides: weights.
    """

    regime: Annotated[dict, AfterValidator(_check_regime)] = field(default_factory=_default_regime)
    multipliers: Annotated[dict, AfterValidator(_check_multipliers)] = field(
        default_factory=lambda: dict(DEFAULT_MULTIPLIERS))
    unknown: Annotated[float, Field(ge=0)] = 1.0
    max_gross: Annotated[float, Field(gt=0)] | None = 1.0
    rules: Literal["simlab", "as_written"] = "simlab"

    def __post_init__(self):
        if self.rules == "as_written":
            object.__setattr__(self, "max_gross", None)
        n_labels = parse_detector(self.regime).n_labels
        beyond = [k for k in self.multipliers if int(k) >= n_labels]
        if beyond:
            raise ValueError(f"multipliers for labels {beyond}: the detector has labels 0..{n_labels - 1}")

    def features(self, n_scenarios):
        return {"regime": [RegimeLabels(parse_detector(self.regime))] * n_scenarios}

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        table = np.asarray(ctx.feature("regime"), dtype=float)
        label, known = table[:, 0].astype(np.int64), table[:, 4] > 0
        lookup = np.ones(MAX_LABELS)
        for key, m in self.multipliers.items():
            lookup[int(key)] = m
        multiplier = np.where(known, lookup[np.clip(label, 0, MAX_LABELS - 1)], per_scenario(self.unknown, b)[:, 0])
        out = weights * multiplier[:, None]
        gross = np.abs(out).sum(axis=1)
        if self.max_gross is not None:
            cap = per_scenario(self.max_gross, b)[:, 0]
            out = out * np.where(gross > cap, cap / np.where(gross > 0, gross, 1.0), 1.0)[:, None]
        before = np.abs(weights).sum(axis=1)
        after = np.abs(out).sum(axis=1)
        diag = {"regime": label.astype(float), "regime_known": known.astype(float), "multiplier": multiplier,
                "scale": np.divide(after, before, out=np.ones(b), where=before > 0), "gross": after}
        return out, diag
