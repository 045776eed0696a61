"""Risk overlays: Steps that reshape the allocator's weights after sizing.

Each overlay scales or moves the weights it is given; none looks past the decision day.

- ``position_limit``: cap single names, hand the excess to the others pro rata.
- ``volatility_target``: scale the book so its ex-ante volatility meets a target.
- ``drawdown_breaker``: cut exposure in steps as the book's drawdown deepens.
- ``vix_regime``: move part of the book into defensive assets when the VIX is high.

Thresholds are crossed when a value is strictly beyond them ("past 10%", "above 25"):
exactly at a threshold nothing happens.

Volatility target, the estimate
-------------------------------
The ex-ante volatility is that of the *target* portfolio ``w`` on the trailing returns:
``sqrt(periods * w' S w)`` with ``S`` the EWMA covariance of the last ``lookback`` daily
returns (pandas ``ewm(halflife).cov()`` conventions: ``adjust=True``, bias-corrected,
weights by position). It is computed as the EWMA variance of the series ``r_t . w``,
which equals ``w' S w`` exactly and needs no (N, N) matrix. The book's own trailing
returns would describe the holdings before this rebalance (and do not exist before the
first one), so they cannot tell how risky the new targets are. Only days on which every
asset held in ``w`` has a return count ("complete rows", as ``DataFrame.cov`` would
drop); with fewer than ``min_periods`` of them the scale stays 1 and ``vol_missing`` says so.

Drawdown breaker, the re-arming rule
------------------------------------
Drawdown is ``(peak - nav) / peak`` of the book. Level k (threshold ``thresholds[k]``,
exposure ``exposures[k]``) *engages* on a day the drawdown is strictly above its threshold,
and *re-arms* (disengages) on the first later day the drawdown is at or below the
threshold minus ``hysteresis``; a new peak (drawdown 0) re-arms every level, since the
hysteresis is smaller than the first threshold. The exposure is that of the deepest
engaged level (1.0 when none is). The rule is judged on every daily close of the book's
path, not only on decision days, so the breaker's state does not depend on the schedule.

The daily path comes from ``ctx.nav_history`` (the book's NAV at each close from the
first simulated day through t) when the context carries it. Without it only today's
drawdown is known: each level is then engaged exactly while the drawdown is above its
threshold (the rule with no hysteresis), and where ``hysteresis > 0`` the diagnostics
record ``nav_history_missing``. With ``hysteresis: 0`` both readings agree.

VIX regime, missing VIX
-----------------------
The VIX is read from the macro series named by ``series`` (``data.macro: {vix:
builtin:vix}``); a run whose data lacks the series entirely is a ConfigError. Where the
series has no value (the built-in VIX spans 2014-01-03 .. 2019-01-03), ``missing``
decides. ``proxy`` (default): the level of the ``vix_threshold`` regime detector
(:mod:`simlab.risk.regime`): the VIX carried over a few holidays, else the benchmark's
21-day realized volatility in VIX points times 1.3, which needs ``data.benchmark``; the
diagnostics flag those days (``vix_proxy``). ``skip``: no signal, nothing moves that day,
and the diagnostics record ``vix_missing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from simlab.config.registry import register
from simlab.errors import ConfigError, DataError
from simlab.features.base import Feature, FeatureInputs
from simlab.contract.roles import PROXY
from simlab.contract.step import Step, StepContext, per_scenario, scenario_values, year_of
from simlab.kernels.weights import cap_and_redistribute
from simlab.risk.regime import VixThreshold

Fraction = Annotated[float, Field(gt=0, lt=1)]


def _column(value, n_scenarios: int) -> np.ndarray:
    """A scalar or (B,) field as a float (B,) array."""
    return per_scenario(value, n_scenarios)[:, 0]


def _increasing(name: str, values: tuple, strict: bool = True) -> None:
    steps = np.diff(np.asarray(values, dtype=float))
    if len(values) == 0:
        raise ValueError(f"{name} is empty; give at least one level")
    if (steps <= 0).any() if strict else (steps < 0).any():
        raise ValueError(f"{name} must be in {'strictly ' if strict else ''}increasing order; got {list(values)}")


# ---------------------------------------------------------------------------------------
# position_limit
# ---------------------------------------------------------------------------------------


@register("step", "position_limit")
@dataclass(frozen=True)
class PositionLimit(Step):
    """Cap every long position at ``max_weight``; the excess goes to uncapped names pro rata.

    Total invested weight is kept where the cap allows it; when every held name is at the
    cap, the rest goes to cash. Diagnostics: ``n_capped`` (B,) and ``capped`` (B, N), the
    names held at the cap; ``weight_moved`` (B,) one-way weight moved; ``to_cash`` (B,) the
    excess no uncapped name could take.

    Requires: weights. Provides: weights.
    """

    max_weight: Annotated[float, Field(gt=0, le=1)] = 0.25

    def __call__(self, weights, ctx):
        long = np.maximum(weights, 0.0)
        capped, hit = cap_and_redistribute(long, per_scenario(self.max_weight, ctx.n_scenarios))
        out = np.where(weights > 0, capped, weights)
        moved = np.abs(out - weights).sum(axis=1) / 2
        diag = {"n_capped": hit.sum(axis=1), "capped": hit.astype(float), "weight_moved": moved,
                "to_cash": long.sum(axis=1) - capped.sum(axis=1)}
        return out, diag


# ---------------------------------------------------------------------------------------
# volatility_target
# ---------------------------------------------------------------------------------------


def ewma_portfolio_variance(
    returns: np.ndarray, weights: np.ndarray, halflife: np.ndarray, lookback: np.ndarray,
    min_periods: np.ndarray,
) -> np.ndarray:
    """(B,) daily EWMA variance of each portfolio's return series on trailing ``returns``.

    Batched equivalent of ``pd.Series(returns[-lookback:] @ w).ewm(halflife=halflife,
    min_periods=min_periods).var().iloc[-1]`` per scenario, where rows with a NaN return in
    an asset the portfolio holds are left out (NaN in the series; weights stay by position).
    Equals ``w @ S @ w`` for ``S`` the matching ``DataFrame.ewm(...).cov()`` on complete rows.

    Parameters
    ----------
    returns : (L, N) trailing daily returns, the last row the decision day.
    weights : (B, N) portfolio weights.
    halflife, lookback, min_periods : (B,) per-scenario settings (``lookback <= L``).

    Returns
    -------
    (B,) variance; NaN where fewer than ``min_periods`` rows count.
    """
    n_rows = returns.shape[0]
    age = np.arange(n_rows - 1, -1, -1, dtype=float)[:, None]  # (L, 1), 0 on the decision day
    missing = ~np.isfinite(returns)
    held = weights != 0
    complete = (missing.astype(float) @ held.T.astype(float)) == 0  # (L, B)
    present = complete & (age < lookback[None, :])
    x = np.where(missing, 0.0, returns) @ weights.T  # (L, B)
    decay = 1.0 - np.exp(-np.log(2.0) / halflife)  # pandas' alpha for a halflife
    v = np.where(present, (1.0 - decay[None, :]) ** age, 0.0)
    s1, s2 = v.sum(axis=0), (v * v).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (v * x).sum(axis=0) / s1
        biased = (v * (x - mean) ** 2).sum(axis=0) / s1
        var = biased * s1 * s1 / (s1 * s1 - s2)
    enough = (present.sum(axis=0) >= np.maximum(min_periods, 2)) & (s1 * s1 - s2 > 0)
    return np.where(enough, np.maximum(var, 0.0), np.nan)


LEVER_TOL = 1e-9  # a book at its limit to round-off is within it


def leverage_cap(scale: np.ndarray, weights: np.ndarray, leverage: float | None, margin: float | None):
    """(B,) ``scale`` cut so that ``sum(w) * scale <= leverage`` (None: no such limit, a
    futures book) and, with a margin, ``sum |w| * scale <= 1 / margin``; and (B,) bool where
    it was cut.

    A scale at or below 1 is never cut (the book it scales was already allowed), nor is
    one within ``LEVER_TOL`` of the limit.
    """
    net = weights.sum(axis=1)
    gross = np.abs(weights).sum(axis=1)
    limit = np.full(len(scale), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        if leverage is not None:
            limit = np.where(net > 0, leverage / net, limit)
        if margin is not None:
            limit = np.minimum(limit, np.where(gross > 0, 1.0 / (margin * gross), np.inf))
    cut = (scale > 1.0) & (scale > limit * (1.0 + LEVER_TOL))
    return np.where(cut, np.maximum(limit, 1.0), scale), cut


@register("step", "volatility_target")
@dataclass(frozen=True)
class VolatilityTarget(Step):
    """Scale the whole book so its ex-ante annual volatility is ``target``.

    ``scale = clip(target / vol, min_scale, max_scale)`` multiplies every weight; the rest
    is cash (scale < 1) or borrowed (scale > 1). ``max_gross``, when set, caps the sum
    of absolute weights after scaling. ``vol`` is the EWMA estimate of the module
    docstring over ``lookback`` days with ``halflife``, annualized by ``periods`` daily
    returns a year (default: the data's calendar, 252 or 365 on ``data.calendar: every_day``).

    A scale above 1 levers the book up to what the experiment allows, and no further:
    the net weight ``sum(w) * scale`` may reach ``execution.leverage`` (cash down to
    ``-(leverage - 1)`` NAV; not for a book with futures, whose notional needs only their
    margin, checked at the fill) and, with ``execution.margin``, the gross
    ``sum |w| * scale`` may reach ``1 / margin``. The scale is cut to the tighter of the two here, so the
    book keeps its shape (rather than the fill cutting only the buys to the cash at hand);
    ``leverage_capped`` says where. With ``execution.leverage: 1`` a long-only book
    therefore never scales above 1.

    The design documents' clamp as written, "volatility target clamp 0.25-1.50", is the
    default (``min_scale: 0.25``, ``max_scale: 1.5``; the preset ``rules: as_written``
    sets both). Configs that place this Step after a constraint manager use
    ``max_scale: 1.0`` so that it only takes risk off, never scaling a book the manager
    cut back up past its limits.

    Diagnostics (B,): ``volatility`` (annualized, NaN where unknown), ``scale``,
    ``clamped`` (+1 at ``max_scale``, -1 at ``min_scale``, 0 inside), ``vol_missing``,
    ``leverage_capped`` (1 where the experiment's leverage or margin cut the scale).

    Requires: returns. Provides: weights.
    """

    target: Annotated[float, Field(gt=0)] = 0.15
    halflife: Annotated[float, Field(gt=0)] = 20.0
    lookback: Annotated[int, Field(ge=2)] = 60
    min_periods: Annotated[int, Field(ge=2)] = 20
    min_scale: Annotated[float, Field(ge=0)] = 0.25
    max_scale: Annotated[float, Field(gt=0)] = 1.5
    max_gross: Annotated[float, Field(gt=0)] | None = None
    periods: Annotated[int, Field(ge=1)] | None = None
    rules: Literal["simlab", "as_written"] = "simlab"

    def __post_init__(self):
        if self.rules == "as_written":
            object.__setattr__(self, "min_scale", 0.25)
            object.__setattr__(self, "max_scale", 1.5)
        if np.any(np.asarray(self.min_scale) > np.asarray(self.max_scale)):
            raise ValueError(f"min_scale ({self.min_scale}) must not exceed max_scale ({self.max_scale})")
        if np.any(np.asarray(self.min_periods) > np.asarray(self.lookback)):
            raise ValueError(f"min_periods ({self.min_periods}) must not exceed lookback ({self.lookback})")

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        lookback = _column(self.lookback, b)
        returns = ctx.view.history("returns", int(lookback.max()))
        var = ewma_portfolio_variance(returns, weights, _column(self.halflife, b), lookback,
                                      _column(self.min_periods, b))
        vol = np.sqrt(var * year_of(self.periods, ctx)[:, 0])
        known = np.isfinite(vol) & (vol > 0)
        lo, hi = _column(self.min_scale, b), _column(self.max_scale, b)
        raw = np.divide(_column(self.target, b), vol, out=np.ones(b), where=known)
        scale = np.clip(raw, lo, hi)
        clamped = np.where(known & (raw > hi), 1.0, np.where(known & (raw < lo), -1.0, 0.0))
        scale, capped = leverage_cap(scale, weights, ctx.leverage, ctx.margin)
        out = weights * scale[:, None]
        if self.max_gross is not None:
            gross = np.abs(out).sum(axis=1)
            cap = _column(self.max_gross, b)
            out = out * np.minimum(1.0, np.divide(cap, gross, out=np.ones(b), where=gross > cap))[:, None]
        diag = {"volatility": vol, "scale": scale, "clamped": clamped, "vol_missing": ~known & weights.any(axis=1),
                "leverage_capped": capped.astype(float)}
        return out, diag


# ---------------------------------------------------------------------------------------
# drawdown_breaker
# ---------------------------------------------------------------------------------------


def drawdown_path(nav_history: np.ndarray, peak_now: np.ndarray) -> np.ndarray:
    """(P, B) drawdown ``(peak - nav) / peak`` along a NAV path (P, B).

    The running peak starts from ``peak_now`` when that is above every NAV of the path
    (the peak was set before it: the starting cash), else from the path's first NAV.
    """
    seed = np.where(peak_now > nav_history.max(axis=0), peak_now, nav_history[0])
    peak = np.maximum.accumulate(np.vstack([seed, nav_history]), axis=0)[1:]
    return (peak - nav_history) / peak


def breaker_levels(drawdown: np.ndarray, thresholds: np.ndarray, hysteresis: np.ndarray) -> np.ndarray:
    """(B,) deepest engaged level (0: none) at the last row of a (P, B) drawdown path.

    Level k is engaged when its last breach (drawdown > ``thresholds[k]``) is later than
    its last re-arm (drawdown <= ``thresholds[k] - hysteresis``); the levels are nested,
    so the deepest engaged one is the number engaged. Before the path, none is engaged.
    This is the state machine "engage past the threshold, re-arm at or below threshold
    minus hysteresis" run day by day, written without a loop over days.
    """
    thr = np.asarray(thresholds, dtype=float)[None, None, :]
    dd = drawdown[:, :, None]
    breach = dd > thr
    rearm = dd <= thr - np.asarray(hysteresis, dtype=float)[None, :, None]
    return (_last_true(breach) > _last_true(rearm)).sum(axis=-1)


def _last_true(mask: np.ndarray) -> np.ndarray:
    """Index of the last True along axis 0, -1 where none."""
    n = mask.shape[0]
    last = n - 1 - np.argmax(mask[::-1], axis=0)
    return np.where(mask.any(axis=0), last, -1)


@register("step", "drawdown_breaker")
@dataclass(frozen=True)
class DrawdownBreaker(Step):
    """Cut exposure in steps as the book falls from its peak NAV (re-arming rule above).

    Past ``thresholds[k]`` of drawdown every weight is multiplied by ``exposures[k]``
    (defaults: 75% past 10%, 50% past 20%, 25% past 30%); the rest is cash. A level
    re-arms once the drawdown is back at or below its threshold minus ``hysteresis``.

    The design documents' rule as written, "10% DD -> 75% exposure" (20% -> 50%, 30% ->
    25%), holds exposure exactly while the drawdown is past each threshold: that is
    ``hysteresis: 0`` (or the preset ``rules: as_written``, which sets it). The default
    0.05 keeps a breaker that tripped at 10% engaged until the drawdown is back to 5%:
    without it a book hovering at 10% drawdown flips between 100% and 75% invested from
    one rebalance to the next, paying costs for noise.

    Diagnostics (B,): ``drawdown`` (today's), ``level`` (0 none, k the k-th threshold),
    ``exposure``, and ``nav_history_missing`` where the hysteresis could not be applied.

    Requires: book. Provides: weights.
    """

    thresholds: tuple[Fraction, ...] = (0.10, 0.20, 0.30)
    exposures: tuple[Annotated[float, Field(ge=0, le=1)], ...] = (0.75, 0.50, 0.25)
    hysteresis: Annotated[float, Field(ge=0, lt=1)] = 0.05
    rules: Literal["simlab", "as_written"] = "simlab"

    requires = frozenset({"nav_history"})

    def __post_init__(self):
        if self.rules == "as_written":
            object.__setattr__(self, "hysteresis", 0.0)
        _increasing("thresholds", self.thresholds)
        if len(self.exposures) != len(self.thresholds):
            raise ValueError(f"exposures lists {len(self.exposures)} values for {len(self.thresholds)} thresholds")
        _increasing("exposures (reversed)", tuple(reversed(self.exposures)), strict=False)
        if np.any(np.asarray(self.hysteresis) >= self.thresholds[0]):
            raise ValueError(f"hysteresis ({self.hysteresis}) must be below the first threshold "
                             f"({self.thresholds[0]}) so that a new peak re-arms the breaker")

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        hysteresis = _column(self.hysteresis, b)
        today = (ctx.peak_nav - ctx.nav) / ctx.peak_nav
        history = ctx.nav_history
        if history is None:
            level = breaker_levels(today[None, :], self.thresholds, np.zeros(b))
            missing = hysteresis > 0
        else:
            level = breaker_levels(drawdown_path(np.asarray(history, dtype=float), ctx.peak_nav),
                                   self.thresholds, hysteresis)
            missing = np.zeros(b, dtype=bool)
        exposure = np.r_[1.0, np.asarray(self.exposures, dtype=float)][level]
        diag = {"drawdown": today, "level": level, "exposure": exposure, "nav_history_missing": missing}
        return weights * exposure[:, None], diag


# ---------------------------------------------------------------------------------------
# vix_regime
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VixLevel(Feature):
    """(R, 2) on each decision row: the VIX level and 1.0 where it is the proxy.

    ``series`` names the macro series (``data.macro``); a series the data lacks is a
    ConfigError. With ``proxy`` a missing value takes the ``vix_threshold`` detector's
    level (VIX carried over holidays, else scaled realized volatility of the benchmark);
    without it a missing value stays NaN.
    """

    series: str = "vix"
    proxy: bool = True

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        """Level and proxy flag at ``rows``."""
        if self.series not in inputs.macro:
            have = ", ".join(sorted(inputs.macro)) or "none"
            raise ConfigError(
                f"macro series {self.series!r} is not in the data (it has: {have}); add it under "
                f"data.macro, for example `macro: {{{self.series}: builtin:vix}}`"
            )
        if not self.proxy:
            level = np.asarray(inputs.macro[self.series], dtype=float)
            return np.column_stack([level[rows], np.zeros(len(rows))])
        try:
            _, level, used = VixThreshold(series=self.series).statistic(inputs)
        except DataError as err:
            err.add_note("while computing vix_regime's VIX proxy; `missing: skip` does without it")
            raise
        return np.column_stack([level[rows], used[rows].astype(float)])


@register("step", "vix_regime")
@dataclass(frozen=True)
class VixRegime(Step):
    """Move part of the book into defensive assets when the VIX is high.

    Above ``thresholds[k]`` (defaults 25 and 30), ``fractions[k]`` of the invested weight
    (defaults 25% and 50%) moves out of the non-defensive long positions, pro rata (at most
    all of them), into the defensive assets, split equally. Defensive assets are ``assets``
    when given, else the universe's ``defensive`` column. A defensive asset not in the data,
    or without a price on the decision day, is skipped: the others share its part. With no
    defensive asset left, ``when_none`` decides: ``cash`` (the moved weight goes to cash)
    or ``keep`` (nothing moves). ``missing`` (``proxy`` or ``skip``) decides what a day
    without a VIX value uses (module docstring).

    Diagnostics: ``vix``, ``level``, ``moved`` (weight moved), ``vix_proxy``, ``vix_missing``,
    ``n_defensive`` (defensive assets used), ``no_defensive`` (a move was called for and
    none was usable), all (B,); ``defensive_skipped`` (B, N) untradeable defensive assets
    on the day; and ``absent_defensive.NAME`` = 1 for each named asset not in the data.

    Requires: macro series ``series``; universe metadata or ``assets``. Provides: weights.
    """

    diagnostic_roles = {"vix_proxy": PROXY}

    thresholds: tuple[Annotated[float, Field(gt=0)], ...] = (25.0, 30.0)
    fractions: tuple[Annotated[float, Field(gt=0, le=1)], ...] = (0.25, 0.50)
    series: str = "vix"
    assets: tuple[str, ...] | None = None
    when_none: Literal["cash", "keep"] = "cash"
    missing: Literal["proxy", "skip"] = "proxy"

    def __post_init__(self):
        _increasing("thresholds", self.thresholds)
        if len(self.fractions) != len(self.thresholds):
            raise ValueError(f"fractions lists {len(self.fractions)} values for {len(self.thresholds)} thresholds")
        _increasing("fractions", self.fractions, strict=False)

    def features(self, n_scenarios):
        proxy = self.missing == "proxy"
        return {"vix": [VixLevel(v, proxy) for v in scenario_values(self.series, n_scenarios)]}

    def __call__(self, weights, ctx):
        feature = np.asarray(ctx.feature("vix"), dtype=float)
        vix, proxy = feature[:, 0], feature[:, 1] > 0
        known = np.isfinite(vix)
        level = np.where(known, (np.where(known, vix, 0.0)[:, None] > np.asarray(self.thresholds)).sum(axis=1), 0)
        fraction = np.r_[0.0, np.asarray(self.fractions, dtype=float)][level]
        defensive, absent = self._defensive(ctx)
        usable = defensive & ctx.tradeable
        out, moved, none = _shift(weights, usable, fraction, self.when_none == "cash")
        diag = {"vix": vix, "level": level, "moved": moved, "vix_proxy": proxy, "vix_missing": ~known,
                "n_defensive": np.full(len(vix), usable.sum(), dtype=float), "no_defensive": none,
                "defensive_skipped": np.broadcast_to(defensive & ~ctx.tradeable, weights.shape).astype(float)}
        diag.update({f"absent_defensive.{name}": 1.0 for name in absent})
        return out, diag

    def _defensive(self, ctx: StepContext) -> tuple[np.ndarray, list[str]]:
        """(N,) bool defensive mask over ``ctx.assets`` and the named assets not in the data."""
        if self.assets is not None:
            names = list(self.assets)
        elif ctx.meta is not None and "defensive" in ctx.meta:
            flags = np.asarray(ctx.meta["defensive"].astype("boolean").fillna(False), dtype=bool)
            names = list(ctx.meta.index[flags])
        else:
            names = []
        index = pd.Index(ctx.assets)
        return index.isin(names), [n for n in names if n not in index]


def _shift(weights: np.ndarray, usable: np.ndarray, fraction: np.ndarray, to_cash: bool):
    """Move ``fraction`` (B,) of the invested weight from non-defensive longs to ``usable`` (N,).

    Returns the new weights, the weight moved (B,), and where no defensive asset could
    take it (B,) bool.
    """
    long = np.maximum(weights, 0.0)
    source = np.where(usable[None, :], 0.0, long)
    available = source.sum(axis=1)
    want = np.minimum(fraction * long.sum(axis=1), available)
    none = (want > 0) & ~usable.any()
    if none.any() and not to_cash:
        want = np.where(none, 0.0, want)
    cut = source * np.divide(want, available, out=np.zeros_like(want), where=available > 0)[:, None]
    out = weights - cut
    if usable.any():
        out = out + want[:, None] * (usable / usable.sum())[None, :]
    return out, want, none
