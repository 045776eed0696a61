"""Fit once, then hold: the ``static`` Step, for a train/test study inside the replay.

``static`` wraps any allocator Step (``step: {type: min_variance, ...}``) and calls it once:
at the first decision on or after ``fit_date`` (the first decision when none is given).
The allocator sees what it would see that day and nothing later (its Features are computed
point in time, like every Step's), so the fitted weights use the training window only.
After the fit:

- ``after_fit: rebalance`` (the default) returns the fitted weights at every decision: a
  constant-mix book rebalanced back to them, as a fixed-weight out-of-sample test is
  usually run;
- ``after_fit: drift`` trades once, into the fitted weights, and then holds the shares
  (the :data:`~simlab.contract.step.HOLD` key): buy and hold.

Before the fit the book stays as it is (``before_fit: hold``, from an empty book: cash) or
is held in ``equal`` weight over the tradeable assets, so that the test period can be
compared from a common start. An asset that stops trading after the fit keeps its fitted
target (the book cannot trade it; ``n_untradeable`` counts them).

Diagnostics: ``fitted`` (1 from the fit on), ``fit_now`` (1 at the fitting decision),
``n_untradeable``, and at the fitting decision the wrapped Step's own diagnostics, prefixed
``fit.``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from simlab.config import registry
from simlab.config.registry import register
from simlab.contract.roles import FALLBACK
from simlab.contract.step import HOLD, Step
from simlab.errors import ConfigError


def _check_inner(value: Any) -> dict:
    if isinstance(value, dict) and value.get("type") == "static":
        raise PydanticCustomError("config", "static cannot wrap another static Step")
    try:
        return registry.resolve("step", value, "")
    except ConfigError as err:
        raise PydanticCustomError("config", str(err)) from None


@register("step", "static")
@dataclass(frozen=True)
class Static(Step):
    """Fit the wrapped allocator ``step`` once and hold its weights (module docstring).

    Requires: what the wrapped Step requires (a signal is checked at the first decision).
    Provides: weights.
    """

    stateful = True
    diagnostic_roles = {"fit.fallback_level": FALLBACK, "fit.fit_failed": FALLBACK}

    step: Annotated[dict, AfterValidator(_check_inner)]
    fit_date: dt.date | None = None
    before_fit: Literal["hold", "equal"] = "hold"
    after_fit: Literal["rebalance", "drift"] = "rebalance"

    @property
    def inner(self) -> Step:
        """The wrapped Step, built from its resolved entry."""
        return registry.build("step", self.step)

    @classmethod
    def required_modules(cls, entry: dict) -> tuple[str, ...]:
        """The wrapped Step's (its solver chain's, for an optimizer)."""
        inner = registry.lookup("step", entry["step"]["type"], "step")
        needs = getattr(inner, "required_modules", None)
        return tuple(needs(entry["step"])) if needs else ()

    def features(self, n_scenarios):
        """The wrapped Step's Features."""
        return self.inner.features(n_scenarios)

    def __call__(self, weights, ctx):
        b, n = weights.shape
        memory = ctx.memory
        if self.fit_date is not None and pd.Timestamp(self.fit_date) > ctx.view.dates[-1]:
            raise ConfigError(f"static.fit_date {self.fit_date} is after the data's last day "
                              f"{ctx.view.dates[-1].date()}: the wrapped Step would never be fitted")
        fitted = memory.get("fitted", np.zeros(b, dtype=bool))
        due = ~fitted & (self.fit_date is None or ctx.date >= pd.Timestamp(self.fit_date))
        diag: dict = {}
        if due.any():
            inner = self.inner
            if "signal" in inner.requires and ctx.signal is None:
                raise ConfigError(f"static.step ({inner.key}) requires a signal; add a strategy: block")
            fresh = dict(ctx.memory.get("inner", {}))
            w_fit, inner_diag = inner(weights, _with_memory(ctx, fresh))
            memory["inner"] = fresh
            target = memory.get("weights", np.zeros((b, n)))
            target = np.where(due[:, None], w_fit, target)
            memory["weights"] = target
            memory["fitted"] = fitted | due
            diag.update({f"fit.{k}": _rows(v, due, b) for k, v in inner_diag.items() if k != HOLD})
        target = memory.get("weights", np.zeros((b, n)))
        now = memory.get("fitted", fitted)
        if self.before_fit == "equal":
            tradeable = np.broadcast_to(ctx.tradeable, (b, n))
            count = tradeable.sum(axis=1, keepdims=True)
            before = np.divide(tradeable.astype(float), count, out=np.zeros((b, n)), where=count > 0)
        else:
            before = weights
        out = np.where(now[:, None], target, before)
        hold = (~now & (self.before_fit == "hold")) | (now & ~due & (self.after_fit == "drift"))
        diag.update({"fitted": now.astype(float), "fit_now": due.astype(float),
                     "n_untradeable": (now[:, None] & (target != 0) & ~ctx.tradeable[None, :]).sum(axis=1),
                     HOLD: hold})
        return np.where(hold[:, None], weights, out), diag


def _with_memory(ctx, memory: dict):
    from dataclasses import replace

    return replace(ctx, memory=memory)


def _rows(value, due: np.ndarray, b: int):
    """A wrapped Step's diagnostic value, NaN in the scenarios not fitted now (scalars as they are)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return float(arr)
    if arr.shape[0] != b:
        return arr
    mask = due.reshape((b,) + (1,) * (arr.ndim - 1))
    return np.where(mask, arr, np.nan)
