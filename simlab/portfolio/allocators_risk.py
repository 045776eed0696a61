"""Phase-2 (risk-adjusted) allocators: inverse volatility, risk-adjusted signal, risk parity,
hierarchical risk parity and minimum variance.

Like the phase-1 allocators they ignore the weights they are given and return fresh
targets. Only assets tradeable on the decision day with a usable risk estimate (a finite,
positive variance from the trailing window: an asset listed recently has none yet) can
receive weight. Volatility and covariance are Features computed point in time for every
decision row in one batch (:mod:`simlab.features.volatility`,
:mod:`simlab.features.covariance`); the Steps annualize them with the calendar's year
(``ctx.periods_per_year``: 252 days, or 365 on ``data.calendar: every_day``).

Shared fields, documented once:

- ``estimator``, ``window``, ``halflife``: the covariance estimator (``sample``, ``ewma``,
  ``ledoit_wolf``, ``ledoit_wolf_cc``), its trailing window in trading days and, for
  ``ewma``, its half-life in days. ``rolling_covariance: true`` carries the window's sums
  forward a day at a time from an exact window every 64 days: the same estimate to
  rounding (about 1e-15 relative), faster when rebalancing daily (``sample`` and the
  Ledoit-Wolf estimators; default false, each window summed exactly).
- ``cash_buffer``: the share of the book kept in cash; the weights sum to ``1 - cash_buffer``.
- ``max_weight``, ``min_weight``, ``asset_bounds``: bounds for every asset, and per-asset
  overrides ``{asset: [lower, upper]}``; a negative lower bound allows a short.
- Long-short books (the optimizers and ``min_variance``): ``net`` is what the weights sum
  to (default ``1 - cash_buffer``; 0 is a dollar-neutral book, 1 with ``max_gross: 1.6`` a
  130/30 book), ``max_gross`` limits ``sum |w|``, and ``beta_neutral: true`` holds the
  book's beta to the benchmark (``data.benchmark``, daily returns over the covariance
  ``window``; an asset's beta is ``cov(r_i, r_b) / var(r_b)``) at 0. A name the universe
  marks ``restricted`` gets no new short: its lower bound is raised to
  ``min(current weight, 0)`` (an existing short may be kept or covered, never added to);
  with ``short_hard_to_borrow: false`` so does a name marked ``hard_to_borrow`` (else it
  may be shorted and pays the ``borrow`` model's higher fee).
- ``turnover_penalty``: ``kappa`` in ``kappa * sum |w - w_current|`` against the current book,
  in the objective's units (annualized variance for minimum variance).
- ``solver``: ``auto`` (native batched kernel where it covers the problem, then cvxpy with
  Clarabel), ``cvxpy``, ``native`` or, for ``min_variance``, ``active_set`` (a primal active-set method started
  from the current book, exact and fast where a rebalance trades few names, as daily
  minimum variance with a turnover penalty does; the native kernel answers what it does
  not cover or finish); either way a failed solve falls back to the inverse
  volatility weights and then to holding the book (:mod:`simlab.portfolio.solvers`).
- ``periods``: daily returns a year that annualize the covariance (and expected returns):
  ``null`` (default) follows the data's calendar, 252, or 365 on ``data.calendar:
  every_day``; a number wins. Annual inputs (target volatility, tracking-error caps,
  target return, risk aversion, annual fees) meet the estimates on that year's scale.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.config.universe import asset_flags
from simlab.errors import ConfigError
from simlab.features.covariance import Covariance
from simlab.features.volatility import Volatility
from simlab.portfolio import optimize, solvers
from simlab.portfolio.allocators import SignalWeighted
from simlab.contract.roles import FALLBACK
from simlab.contract.step import Step, StepContext, per_scenario, scenario_values, year_of

TRADING_DAYS = 252
Estimator = Literal["sample", "ewma", "ledoit_wolf", "ledoit_wolf_cc"]
SolverChoice = Literal["auto", "cvxpy", "native"]
MinVarianceSolver = Literal["auto", "cvxpy", "native", "active_set"]
PositiveInt = Annotated[int, Field(ge=2)]
Halflife = Annotated[float, Field(gt=0)] | None
Buffer = Annotated[float, Field(ge=0, lt=1)]
UnitWeight = Annotated[float, Field(gt=0, le=1)]


def _halflife(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def budget_of(step, ctx: StepContext) -> np.ndarray:
    """(B,) what the weights sum to per scenario: ``net`` where the Step has one, else ``1 - cash_buffer``."""
    net = getattr(step, "net", None)
    if net is not None:
        return per_scenario(net, ctx.n_scenarios)[:, 0].astype(float)
    return 1.0 - per_scenario(step.cash_buffer, ctx.n_scenarios)[:, 0]


def benchmark_betas(ctx: StepContext, windows: np.ndarray) -> np.ndarray:
    """(B, N) betas ``cov(r_i, r_b) / var(r_b)`` of daily returns over each scenario's trailing window.

    Pairs where either return is missing are left out (per asset); fewer than two pairs or
    no benchmark variance gives NaN.
    """
    if "benchmark" not in ctx.view.names():
        raise ConfigError("beta_neutral needs a benchmark: set data.benchmark (for example builtin:sp500_index)")
    longest = int(np.max(windows))
    level = np.asarray(ctx.view.history("benchmark", longest + 1), dtype=float)
    bench = level[1:] / level[:-1] - 1.0
    assets = np.asarray(ctx.view.history("returns", longest), dtype=float)
    rows = min(len(bench), len(assets))
    bench, assets = bench[len(bench) - rows:], assets[len(assets) - rows:]
    out = np.full((len(windows), assets.shape[1]), np.nan)
    for i, w in enumerate(np.asarray(windows, dtype=int)):
        x, y = assets[-w:], bench[-w:, None]
        ok = np.isfinite(x) & np.isfinite(y)
        count = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx = np.where(ok, x, 0.0).sum(axis=0) / count
            my = np.where(ok, y, 0.0).sum(axis=0) / count
            cxy = np.where(ok, (x - mx) * (y - my), 0.0).sum(axis=0)
            vy = np.where(ok, (y - my) ** 2, 0.0).sum(axis=0)
            out[i] = np.where((count >= 2) & (vy > 0), cxy / vy, np.nan)
    return out


def annual_cov(ctx: StepContext, periods=None) -> np.ndarray:
    """(B, N, N) the declared ``cov`` Feature, annualized over ``periods`` daily rows a year.

    ``periods`` None follows the data's calendar (``ctx.periods_per_year``: 252, or 365 on
    ``data.calendar: every_day``), so annual inputs (target volatility, tracking-error
    caps, risk aversion, annual fees) meet the covariance on the scale of the data's year.
    """
    return np.asarray(ctx.feature("cov"), dtype=float) * year_of(periods, ctx)[:, :, None]


def phase2_fallback(cov: np.ndarray, active: np.ndarray, budget: np.ndarray, upper=1.0) -> np.ndarray:
    """(B, N) inverse-volatility weights from the covariance diagonal, capped at ``upper``."""
    vol = np.sqrt(np.where(active, np.diagonal(cov, axis1=1, axis2=2), np.nan))
    return optimize.inverse_volatility_weights(vol, active, budget, upper)


@dataclass(frozen=True)
class CovarianceStep(Step):
    """Base of the allocators that read a trailing covariance (fields in the module docstring)."""

    diagnostic_roles = {"fallback_level": FALLBACK}  # 1: the fallback weights, 2: held

    estimator: Estimator = "ledoit_wolf"
    window: PositiveInt = 252
    halflife: Halflife = None
    periods: Annotated[float, Field(gt=0)] | None = None
    rolling_covariance: bool = False

    def features(self, n_scenarios):
        """``cov``: one :class:`Covariance` per scenario."""
        windows = scenario_values(self.window, n_scenarios)
        halflives = scenario_values(self.halflife, n_scenarios)
        return {"cov": [Covariance(estimator=self.estimator, window=int(w), halflife=_halflife(h),
                                   rolling=self.rolling_covariance)
                        for w, h in zip(windows, halflives)]}


@dataclass(frozen=True)
class BoundedStep(CovarianceStep):
    """Covariance Steps with bounds, a cash buffer, a turnover penalty and a solver."""

    stateful = True  # the native QP warm-starts from the previous decision

    min_weight: Annotated[float, Field(ge=-1, le=1)] = 0.0
    max_weight: UnitWeight = 0.25
    asset_bounds: dict[str, tuple[Annotated[float, Field(ge=-1, le=1)], Annotated[float, Field(ge=-1, le=1)]]] = (
        field(default_factory=dict))
    cash_buffer: Buffer = 0.0
    turnover_penalty: Annotated[float, Field(ge=0)] = 0.0
    solver: SolverChoice = "auto"

    def __post_init__(self):
        if np.any(np.asarray(self.min_weight) > np.asarray(self.max_weight)):
            raise ValueError(f"min_weight ({self.min_weight}) must not exceed max_weight ({self.max_weight})")
        for asset, (lo, hi) in self.asset_bounds.items():
            if lo > hi:
                raise ValueError(f"asset_bounds.{asset}: lower {lo} is above upper {hi}")

    def bounds(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """(B, N) lower and upper bounds: the scalar fields, then ``asset_bounds`` by name."""
        b, n = ctx.n_scenarios, len(ctx.assets)
        lower = np.broadcast_to(per_scenario(self.min_weight, b), (b, n)).copy()
        upper = np.broadcast_to(per_scenario(self.max_weight, b), (b, n)).copy()
        for asset, (lo, hi) in self.asset_bounds.items():
            if asset not in ctx.assets:
                raise ConfigError(f"{self.key}.asset_bounds names {asset!r}, which is not an asset of the data")
            i = ctx.assets.index(asset)
            lower[:, i], upper[:, i] = lo, hi
        restricted = asset_flags(ctx.meta, "restricted", ctx.assets)
        if not getattr(self, "short_hard_to_borrow", True):
            restricted = restricted | asset_flags(ctx.meta, "hard_to_borrow", ctx.assets)
        if restricted.any() and (lower[:, restricted] < 0).any():
            floor = np.minimum(np.asarray(ctx.weights, dtype=float), 0.0)
            lower = np.where(restricted[None, :] & (lower < 0), np.maximum(lower, floor), lower)
        return lower, upper

    @classmethod
    def required_modules(cls, entry: dict) -> tuple[str, ...]:
        """Modules the solver chain of a resolved config ``entry`` needs (checked at load):
        cvxpy and Clarabel, unless ``solver: native`` or ``active_set``."""
        return () if entry.get("solver") in ("native", "active_set") else ("cvxpy", "clarabel")

    def solver_chain(self) -> tuple:
        """The solvers tried in order, from the ``solver`` field."""
        return {"auto": solvers.DEFAULT_SOLVERS, "cvxpy": (solvers.CVXPY,), "native": (solvers.NATIVE,),
                "active_set": (solvers.ACTIVE_SET, solvers.NATIVE)}[self.solver]

    def solve(self, problem: solvers.Problem, cov: np.ndarray, ctx: StepContext, usable: np.ndarray):
        """Weights and diagnostics from the solver chain; the phase-2 result is inverse
        volatility over the ``usable`` assets (a covariance row, tradeable), within the bounds."""
        _, upper = self.bounds(ctx)
        fallback = solvers.usable_fallback(problem, phase2_fallback(cov, usable, problem.budget, upper))
        res = solvers.solve(problem, fallback, ctx.weights, self.solver_chain(), memory=ctx.memory)
        res.diagnostics["cash"] = 1.0 - res.weights.sum(axis=1)
        if problem.extended or (problem.lower < 0).any():
            res.diagnostics["gross"] = np.abs(res.weights).sum(axis=1)
            res.diagnostics["short"] = -np.minimum(res.weights, 0.0).sum(axis=1)
        return res.weights, res.diagnostics


@dataclass(frozen=True)
class LongShortStep(BoundedStep):
    """Bounded Steps that may also run a long-short book: ``net``, ``max_gross`` and
    ``beta_neutral`` (module docstring)."""

    net: Annotated[float, Field(ge=-1, le=2)] | None = None
    max_gross: Annotated[float, Field(gt=0)] | None = None
    beta_neutral: bool = False
    short_hard_to_borrow: bool = True

    def __post_init__(self):
        super().__post_init__()
        if self.net is not None and np.any(np.asarray(self.cash_buffer) > 0):
            raise ValueError("give either net (what the weights sum to) or cash_buffer, not both")
        if self.max_gross is not None and self.net is not None and np.any(
                np.abs(np.asarray(self.net)) > np.asarray(self.max_gross)):
            raise ValueError(f"|net| ({self.net}) must not exceed max_gross ({self.max_gross})")

    def long_short(self, ctx: StepContext) -> dict:
        """``make_problem`` keywords for the gross limit and the beta row (empty for a long-only book)."""
        b = ctx.n_scenarios
        out: dict = {}
        if self.max_gross is not None:
            out["gross"] = per_scenario(self.max_gross, b)[:, 0].astype(float)
        if self.beta_neutral:
            beta = benchmark_betas(ctx, np.asarray(scenario_values(self.window, b), dtype=int))
            out["rows"] = np.nan_to_num(beta)[:, None, :]
        return out

    def usable(self, ctx: StepContext, cov: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(B, N) assets that may be held: tradeable, a covariance row and, for a beta-neutral
        book, a beta."""
        usable = optimize.usable_assets(cov, np.broadcast_to(ctx.tradeable, weights.shape))
        if self.beta_neutral:
            usable &= np.isfinite(benchmark_betas(ctx, np.asarray(scenario_values(self.window, ctx.n_scenarios))))
        return usable


@register("step", "inverse_volatility")
@dataclass(frozen=True)
class InverseVolatility(Step):
    """Weights proportional to ``1 / volatility`` over the tradeable assets with a volatility.

    ``window`` and ``halflife`` set the trailing daily volatility (:class:`Volatility`);
    each weight is capped at ``max_weight`` with the excess spread over the others, and
    what no asset can take stays in cash. Nothing with a volatility tradeable: all cash.

    Requires: prices. Provides: weights.
    """

    window: PositiveInt = 60
    halflife: Halflife = None
    cash_buffer: Buffer = 0.0
    max_weight: UnitWeight = 1.0

    def features(self, n_scenarios):
        """``vol``: one :class:`Volatility` per scenario."""
        pairs = zip(scenario_values(self.window, n_scenarios), scenario_values(self.halflife, n_scenarios))
        return {"vol": [Volatility(window=int(w), halflife=_halflife(h)) for w, h in pairs]}

    def __call__(self, weights, ctx):
        vol = np.asarray(ctx.feature("vol"), dtype=float)
        active = ctx.tradeable[None, :] & np.isfinite(vol) & (vol > 0)
        w = optimize.inverse_volatility_weights(vol, active, budget_of(self, ctx),
                                                per_scenario(self.max_weight, ctx.n_scenarios))
        no_vol = ctx.tradeable[None, :] & ~active
        return w, {"n_selected": (w > 0).sum(axis=1), "n_without_vol": no_vol.sum(axis=1),
                   "cash": 1.0 - w.sum(axis=1)}


@register("step", "risk_adjusted_signal")
@dataclass(frozen=True)
class RiskAdjustedSignal(Step):
    """The phase-1 ``signal_weighted`` rules on the signal divided by annualized volatility.

    Assets whose signal is above ``threshold`` (the signal itself, not the ratio) and that
    have a volatility score ``signal / vol``; the ``top_n`` highest scores are kept (0: all)
    and weighted in proportion to it, summing to ``1 - cash_buffer``, each capped at
    ``max_weight`` with the excess spread pro rata. No finite signal (all NaN): all cash,
    and ``n_scored`` is 0.

    Requires: signal. Provides: weights.
    """

    window: PositiveInt = 60
    halflife: Halflife = None
    threshold: Annotated[float, Field(ge=0)] = 0.0
    top_n: Annotated[int, Field(ge=0)] = 0
    cash_buffer: Buffer = 0.0
    max_weight: UnitWeight = 1.0
    requires = frozenset({"signal"})

    def features(self, n_scenarios):
        """``vol``: one :class:`Volatility` per scenario."""
        return InverseVolatility(window=self.window, halflife=self.halflife).features(n_scenarios)

    def __call__(self, weights, ctx):
        vol = np.asarray(ctx.feature("vol"), dtype=float) * np.sqrt(ctx.periods_per_year)
        keep = (ctx.signal > per_scenario(self.threshold, ctx.n_scenarios)) & np.isfinite(vol) & (vol > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(keep, ctx.signal / vol, np.nan)
        rules = SignalWeighted(threshold=0.0, top_n=self.top_n, cash_buffer=self.cash_buffer,
                               max_weight=self.max_weight)
        w, diag = rules(weights, dataclasses.replace(ctx, signal=score))
        diag["n_scored"] = (np.isfinite(score) & ctx.tradeable[None, :]).sum(axis=1)
        return w, diag


@register("step", "risk_parity")
@dataclass(frozen=True)
class RiskParity(CovarianceStep):
    """Equal risk contribution over the tradeable assets with a covariance row.

    Each asset contributes the same share of portfolio variance (Spinu's convex problem,
    batched damped Newton; :func:`simlab.portfolio.optimize.risk_parity_weights`), scaled
    to ``1 - cash_buffer``. Not converged: inverse-volatility weights, then the book
    is held (``attempt.newton``, ``fallback_level``).

    Requires: prices. Provides: weights.
    """

    cash_buffer: Buffer = 0.0

    def __call__(self, weights, ctx):
        cov = annual_cov(ctx, self.periods)
        active = optimize.usable_assets(cov, np.broadcast_to(ctx.tradeable, weights.shape))
        budget = budget_of(self, ctx)

        def newton(rows):
            w, converged, _ = optimize.risk_parity_weights(cov[rows], active[rows])
            ok = converged & active[rows].any(axis=1)
            return w * budget[rows, None], np.where(ok, solvers.SOLVED, solvers.FAILED)

        return _run(("newton", newton), cov, active, budget, ctx)


@register("step", "hierarchical_risk_parity")
@dataclass(frozen=True)
class HierarchicalRiskParity(CovarianceStep):
    """Hierarchical risk parity (Lopez de Prado) over the assets with a covariance row.

    ``linkage`` is the scipy method on the correlation distance ``sqrt((1 - rho) / 2)``;
    ``optimal_ordering`` reorders the leaves (Bar-Joseph) before the recursive bisection.
    Weights sum to ``1 - cash_buffer``; a failed split falls back to inverse volatility.

    Requires: prices. Provides: weights.
    """

    linkage: Literal["single", "complete", "average", "weighted", "ward"] = "ward"
    optimal_ordering: bool = True
    cash_buffer: Buffer = 0.0

    def __call__(self, weights, ctx):
        cov = annual_cov(ctx, self.periods)
        active = optimize.usable_assets(cov, np.broadcast_to(ctx.tradeable, weights.shape))
        budget = budget_of(self, ctx)

        def bisect(rows):
            out = np.zeros((len(rows), cov.shape[1]))
            for i, row in enumerate(rows):
                keep = active[row]
                if keep.any():
                    sub = cov[row][np.ix_(keep, keep)]
                    out[i, keep] = optimize.hrp_weights(sub, self.linkage, self.optimal_ordering) * budget[row]
            ok = np.isfinite(out).all(axis=1) & active[rows].any(axis=1)
            return out, np.where(ok, solvers.SOLVED, solvers.FAILED)

        return _run(("hrp", bisect), cov, active, budget, ctx)


def _run(attempt, cov, active, budget, ctx):
    """The fallback chain for an allocator without bounds: one attempt, inverse vol, hold."""
    def accept(w, rows):
        return np.isfinite(w).all(axis=1) & (w >= -solvers.TOL).all(axis=1) & (
            np.abs(w.sum(axis=1) - budget[rows]) <= solvers.TOL)

    fallback = phase2_fallback(cov, active, budget)
    res = solvers.run_chain([attempt], active.any(axis=1), accept, fallback, ctx.weights)
    res.diagnostics.update({"n_active": active.sum(axis=1), "cash": 1.0 - res.weights.sum(axis=1)})
    return res.weights, res.diagnostics


@register("step", "min_variance")
@dataclass(frozen=True)
class MinVariance(LongShortStep):
    """Minimum variance: ``min w'Σw + turnover_penalty * |w - w_current|`` within the bounds.

    Over the tradeable assets with a covariance row; weights sum to ``1 - cash_buffer`` (or
    ``net``), within ``max_gross`` and beta-neutral when asked (module docstring). Solved
    through the solver chain (module docstring of :mod:`simlab.portfolio.solvers`).

    Requires: prices. Provides: weights.
    """

    solver: MinVarianceSolver = "auto"

    def __call__(self, weights, ctx):
        cov = annual_cov(ctx, self.periods)
        active = self.usable(ctx, cov, weights)
        lower, upper = self.bounds(ctx)
        problem = solvers.make_problem(
            "utility", active, cov=cov, lower=lower, upper=upper, budget=budget_of(self, ctx), w0=ctx.weights,
            risk_aversion=2.0, turnover=per_scenario(self.turnover_penalty, ctx.n_scenarios)[:, 0],
            **self.long_short(ctx))
        return self.solve(problem, cov, ctx, active)
