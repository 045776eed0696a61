"""Rebalancing policies: Steps at the end of a pipeline that decide *whether* to trade.

The calendar (``schedule:``) says when the pipeline runs; a policy then lets a scenario
trade to its new targets, or holds it (diagnostics key :data:`~simlab.contract.step.HOLD`,
the book stays as it is and the targets of the previous rebalance stay the reference).
With ``schedule: {frequency: daily}`` a policy makes rebalancing event-driven:

- ``drift_band``: trade only when a current weight is outside a band around its target;
- ``cooldown``: trade only when enough trading days have passed since the last rebalance;
- ``signal_change``: trade only when the signal or the weights moved enough since then;
- ``trade_threshold``: drop the trades too small to be worth making.

A scenario that has never rebalanced always trades (except for ``trade_threshold``,
which judges trades one by one). Thresholds are crossed when a value is above them by
more than :data:`TOLERANCE` (a rounding allowance); exactly at a threshold does not count.
Policies compare with ``ctx.weights``, the book's weights at the decision day's close; with
``execution.lag`` above 0 the fill happens at a later close, when weights have drifted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.contract.step import HOLD, Step, StepContext, per_scenario

TOLERANCE = 1e-9


def _column(value, n_scenarios: int) -> np.ndarray:
    return per_scenario(value, n_scenarios)[:, 0]


def _last_rebalance(ctx: StepContext) -> np.ndarray:
    """(B,) decision row of each scenario's last executed rebalance, -1 if none."""
    if ctx.last_rebalance is None:
        return np.full(ctx.n_scenarios, -1, dtype=np.int64)
    return np.asarray(ctx.last_rebalance)


def _never_rebalanced(ctx: StepContext) -> np.ndarray:
    return _last_rebalance(ctx) < 0


def _decide(weights: np.ndarray, ctx: StepContext, trade: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The targets where ``trade``, the current weights elsewhere; and the hold mask."""
    hold = ~trade
    return np.where(hold[:, None], ctx.weights, weights), hold


@register("step", "drift_band")
@dataclass(frozen=True)
class DriftBand(Step):
    """Rebalance only when some weight has drifted outside a band around its target.

    ``absolute``: the band is ``target ± band`` (weights are fractions of NAV);
    ``relative``: ``target ± band * |target|``, so an asset with a zero target breaches it
    as soon as it is held. The target is the weight this Step receives. When a band is
    breached the whole book trades to its targets; otherwise it holds.

    Diagnostics (B,): ``max_drift`` (largest absolute gap), ``breached``, ``hold``.

    Requires: weights. Provides: hold.
    """

    band: Annotated[float, Field(gt=0)] = 0.05
    mode: Literal["absolute", "relative"] = "absolute"

    def __call__(self, weights, ctx):
        band = per_scenario(self.band, ctx.n_scenarios)
        gap = np.abs(ctx.weights - weights)
        width = band if self.mode == "absolute" else band * np.abs(weights)
        breached = (gap > width + TOLERANCE).any(axis=1)
        out, hold = _decide(weights, ctx, breached | _never_rebalanced(ctx))
        return out, {HOLD: hold, "max_drift": gap.max(axis=1, initial=0.0), "breached": breached}


@register("step", "cooldown")
@dataclass(frozen=True)
class Cooldown(Step):
    """Hold until ``days`` trading days have passed since the last executed rebalance.

    Days are rows of the data's calendar between the decision row of the last rebalance
    that traded (``ctx.last_rebalance``) and today: with ``days: 5`` a book rebalanced on a
    Monday may trade again the next Monday, not before.

    Diagnostics (B,): ``days_since`` (NaN before the first rebalance), ``hold``.

    Requires: book. Provides: hold.
    """

    days: Annotated[int, Field(ge=0)] = 5

    def __call__(self, weights, ctx):
        last = _last_rebalance(ctx)
        first = last < 0
        since = np.where(first, np.nan, ctx.t - last)
        ready = first | (since >= _column(self.days, ctx.n_scenarios))
        out, hold = _decide(weights, ctx, ready)
        return out, {HOLD: hold, "days_since": since}


@register("step", "signal_change")
@dataclass(frozen=True)
class SignalChange(Step):
    """Rebalance when the signal or the weights moved enough since the last rebalance.

    Trades when some asset's signal moved by more than ``signal_threshold`` from the
    signal the last rebalance was decided on (an asset that gained or lost a finite
    signal counts as moved), or some current weight drifted by more than
    ``drift_threshold`` from that rebalance's targets; otherwise holds.

    Diagnostics (B,): ``max_signal_change`` (NaN before the first rebalance, ``inf`` when
    an asset gained or lost its signal), ``max_drift``, ``signal_trigger``,
    ``drift_trigger``, ``hold``.

    Requires: signal. Provides: hold.
    """

    signal_threshold: Annotated[float, Field(ge=0)] = 0.15
    drift_threshold: Annotated[float, Field(ge=0)] = 0.05
    requires = frozenset({"signal"})

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        now, then = ctx.signal, ctx.last_signal
        if then is None:
            then = np.full_like(now, np.nan)
        both = np.isfinite(now) & np.isfinite(then)
        either = np.isfinite(now) | np.isfinite(then)
        change = np.where(both, np.abs(np.where(both, now - then, 0.0)), np.where(either, np.inf, 0.0))
        last_targets = ctx.last_targets if ctx.last_targets is not None else np.zeros_like(weights)
        drift = np.abs(ctx.weights - last_targets)
        max_change, max_drift = change.max(axis=1, initial=0.0), drift.max(axis=1, initial=0.0)
        by_signal = max_change > _column(self.signal_threshold, b) + TOLERANCE
        by_drift = max_drift > _column(self.drift_threshold, b) + TOLERANCE
        first = _never_rebalanced(ctx)
        out, hold = _decide(weights, ctx, by_signal | by_drift | first)
        diag = {HOLD: hold, "max_signal_change": np.where(first, np.nan, max_change), "max_drift": max_drift,
                "signal_trigger": by_signal, "drift_trigger": by_drift}
        return out, diag


@register("step", "trade_threshold")
@dataclass(frozen=True)
class TradeThreshold(Step):
    """Skip per-asset trades smaller than ``min_trade`` of NAV: those assets keep their weight.

    A trade is ``|target - current weight|``; under ``min_trade`` (strictly, less the
    rounding allowance) the asset's target becomes its current weight. When every trade of
    a scenario is skipped the scenario holds, so nothing at all is sent. The kept weight is
    the decision day's; with ``execution.lag`` above 0 the engine trades back to it at the
    fill, a trade the size of one day's drift.

    Diagnostics: ``n_skipped`` and ``skipped_weight`` (B,), ``skipped`` (B, N), ``hold``.

    Requires: weights. Provides: hold.
    """

    min_trade: Annotated[float, Field(ge=0, lt=1)] = 0.005

    def __call__(self, weights, ctx):
        gap = np.abs(weights - ctx.weights)
        small = (gap + TOLERANCE < per_scenario(self.min_trade, ctx.n_scenarios)) & (gap > 0)
        out = np.where(small, ctx.weights, weights)
        hold = ~(out != ctx.weights).any(axis=1)
        diag = {HOLD: hold, "n_skipped": small.sum(axis=1), "skipped_weight": np.where(small, gap, 0.0).sum(axis=1),
                "skipped": small.astype(float)}
        return out, diag
