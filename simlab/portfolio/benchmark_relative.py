"""Benchmark-relative and constrained allocators: tracking error, frontier points, and the
minimum-position cutoff.

``tracking_error`` and ``frontier_point`` build one batched
:class:`~simlab.portfolio.active_problems.ActiveProblem` at the decision row and solve it
through its chain (the batched ADMM kernel where the problem is a QP, cvxpy with Clarabel,
then the fallback weights, then the current book; every attempt is in the diagnostics).
Both share the fields of the phase-3 optimizers (covariance ``estimator``, ``window``,
bounds, ``cash_buffer``, ``turnover_penalty``, ``solver``, ``expected_returns``; see
:mod:`simlab.portfolio.allocators_risk` and :mod:`simlab.portfolio.allocators_opt`) and
add the costs of holding and trading, in return units:

- ``cost_bps`` (and per asset ``asset_cost_bps``): the cost of trading one unit of weight,
  in basis points of the traded value; it enters as ``c_i |w_i - w_current_i|``, on top of
  ``turnover_penalty``.
- ``fee_bps`` (and per asset ``asset_fee_bps``): an annual fee on holdings (a fund's
  management fee, an ETF's expense ratio), in basis points a year; it enters as ``f'w``.

Expected returns are read only where the problem uses them (``max_return``, a return
floor, a target return); an asset without one then cannot be held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.contract.step import Step, StepContext, per_scenario
from simlab.errors import ConfigError
from simlab.portfolio import active_problems, optimize, solvers
from simlab.portfolio.allocators_opt import ReturnsStep
from simlab.portfolio.allocators_risk import UnitWeight, annual_cov, budget_of, phase2_fallback
from simlab.portfolio.benchmark import BenchmarkSource, benchmark_weights, raw_benchmark

BPS = 1e-4
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


@dataclass(frozen=True)
class CostAwareStep(ReturnsStep):
    """Phase-3 fields plus per-asset trading costs and holding fees (module docstring)."""

    max_weight: UnitWeight = 1.0
    cost_bps: NonNegative = 0.0
    asset_cost_bps: dict[str, NonNegative] = field(default_factory=dict)
    fee_bps: NonNegative = 0.0
    asset_fee_bps: dict[str, NonNegative] = field(default_factory=dict)

    def per_asset(self, ctx: StepContext, name: str, default, given: dict) -> np.ndarray:
        """(B, N) ``default`` (scalar or (B,)) with the per-asset overrides ``given``, in bps -> fraction."""
        b, n = ctx.n_scenarios, len(ctx.assets)
        out = np.broadcast_to(per_scenario(default, b), (b, n)).copy()
        unknown = sorted(set(given) - set(ctx.assets))
        if unknown:
            raise ConfigError(f"{self.key}.{name} names {unknown}, not assets of the data")
        for asset, value in given.items():
            out[:, ctx.assets.index(asset)] = value
        return out * BPS

    def costs(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """(B, N) L1 trading weight (turnover penalty + costs) and (B, N) annual fee."""
        trade = self.per_asset(ctx, "asset_cost_bps", self.cost_bps, self.asset_cost_bps)
        trade += per_scenario(self.turnover_penalty, ctx.n_scenarios)
        return trade, self.per_asset(ctx, "asset_fee_bps", self.fee_bps, self.asset_fee_bps)

    def run_problem(self, kind, ctx, cov, usable, mu, bench, **limits):
        """Build, solve and describe one :class:`ActiveProblem` (weights, diagnostics)."""
        active = usable & np.isfinite(mu)
        lower, upper = self.bounds(ctx)
        cost, fee = self.costs(ctx)
        budget = budget_of(self, ctx)
        problem = active_problems.make_active_problem(
            kind, active, cov=cov, bench=bench, mu=np.where(active, mu, 0.0), lower=lower, upper=upper,
            budget=budget, w0=ctx.weights, cost=cost, fee=fee, **limits)
        if bench.any():
            fallback = solvers.capped_weights(bench * budget[:, None], problem.upper, budget)
        else:
            fallback = phase2_fallback(cov, active, budget, upper)
        res = active_problems.solve_active(problem, fallback, ctx.weights, active_problems.CHAINS[self.solver])
        w, diag = res.weights, res.diagnostics
        diag["cash"] = 1.0 - w.sum(axis=1)
        diag["tracking_error"] = active_problems.tracking_error(w, problem)
        diag["expected_excess"] = ((w - problem.bench) * problem.mu).sum(axis=1)
        diag["fee"] = (problem.fee * w).sum(axis=1)
        return w, diag, problem


@register("step", "tracking_error")
@dataclass(frozen=True)
class TrackingError(CostAwareStep):
    """Weights against a benchmark: least tracking error, or most return within a cap.

    ``benchmark`` says where the benchmark's weights come from (``equal``, ``weights`` with
    ``benchmark_weights``, ``price``, ``market_cap`` from the universe file, ``cash``;
    :mod:`simlab.portfolio.benchmark`), renormalized over the assets that may be held.
    ``active_bounds: [lower, upper]`` bound each active weight ``w_i - b_i`` (on top of
    ``min_weight``, ``max_weight`` and ``asset_bounds``).

    ``min_tracking_error`` minimizes ``(w - b)'Σ(w - b)`` (annual active variance) plus the
    trading costs and fees, with ``mu'(w - b) >= min_excess_return`` when that is set (a
    QP: the batched kernel). ``max_return`` maximizes ``mu'w`` less fees and trading costs
    subject to a tracking error of at most ``max_tracking_error`` (annual; a second-order
    cone: cvxpy with Clarabel). A cap no portfolio within the bounds meets is infeasible:
    the fallback is the benchmark (capped at the upper bounds), then the book is held.

    Diagnostics: ``tracking_error`` (annual, of the weights returned), ``active_share``
    (``sum |w - b| / 2``), ``expected_excess`` (``mu'(w - b)``, 0 where unused),
    ``benchmark_coverage`` (:mod:`simlab.portfolio.benchmark`), ``fee``, and the chain's.

    Requires: prices (and a signal for ``expected_returns: signal``). Provides: weights.
    """

    benchmark: BenchmarkSource = "equal"
    benchmark_weights: dict[str, NonNegative] = field(default_factory=dict)
    objective: Literal["min_tracking_error", "max_return"] = "min_tracking_error"
    max_tracking_error: Positive = 0.05
    min_excess_return: float | None = None
    active_bounds: tuple[Annotated[float, Field(le=0)], Annotated[float, Field(ge=0)]] = (-1.0, 1.0)

    def __post_init__(self):
        super().__post_init__()
        if self.benchmark == "weights" and not self.benchmark_weights:
            raise ValueError("benchmark 'weights' needs benchmark_weights: {asset: weight}")
        if self.benchmark != "weights" and self.benchmark_weights:
            raise ValueError(f"benchmark_weights is given but benchmark is {self.benchmark!r}; "
                             "set benchmark: weights to use them")

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = annual_cov(ctx, self.periods)
        usable = optimize.usable_assets(cov, np.broadcast_to(ctx.tradeable, weights.shape))
        floor = np.full(b, -np.inf) if self.min_excess_return is None else per_scenario(self.min_excess_return, b)[:, 0]
        reads_mu = self.objective == "max_return" or np.isfinite(floor).any()
        mu = self.expected(ctx, cov, usable) if reads_mu else np.zeros(usable.shape)
        bench, coverage = benchmark_weights(raw_benchmark(self.benchmark, ctx, self.benchmark_weights, self.key),
                                            usable & np.isfinite(mu))
        lo_a, hi_a = (per_scenario(v, b) for v in self.active_bounds)
        w, diag, problem = self.run_problem(
            self.objective, ctx, cov, usable, mu, bench, active_lower=lo_a, active_upper=hi_a,
            max_te=per_scenario(self.max_tracking_error, b)[:, 0], min_excess=floor)
        diag["active_share"] = 0.5 * np.abs(w - problem.bench).sum(axis=1)
        diag["benchmark_coverage"] = coverage
        return w, diag


@register("step", "frontier_point")
@dataclass(frozen=True)
class FrontierPoint(CostAwareStep):
    """A point of the efficient frontier, solved as the constrained problem itself.

    ``target: return`` minimizes ``w'Σw`` (plus trading costs and fees) subject to
    ``mu'w >= target_return`` (annual; a QP: the batched kernel). ``target: volatility``
    maximizes ``mu'w`` less fees and trading costs subject to ``sqrt(w'Σw) <=
    target_volatility`` (annual; a second-order cone: cvxpy with Clarabel). No bisection
    over a risk aversion: each is one convex solve. A target no portfolio within the bounds
    reaches is infeasible: inverse-volatility weights answer, then the book is held (the
    diagnostics say which).

    Diagnostics: ``volatility`` and ``expected_return`` (annual) of the weights returned,
    ``fee``, and the chain's.

    Requires: prices (and a signal for ``expected_returns: signal``). Provides: weights.
    """

    target: Literal["return", "volatility"] = "volatility"
    target_return: float = 0.10
    target_volatility: Positive = 0.15

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = annual_cov(ctx, self.periods)
        usable = optimize.usable_assets(cov, np.broadcast_to(ctx.tradeable, weights.shape))
        mu = self.expected(ctx, cov, usable)
        if self.target == "return":
            kind, limits = "min_tracking_error", {"min_excess": per_scenario(self.target_return, b)[:, 0]}
        else:
            kind, limits = "max_return", {"max_te": per_scenario(self.target_volatility, b)[:, 0]}
        w, diag, _ = self.run_problem(kind, ctx, cov, usable, mu, np.zeros(usable.shape), **limits)
        diag["volatility"] = diag.pop("tracking_error")
        diag["expected_return"] = diag.pop("expected_excess")
        return w, diag


@register("step", "min_position")
@dataclass(frozen=True)
class MinPosition(Step):
    """Drop positions under ``threshold`` and spread what they held over the rest.

    Every weight ``0 < |w_i| < threshold`` is set to 0 and the remaining weights are scaled
    so that the total is what it was (the cash share does not change), as in the phase-3
    recipe "drop weights under 1% and renormalize". Scaling may lift a weight above a cap
    an earlier Step set: place ``position_limit`` after this Step where that matters. A
    book where every position is under the threshold is left as it is and
    ``all_below`` says so.

    Diagnostics: ``n_dropped``, ``dropped_weight`` (the total weight moved), ``all_below``.

    Requires: nothing. Provides: weights.
    """

    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.01

    def __call__(self, weights, ctx):
        small = (np.abs(weights) < per_scenario(self.threshold, ctx.n_scenarios)) & (weights != 0)
        kept = np.where(small, 0.0, weights)
        total, rest = weights.sum(axis=1, keepdims=True), kept.sum(axis=1, keepdims=True)
        all_below = (small.any(axis=1) & (rest[:, 0] == 0))
        scaled = np.divide(kept * total, rest, out=np.zeros_like(kept), where=rest != 0)
        out = np.where(all_below[:, None], weights, scaled)
        dropped = np.where(all_below, 0.0, np.abs(np.where(small, weights, 0.0)).sum(axis=1))
        return out, {"n_dropped": np.where(all_below, 0, small.sum(axis=1)), "dropped_weight": dropped,
                     "all_below": all_below}
