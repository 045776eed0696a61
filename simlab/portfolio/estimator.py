"""The ``estimator`` Step: any object with ``fit(X)`` and ``weights_`` as an allocator.

skfolio's optimizers (``skfolio.optimization.MeanRisk``, ``HierarchicalRiskParity``,
``RiskBudgeting``, ...) and any scikit-learn-style portfolio estimator plug in by import
path::

    - type: estimator
      estimator: skfolio.optimization.MeanRisk
      params:
        objective_function: {import: skfolio.optimization.ObjectiveFunction.MAXIMIZE_RATIO}
        risk_measure: {import: skfolio.RiskMeasure.CVAR}
        max_weights: 0.25
      window: 252

``params`` are the constructor's keyword arguments. A value written ``{import: PATH}`` is the
object at ``PATH`` (an enum member, a class, a function); ``{import: PATH, params: {...}}``
calls it with those arguments (a nested estimator, such as a prior). Everything is imported
and constructed when the config loads: an import that fails, a constructor that refuses its
parameters, or an object without ``fit`` is a ConfigError naming the key.

At each decision a fresh estimator is constructed and fitted on the trailing ``window``
daily simple returns (rows up to the decision day) of the tradeable assets with a return on
every day of the window, as a DataFrame (dates x assets); its ``weights_`` (one per column,
in order) are the targets, and the other assets get 0. Weights that are not finite, or not
one per column, are a StepError naming the estimator and the day. A ``fit`` that raises
(a solver failing on that window) holds the book and says so (``fit_failed``, the
``hold`` key), as does a day with no asset holding a full window of returns yet
(``n_assets`` 0); an estimator object without ``weights_`` after ``fit`` is a ConfigError.
Wrap the Step in ``static`` to fit once.

Diagnostics: ``n_assets`` (columns fitted), ``fit_failed``, ``cash`` (1 - sum of weights).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from simlab.config.registry import register
from simlab.contract.roles import FALLBACK
from simlab.contract.step import HOLD, Step, scenario_values
from simlab.errors import ConfigError, StepError


def import_object(path: str) -> Any:
    """The object at a dotted ``path`` (``package.module.Name`` or ``package.Enum.MEMBER``).

    Raises
    ------
    ImportError
        Naming the path and the install command for its top-level package.
    """
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError as err:
            if cut == 1:
                raise ImportError(f"cannot import {path!r}: {err}; install it with pip install {parts[0]}") from None
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            raise ImportError(f"cannot import {path!r}: {'.'.join(parts[:cut])} has no {'.'.join(parts[cut:])!r}") from None
        return obj
    raise ImportError(f"cannot import {path!r}: write a dotted path such as skfolio.optimization.MeanRisk")


def resolve_params(value: Any) -> Any:
    """``params`` with every ``{import: PATH}`` replaced by its object (called with ``params``
    when given)."""
    if isinstance(value, dict) and "import" in value:
        extra = sorted(set(value) - {"import", "params"})
        if extra:
            raise ValueError(f"an {{import: ...}} value takes only 'import' and 'params'; got {extra}")
        obj = import_object(str(value["import"]))
        return obj(**resolve_params(value["params"])) if "params" in value else obj
    if isinstance(value, dict):
        return {k: resolve_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_params(v) for v in value]
    return value


def build_estimator(path: str, params: dict) -> Any:
    """A fresh estimator: ``path(**params)`` with ``{import: ...}`` values resolved."""
    return import_object(path)(**resolve_params(params))


def _check_estimator(path: Any) -> str:
    if not isinstance(path, str) or "." not in path:
        raise PydanticCustomError("config", f"expected an import path such as skfolio.optimization.MeanRisk; got {path!r}")
    try:
        cls = import_object(path)
    except ImportError as err:
        raise PydanticCustomError("config", str(err)) from None
    if not callable(getattr(cls, "fit", None)):
        raise PydanticCustomError("config", f"{path} has no fit method; the estimator Step needs fit(X) and weights_")
    return path


@register("step", "estimator")
@dataclass(frozen=True)
class Estimator(Step):
    """Any estimator with fit(X) and weights_, named by import path (skfolio, scikit-learn style).

    Fitted on the trailing returns at each decision; its ``weights_`` are the targets
    (module docstring).

    Requires: prices. Provides: weights.
    """

    diagnostic_roles = {"fit_failed": FALLBACK}

    estimator: Annotated[str, AfterValidator(_check_estimator)]
    params: dict[str, Any] = field(default_factory=dict)
    window: Annotated[int, Field(ge=2)] = 252

    def __post_init__(self):
        try:
            build_estimator(self.estimator, self.params)
        except (ImportError, TypeError, ValueError) as err:
            raise ValueError(f"cannot construct {self.estimator} with params {self.params}: {err}") from None

    def __call__(self, weights, ctx):
        b, n = weights.shape
        windows = [int(w) for w in scenario_values(self.window, b)]
        out = np.zeros((b, n))
        failed, hold = np.zeros(b, dtype=bool), np.zeros(b, dtype=bool)
        n_assets = np.zeros(b)
        fits: dict[int, tuple[np.ndarray | None, int]] = {}
        for i, window in enumerate(windows):
            if window not in fits:
                fits[window] = self.fit(ctx, window)
            w, count = fits[window]
            n_assets[i] = count
            if w is None:
                failed[i] = count > 0
                hold[i] = True
                out[i] = ctx.weights[i]
            else:
                out[i] = w
        return out, {"n_assets": n_assets, "fit_failed": failed, HOLD: hold, "cash": 1.0 - out.sum(axis=1)}

    def fit(self, ctx, window: int) -> tuple[np.ndarray | None, int]:
        """(N,) weights from one fit on the trailing ``window`` returns (None: the fit raised),
        and the number of assets fitted."""
        hist = np.asarray(ctx.view.history("returns", window), dtype=float)
        keep = ctx.tradeable & np.isfinite(hist).all(axis=0) if len(hist) == window else np.zeros(len(ctx.assets), bool)
        if keep.sum() == 0:
            return None, 0
        columns = [a for a, k in zip(ctx.assets, keep) if k]
        X = pd.DataFrame(hist[:, keep], index=ctx.view.dates[ctx.t - window + 1: ctx.t + 1], columns=columns)
        model = build_estimator(self.estimator, self.params)
        try:
            model.fit(X)
        except Exception:  # noqa: BLE001 - a fit failing on this window holds the book (fit_failed says so)
            return None, len(columns)
        if not hasattr(model, "weights_"):
            raise ConfigError(f"{self.key}.estimator: {self.estimator} has no weights_ after fit; the estimator "
                              "Step needs an object with fit(X) and weights_")
        w = np.asarray(model.weights_, dtype=float).reshape(-1)
        if w.shape != (len(columns),) or not np.isfinite(w).all():
            raise StepError(f"{self.estimator} on {ctx.date.date()}: weights_ must be {len(columns)} finite numbers "
                            f"(one per asset fitted); got {w!r}")
        out = np.zeros(len(ctx.assets))
        out[keep] = w
        return out, len(columns)
