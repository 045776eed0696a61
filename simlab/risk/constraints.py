"""Regime-conditioned constraints with continuous backoff: the ``regime_constraints`` Step.

Limits
    Base limits (single name 10%, sector 40%, pairwise correlation 0.85 with a cluster cap
    of 40%, gross exposure 100%, turnover 500% a year) times a multiplier per regime
    (stress by default: sector 0.6, correlation 0.7, gross 0.8, turnover 0.5), and bands for
    the portfolio's beta and volatility exposure per regime (normal 0.8-1.2 both; stress
    beta 0.9-1.1, volatility 0.5-1.0). ``multipliers``, ``beta`` and ``volatility`` are keyed
    by ``normal``, ``stress`` or a label number (which wins over its state).
Smoothing
    The regime path is daily, so multipliers and bands are smoothed daily, before any
    decision reads them: ``m[t] = m[t-1] + smoothing * (target[t] - m[t-1])`` from
    ``m[0] = target[0]``, each day's target being the values of that day's label.
    ``smoothing: 1`` is the step change; 0.3 closes 30% of the gap per trading day.
Constraints, each with a measure, a limit and a utilization (measure / limit)
    ``single_name``  |w_i| against the cap, per asset;
    ``sector``       total |w| per sector (the universe's ``sector`` column);
    ``correlation``  assets whose trailing correlation (``correlation_window`` days,
                     regime-conditional by default: estimated on the window's days in the
                     same normal/stress state as t, unconditional when fewer than 50) is at
                     or above the (multiplied) limit form clusters (average linkage on
                     1 - correlation by default; ``single`` is connected components); a
                     cluster's total |w| against ``max_cluster``; lone assets form none;
    ``gross``        sum |w|;
    ``beta``, ``volatility``
                     exposures of the invested sleeve (weights over their gross, so they
                     describe what is held, not how much): beta = sum of weight times the
                     asset's trailing regression beta on the benchmark (an unknown beta
                     counts as 1); volatility = the sleeve's volatility over the
                     benchmark's, both over ``volatility_window`` days. A band's
                     utilization is the distance from its middle over its half-width (1 at
                     either edge);
    ``turnover``     one-way turnover sum |w - w_held| / 2 against the per-rebalance budget
                     ``max_turnover * multiplier / rebalances_per_year``.
    Size, value and momentum exposures are reported, not constrained (see
    :class:`simlab.risk.exposures.StyleScores` for the proxies).
Order of operations at a decision
    1. Every constraint is evaluated on the proposed weights.
    2. Backoff: each constraint in ``backoff_on`` turns its utilization into a factor
       (:mod:`simlab.risk.backoff`) for the positions that drive it (the asset; its
       sector's or cluster's members; every position for gross; for a band, the positions
       whose own exposure lies beyond the sleeve's on the side it leans to); factors of
       several constraints multiply. ``gross`` is left out by default: a fully invested
       long-only book sits at 100% of a 100% gross limit by construction, and the curve
       would cut it to a quarter; gross is a hard cap (step 3) unless listed.
    3. Projection: constraints still violated are restored exactly by scaling their
       drivers down, in rounds, until none is (recorded as ``projected``). A beta or
       volatility band that no scaling of the held names can reach (every held name on the
       wrong side of it, or the two bands pulling against each other) is left violated and
       flagged ``band_unreachable``; with ``unreachable_band: cash`` the book goes to cash
       instead (``fallback_cash``). Emptying a book because its beta is *too low* is rarely
       what a risk manager means, hence the default. Caps always end satisfied.
    4. Turnover: the held book is first brought inside the limits the same way (that trade
       is *forced* and not charged to the budget); the trade from there to the target is
       scaled by the turnover backoff factor and, if still over budget, moved only part of
       the way. The first rebalance of a book (building it from cash) is exempt by default
       (``first_rebalance_free``).
    5. A last projection catches what the partial move could break.
    After the Step every cap holds, the turnover (net of forced trades) is within its
    budget, and every band holds unless flagged ``band_unreachable`` (with
    ``unreachable_band: cash``, unconditionally). ``max_final_util`` records the largest
    utilization left.

The design documents' rules, as written (``rules: as_written``)
    The preset sets four fields to the documents' rules; the defaults are simlab's safer
    variants. Each is also a field of its own:

    ``backoff_mode: table``, ``backoff`` = :data:`~simlab.risk.backoff.AS_WRITTEN_TABLE`
        "backoff_factors: [0.9, 0.7, 0.5, 0.25] applied when utilization crosses [70%,
        80%, 90%, 95%]; factors of several constraints multiply". A step table (their
        example "0.92 -> 0.25x" contradicts the table, which gives 0.5x; the table wins).
        Default: the piecewise-linear curve, which does not turn a 0.2-point move in an
        estimated utilization into a 22% trade.
    ``backoff_on`` every constraint, gross included
        "if any constraint utilization > 70%, call size_with_backoff()". Default: gross
        left out, because a fully invested long-only book sits at 100% of a 100% gross
        limit by construction and the rule would hold it at 25% invested forever.
    ``correlation_check: pairwise``
        "applied element-wise: if any pair exceeds limit, fail check". Default:
        ``cluster``, a cap on the weight of each correlated cluster: two names at 0.90
        may both be held, in small size, where the pairwise rule must drop one.
    ``band_regime: true``
        "do not use global covariance when regime-conditional matrices exist": beta,
        the sleeve's covariance and the benchmark's volatility are estimated on the
        window's days in the decision day's regime (unconditional with fewer than 50).
        Default: unconditional, as a stress regime of a few weeks leaves too few days
        for a beta that does not swing from one month to the next.

Diagnostics (flat, one value per scenario unless noted): ``regime`` (label), ``stress``,
``regime_score`` (the detector's statistic: VIX or its proxy, percentile, deviation,
probability), ``regime_proxy`` (the decision day's label used the VIX proxy),
``proxy_days`` (how many of the 21 days to t did), ``multiplier_<name>`` for
``MULTIPLIED``, ``beta_lo``/``beta_hi``/``volatility_lo``/``volatility_hi`` (smoothed
bands); for each of ``CHECKED``, ``util_<name>`` (of the proposal) and ``factor_<name>``
(the smallest backoff factor it applied; 1 untouched); ``max_final_util``, ``projected``,
``band_unreachable``, ``fallback_cash``, ``turnover``, ``turnover_budget``, ``turnover_forced``,
``trade_fraction``, ``beta``, ``volatility_exposure`` (of the final weights),
``exposure_size``/``exposure_value``/``exposure_momentum``, ``n_clusters``,
``correlation_fallback`` (the conditional correlation fell back to unconditional),
``gross_out``; and ``scale`` (B, N), each position's final over proposed weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from simlab.config.registry import register
from simlab.errors import ConfigError
from simlab.features.covariance import Covariance, RegimeFallback
from simlab.contract.roles import FALLBACK, PROXY, UTILIZATION
from simlab.contract.step import Step, StepContext, per_scenario, scenario_values
from simlab.risk.backoff import AS_WRITTEN_TABLE, DEFAULT_BREAKPOINTS, BackoffCurve, check_breakpoints
from simlab.risk.constraint_set import Check, ConstraintSet, Limits, RiskModel, one_way, turnover_move
from simlab.risk.exposures import BenchmarkVolatility, MarketBeta, StyleScores
from simlab.risk.regime import (
    MAX_LABELS,
    REGIME_COLUMNS,
    Detector,
    RegimeLimits,
    RegimeState,
    detector_config,
    parse_detector,
)

TRADING_DAYS = 252
MULTIPLIED = ("single_name", "sector", "correlation", "cluster", "gross", "turnover")
BANDS = ("beta", "volatility")
CHECKED = ("single_name", "sector", "correlation", "gross", "beta", "volatility", "turnover")
LIMIT_COLUMNS = MULTIPLIED + ("beta_lo", "beta_hi", "volatility_lo", "volatility_hi")
DEFAULT_MULTIPLIERS = {
    "normal": {},
    "stress": {"sector": 0.6, "correlation": 0.7, "gross": 0.8, "turnover": 0.5},
}
DEFAULT_BETA = {"normal": [0.8, 1.2], "stress": [0.9, 1.1]}
DEFAULT_VOLATILITY = {"normal": [0.8, 1.2], "stress": [0.5, 1.0]}


# ---------------------------------------------------------------------------- config values


def _fail(message: str):
    return PydanticCustomError("config", message)


def _regime_key(key: Any, where: str) -> str:
    text = str(key)
    if text in ("normal", "stress") or (text.isdigit() and int(text) < MAX_LABELS):
        return text
    raise _fail(f"unknown regime {key!r}{where}; use normal, stress or a label 0..{MAX_LABELS - 1}")


def _check_regime(value: Any) -> dict:
    try:
        return detector_config(value, "")
    except ConfigError as err:
        raise _fail(str(err)) from None


def _check_multipliers(value: Any) -> dict:
    if not isinstance(value, dict):
        raise _fail("expected {regime: {constraint: multiplier}}")
    out = {"normal": dict.fromkeys(MULTIPLIED, 1.0), "stress": dict.fromkeys(MULTIPLIED, 1.0)}
    for key, table in value.items():
        regime = _regime_key(key, "")
        if not isinstance(table, dict):
            raise _fail(f"{regime}: expected {{constraint: multiplier}}; got {table!r}")
        row = out.setdefault(regime, dict.fromkeys(MULTIPLIED, 1.0))
        for name, m in table.items():
            if name not in MULTIPLIED:
                raise _fail(f"{regime}.{name}: unknown constraint; valid: {', '.join(MULTIPLIED)}")
            if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m < np.inf:
                raise _fail(f"{regime}.{name}: must be a number > 0; got {m!r}")
            row[name] = float(m)
    return out


def _check_band(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail("expected {regime: [low, high]} or null")
    out = {}
    for key, band in value.items():
        regime = _regime_key(key, "")
        try:
            lo, hi = (float(v) for v in band)
        except (TypeError, ValueError):
            raise _fail(f"{regime}: expected [low, high]; got {band!r}") from None
        if not 0 <= lo < hi:
            raise _fail(f"{regime}: expected 0 <= low < high; got [{lo}, {hi}]")
        out[regime] = [lo, hi]
    for state in ("normal", "stress"):
        if state not in out:
            raise _fail(f"needs a band for {state!r}; got bands for {sorted(out)}")
    return out


def _check_backoff_on(value: Any) -> list:
    names = list(value) if isinstance(value, (list, tuple)) else None
    if names is None or any(n not in CHECKED for n in names):
        raise _fail(f"expected a list of constraints from {', '.join(CHECKED)}")
    return [n for n in CHECKED if n in names]


def _check_backoff(value: Any) -> list:
    try:
        return check_breakpoints(value, "breakpoints")
    except ConfigError as err:
        raise _fail(str(err)) from None


RegimeSpec = Annotated[dict, AfterValidator(_check_regime)]
MultiplierSpec = Annotated[dict, AfterValidator(_check_multipliers)]
BandSpec = Annotated[dict | None, AfterValidator(_check_band)]
BackoffSpec = Annotated[list, AfterValidator(_check_backoff)]
BackoffOnSpec = Annotated[list, AfterValidator(_check_backoff_on)]
DEFAULT_BACKOFF_ON = [name for name in CHECKED if name != "gross"]


# ---------------------------------------------------------------------------- the Step


def _default_regime() -> dict:
    return detector_config({"type": "vix_threshold"})


@register("step", "regime_constraints")
@dataclass(frozen=True)
class RegimeConstraints(Step):
    """Regime-conditioned limits with continuous backoff, then an exact projection onto them.

    Fields: ``regime`` (a detector, see :mod:`simlab.risk.regime`); base limits
    ``max_weight``, ``max_sector``, ``max_correlation`` (pairwise, defines clusters),
    ``max_cluster`` (a cluster's total weight), ``max_gross``, ``max_turnover`` (annual,
    one-way) spread over ``rebalances_per_year``; ``multipliers``, ``beta`` and
    ``volatility`` bands per regime; ``smoothing`` (alpha per trading day); ``backoff``
    breakpoints and the constraints they apply to (``backoff_on``); estimation windows;
    ``linkage`` of the correlation clusters; ``unreachable_band`` (``keep`` or ``cash``);
    ``backoff_mode`` (``curve`` or ``table``), ``correlation_check`` (``cluster`` or
    ``pairwise``), ``band_regime`` and the preset ``rules`` (``simlab`` or ``as_written``,
    which sets the four to the design documents' rules and overrides them).
    See the module docstring for the procedure, the rules as written and the diagnostics.

    Requires: weights, prices, the benchmark (for the bands). Provides: weights.
    """

    diagnostic_roles = {"util_*": UTILIZATION, "fallback_cash": FALLBACK, "correlation_fallback": FALLBACK,
                        "regime_proxy": PROXY}

    regime: RegimeSpec = field(default_factory=_default_regime)
    max_weight: Annotated[float, Field(gt=0, le=1)] = 0.10
    max_sector: Annotated[float, Field(gt=0, le=1)] = 0.40
    max_correlation: Annotated[float, Field(gt=-1, le=1)] = 0.85
    max_cluster: Annotated[float, Field(gt=0, le=1)] = 0.40
    max_gross: Annotated[float, Field(gt=0)] = 1.0
    max_turnover: Annotated[float, Field(gt=0)] = 5.0
    rebalances_per_year: Annotated[float, Field(gt=0)] = 12.0
    first_rebalance_free: bool = True
    multipliers: MultiplierSpec = field(default_factory=lambda: _check_multipliers(DEFAULT_MULTIPLIERS))
    beta: BandSpec = field(default_factory=lambda: _check_band(DEFAULT_BETA))
    volatility: BandSpec = field(default_factory=lambda: _check_band(DEFAULT_VOLATILITY))
    smoothing: Annotated[float, Field(gt=0, le=1)] = 0.3
    backoff: BackoffSpec = field(default_factory=lambda: [list(p) for p in DEFAULT_BREAKPOINTS])
    backoff_on: BackoffOnSpec = field(default_factory=lambda: list(DEFAULT_BACKOFF_ON))
    beta_window: Annotated[int, Field(ge=20)] = TRADING_DAYS
    volatility_window: Annotated[int, Field(ge=20)] = 63
    correlation_window: Annotated[int, Field(ge=20)] = 252
    correlation_regime: bool = True
    linkage: Literal["single", "average", "complete"] = "average"
    unreachable_band: Literal["keep", "cash"] = "keep"
    backoff_mode: Literal["curve", "table"] = "curve"
    correlation_check: Literal["cluster", "pairwise"] = "cluster"
    band_regime: bool = False
    rules: Literal["simlab", "as_written"] = "simlab"

    def __post_init__(self):
        if self.rules == "as_written":
            object.__setattr__(self, "backoff", [list(p) for p in AS_WRITTEN_TABLE])
            object.__setattr__(self, "backoff_mode", "table")
            object.__setattr__(self, "backoff_on", list(CHECKED))
            object.__setattr__(self, "correlation_check", "pairwise")
            object.__setattr__(self, "band_regime", True)
        if self.correlation_check == "pairwise" and np.any(np.asarray(self.max_correlation) <= 0):
            raise ValueError(f"correlation_check: pairwise needs max_correlation > 0; got {self.max_correlation}")

    # -- configuration helpers

    @property
    def detector(self) -> Detector:
        """The regime detector this Step reads."""
        return parse_detector(self.regime)

    @property
    def curve(self) -> BackoffCurve:
        """The backoff curve."""
        return BackoffCurve.from_pairs(self.backoff, self.backoff_mode)

    def limit_table(self) -> tuple[tuple[float, ...], ...]:
        """(K, P) multipliers and band edges (``LIMIT_COLUMNS``) for each label 0..K-1."""
        det = self.detector
        rows = []
        for label in range(det.n_labels):
            state = "stress" if label >= det.stress_from else "normal"
            mult = self.multipliers.get(str(label), self.multipliers[state])
            row = [mult[name] for name in MULTIPLIED]
            for band in (self.beta, self.volatility):
                row += [np.nan, np.nan] if band is None else list(band.get(str(label), band[state]))
            rows.append(tuple(float(v) for v in row))
        return tuple(rows)

    def state_limits(self, state: str, n_scenarios: int = 1) -> Limits:
        """Unsmoothed limits of ``normal`` or ``stress`` (its first label), for replay."""
        det = self.detector
        label = det.stress_from if state == "stress" else 0
        values = np.broadcast_to(np.asarray(self.limit_table()[label]), (n_scenarios, len(LIMIT_COLUMNS)))
        return self.limits_from(values, n_scenarios)

    def features(self, n_scenarios: int) -> dict[str, list]:
        det, table = self.detector, self.limit_table()
        vol_windows = scenario_values(self.volatility_window, n_scenarios)
        state = RegimeState(det) if self.correlation_regime else None
        correlation = [Covariance("sample", int(w), regime=state)
                       for w in scenario_values(self.correlation_window, n_scenarios)]
        out = {
            "regime": [RegimeLimits(det, table, float(a)) for a in scenario_values(self.smoothing, n_scenarios)],
            "correlation": correlation,
            "correlation_fallback": [RegimeFallback(c) for c in correlation],
        }
        band_state = RegimeState(det) if self.band_regime else None
        if self.beta is not None:
            out["beta"] = [MarketBeta(int(w), regime=band_state)
                           for w in scenario_values(self.beta_window, n_scenarios)]
        if self.volatility is not None:
            out["covariance"] = [Covariance("sample", int(w), regime=band_state) for w in vol_windows]
            out["benchmark_vol"] = [BenchmarkVolatility(int(w), regime=band_state) for w in vol_windows]
        out["styles"] = [StyleScores()] * n_scenarios
        return out

    def limits_from(self, values: np.ndarray, n_scenarios: int) -> Limits:
        """Limits (B,) from multipliers and band edges (B, P) in ``LIMIT_COLUMNS`` order."""
        col = {name: values[:, i] for i, name in enumerate(LIMIT_COLUMNS)}

        def base(v):
            return per_scenario(v, n_scenarios)[:, 0]

        return Limits(
            single_name=base(self.max_weight) * col["single_name"],
            sector=base(self.max_sector) * col["sector"],
            correlation=base(self.max_correlation) * col["correlation"],
            cluster=base(self.max_cluster) * col["cluster"],
            gross=base(self.max_gross) * col["gross"],
            turnover=base(self.max_turnover) * col["turnover"] / base(self.rebalances_per_year),
            beta=np.column_stack([col["beta_lo"], col["beta_hi"]]),
            volatility=np.column_stack([col["volatility_lo"], col["volatility_hi"]]),
        )

    def risk_model(self, ctx: StepContext) -> RiskModel:
        """Sectors from ``ctx.meta`` and the declared risk features at the decision."""
        return self.risk_model_from(ctx.assets, ctx.meta, ctx.features)

    def risk_model_from(self, assets, meta, features) -> RiskModel:
        """A RiskModel from asset names, metadata and feature stacks (name -> (B, ...))."""
        n = len(assets)
        sector, names = sector_index(assets, meta)

        def shared(name, missing):
            return _shared(features[name]) if name in features else missing

        return RiskModel(
            assets=tuple(assets), sector=sector, sector_names=names,
            correlation=_correlation(_shared(features["correlation"])),
            beta=shared("beta", np.full(n, np.nan)),
            covariance=shared("covariance", np.full((n, n), np.nan)),
            benchmark_vol=shared("benchmark_vol", np.nan),
            linkage=self.linkage,
        )

    def __call__(self, weights, ctx):
        decision = self.decide(weights, ctx)
        diag = decision.diagnostics(self.backoff_on, ctx.feature("styles"))
        diag["correlation_fallback"] = np.asarray(ctx.feature("correlation_fallback"), dtype=float)
        return decision.weights, diag

    def decide(self, weights: np.ndarray, ctx: StepContext) -> Decision:
        """Run the procedure of the module docstring on (B, N) ``weights``."""
        b = ctx.n_scenarios
        regime = np.asarray(ctx.feature("regime"), dtype=float)
        limits = self.limits_from(regime[:, len(REGIME_COLUMNS):], b)
        cs = ConstraintSet(limits, self.risk_model(ctx), self.curve, self.unreachable_band, self.correlation_check)
        proposal = np.asarray(weights, dtype=float)
        before = cs.check(proposal)
        risk, rounds, left = cs.project(cs.back_off(proposal, before, self.backoff_on))
        held = np.asarray(ctx.weights, dtype=float)
        anchor, _, _ = cs.project(held)
        last = np.full(b, -1) if ctx.last_rebalance is None else np.asarray(ctx.last_rebalance)
        exempt = (last < 0) if self.first_rebalance_free else np.zeros(b, dtype=bool)
        curve = cs.curve if "turnover" in self.backoff_on else BackoffCurve((0.0,), (1.0,))
        mixed, t_util, t_factor, fraction = turnover_move(risk, anchor, limits.turnover, curve, exempt)
        final, rounds_after, left_after = cs.project(mixed)
        return Decision(
            regime=regime, limits=limits, constraints=cs, proposal=proposal, before=before, held=held,
            anchor=anchor, mixed=mixed, weights=final, after=cs.check(final, factors=False),
            turnover_util=t_util, turnover_factor=t_factor, trade_fraction=fraction, exempt=exempt,
            projected=(rounds > 0) | (rounds_after > 0), bands_left=left_after,
            fallback=(left | left_after) & (self.unreachable_band == "cash"),
        )


@dataclass(frozen=True)
class Decision:
    """What one call of :class:`RegimeConstraints` saw and did, for B scenarios."""

    regime: np.ndarray  # (B, 6 + P) the RegimeLimits feature at t
    limits: Limits
    constraints: ConstraintSet
    proposal: np.ndarray  # (B, N) weights handed in
    before: dict[str, Check]  # checks of the proposal
    held: np.ndarray  # (B, N) the book before trading
    anchor: np.ndarray  # (B, N) the book brought inside the limits (forced trades)
    mixed: np.ndarray  # (B, N) after the turnover move
    weights: np.ndarray  # (B, N) final
    after: dict[str, Check]  # checks of the final weights
    turnover_util: np.ndarray  # (B,) trade anchor -> target over the budget
    turnover_factor: np.ndarray  # (B,)
    trade_fraction: np.ndarray  # (B,) share of that trade done
    exempt: np.ndarray  # (B,) first rebalance, outside the budget
    projected: np.ndarray  # (B,) bool
    bands_left: np.ndarray  # (B,) bool, a band no scaling could reach is still violated
    fallback: np.ndarray  # (B,) bool, emptied to cash for such a band (unreachable_band: cash)

    @property
    def final_turnover_util(self) -> np.ndarray:
        """(B,) discretionary turnover over the budget (0 where exempt)."""
        util = one_way(self.anchor, self.mixed) / self.limits.turnover
        return np.where(self.exempt, 0.0, util)

    def max_final_util(self) -> np.ndarray:
        """(B,) the largest utilization of any constraint after the Step.

        At most 1, unless a band was left unreachable (``bands_left``).
        """
        utils = [c.utilization for c in self.after.values()] + [self.final_turnover_util]
        return np.nanmax(np.column_stack([np.where(np.isfinite(u), u, 0.0) for u in utils]), axis=1)

    def diagnostics(self, backoff_on, styles: np.ndarray) -> dict:
        """The flat diagnostics dict (keys in the module docstring)."""
        cs, w = self.constraints, self.weights
        out = _regime_diagnostics(self.regime, self.limits)
        for name, check in self.before.items():
            factor = np.where(self.proposal != 0, check.factor, np.inf).min(axis=1)
            out[f"util_{name}"] = check.utilization
            out[f"factor_{name}"] = np.where(np.isfinite(factor) & (name in backoff_on), factor, 1.0)
        out.update({
            "util_turnover": self.turnover_util, "factor_turnover": self.turnover_factor,
            "max_final_util": self.max_final_util(), "projected": self.projected.astype(float),
            "band_unreachable": self.bands_left.astype(float), "fallback_cash": self.fallback.astype(float),
            "turnover": one_way(self.held, w), "turnover_budget": self.limits.turnover,
            "turnover_forced": one_way(self.held, self.anchor) + one_way(self.mixed, w),
            "trade_fraction": self.trade_fraction,
            "beta": cs.beta_exposure(w)[0], "volatility_exposure": cs.volatility_exposure(w)[0],
            "n_clusters": (cs.cluster_ids.max(axis=1) + 1).astype(float) if cs.cluster_ids.size else 0.0,
            "gross_out": np.abs(w).sum(axis=1),
            "scale": np.divide(w, self.proposal, out=np.ones_like(w), where=self.proposal != 0),
        })
        out.update(_style_diagnostics(styles, w))
        return out


def _shared(x: np.ndarray) -> np.ndarray:
    """A (B, ...) feature stack as one shared (...) value when every scenario has the same."""
    x = np.asarray(x)
    if x.shape[0] == 1 or x.strides[0] == 0:
        return np.asarray(x[0])
    return x


def _correlation(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / (sd[..., :, None] * sd[..., None, :])


def sector_index(assets, meta) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N,) sector index of each asset (-1 without one) and the sector names, sorted."""
    if meta is None or "sector" not in meta.columns:
        return np.full(len(assets), -1, dtype=np.int64), ()
    known = meta["sector"].to_dict()
    values = [known.get(a) for a in assets]
    names = tuple(sorted({str(v) for v in values if isinstance(v, str) and v}))
    index = {name: i for i, name in enumerate(names)}
    return np.asarray([index.get(v, -1) if isinstance(v, str) else -1 for v in values], dtype=np.int64), names


def _regime_diagnostics(regime: np.ndarray, limits: Limits) -> dict:
    col = {name: regime[:, i] for i, name in enumerate(REGIME_COLUMNS)}
    mult = regime[:, len(REGIME_COLUMNS):]
    out = {
        "regime": col["label"], "stress": col["stress"], "regime_score": col["score"],
        "regime_proxy": col["proxy"], "proxy_days": col["proxy_days"],
    }
    for i, name in enumerate(MULTIPLIED):
        out[f"multiplier_{name}"] = mult[:, i]
    for band in BANDS:
        out[f"{band}_lo"], out[f"{band}_hi"] = getattr(limits, band)[:, 0], getattr(limits, band)[:, 1]
    return out


def _style_diagnostics(styles: np.ndarray, w: np.ndarray) -> dict:
    gross = np.abs(w).sum(axis=1, keepdims=True)
    out = {}
    for i, name in enumerate(("size", "value", "momentum")):
        z = np.broadcast_to(styles[:, i, :], w.shape)
        ok = np.isfinite(z) & (w != 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            covered = np.where(ok, np.abs(w), 0.0).sum(axis=1, keepdims=True)
            value = (np.where(ok, w * z, 0.0).sum(axis=1, keepdims=True) / covered)[:, 0]
        out[f"exposure_{name}"] = np.where((covered[:, 0] > 0) & (gross[:, 0] > 0), value, np.nan)
    return out
