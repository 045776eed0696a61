"""Factor-model allocators: minimum variance (or mean-variance) on ``Sigma = B F B' + D``.

:class:`FactorMinVariance` reads a factor risk model (:class:`simlab.features.factor_model.FactorRisk`,
statistical or fundamental, estimated point in time for every decision row in one batch)
and solves its QP with the low-rank kernel :func:`simlab.kernels.qp_factor.solve_factor_qp`:
no N x N matrix is formed, so a universe of thousands of names stays cheap. Each scenario's
problem is reduced to the assets it may hold (the ``top_n`` by signal, or every usable one)
before the solve, and the B scenarios are solved in one call.

The fallback chain is the one of :mod:`simlab.portfolio.solvers`: the native kernel, then
cvxpy with Clarabel on the same factor form (``solver: auto``), then inverse volatility
from the model's variances within the asset bounds (sector caps are not imposed on that
fallback), then the current book; every attempt is in the diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.contract.roles import FALLBACK
from simlab.contract.step import (
    Step,
    StepContext,
    per_scenario,
    scenario_values,
    year_of,
)
from simlab.errors import ConfigError
from simlab.features.factor_model import FactorRisk
from simlab.kernels.qp_factor import solve_factor_qp
from simlab.portfolio import optimize, solvers
from simlab.portfolio.allocators_opt import signal_alpha
from simlab.portfolio.allocators_risk import (
    Buffer,
    PositiveInt,
    UnitWeight,
    budget_of,
)

Positive = Annotated[float, Field(gt=0)]
KERNEL_STATUS = {0: solvers.SOLVED, 1: solvers.INACCURATE, 2: solvers.INFEASIBLE, 3: solvers.UNBOUNDED}


@dataclass(frozen=True)
class Reduced:
    """B problems reduced to each scenario's holdable assets, padded to the widest (n_max).

    ``index`` (B, n_max) the asset of each slot (-1 padding); ``X`` (B, n_max, k) and ``d``
    (B, n_max) annualized; ``q``, ``lower``, ``upper``, ``w0`` (B, n_max); ``G`` (B, S, n_max)
    sector rows (one per sector of the universe) or None, ``g`` (B, S) their caps; ``slots``
    (B, 1, n_max) the budget row, 1 on real slots. Padding slots are fixed at 0 with no
    exposure and appear in no row, so a scenario's solve is bit-identical in any batch.
    """

    index: np.ndarray
    X: np.ndarray
    d: np.ndarray
    q: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    w0: np.ndarray
    G: np.ndarray | None
    g: np.ndarray | None
    slots: np.ndarray

    def expand(self, w: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
        """(len(rows), N) full weights from the reduced (len(rows), n_max) ones."""
        out = np.zeros((len(rows), n))
        index = self.index[rows]
        r, c = np.nonzero(index >= 0)
        out[r, index[r, c]] = w[r, c]
        return out


@register("step", "factor_min_variance")
@dataclass(frozen=True)
class FactorMinVariance(Step):
    """Minimum variance (or mean-variance) under a factor risk model, with sector caps.

    ``objective: min_variance`` minimizes ``w'Σw + turnover_penalty * |w - w_current|``;
    ``utility`` maximizes ``alpha'w - risk_aversion / 2 * w'Σw - turnover_penalty *
    |w - w_current|`` with Grinold's ``alpha = signal_ic * vol * z(signal)``. Long-only
    within ``[min_weight, max_weight]``, summing to ``1 - cash_buffer``, each sector's total
    at most ``sector_cap`` (1: no cap; needs a ``sector`` in the universe metadata).

    ``model``: ``pca`` (``n_factors`` principal components of the trailing ``window``) or
    ``fundamental`` (betas on the ``factors``, names of ``data.macro`` series of factor
    price levels); see :mod:`simlab.features.factor_model`. ``top_n`` > 0 keeps only the
    ``top_n`` assets with the highest signal (those with a model estimate and a price).
    ``periods``: daily returns a year that annualize the model (``null``: the data's
    calendar, 252 or 365 on ``data.calendar: every_day``).

    Diagnostics: the solver chain's, ``n_active``, ``cash``, ``ex_ante_vol`` (annualized,
    of the weights under the model) and, where the assets have a ``sector``,
    ``max_sector_weight`` (the largest sector total; assets without a sector count alone).

    Requires: prices (a signal for ``top_n`` > 0 or ``utility``). Provides: weights.
    """

    diagnostic_roles = {"fallback_level": FALLBACK}  # 1: the fallback weights, 2: held

    model: Literal["pca", "fundamental"] = "pca"
    n_factors: Annotated[int, Field(ge=1)] = 5
    factors: tuple[str, ...] = ()
    window: PositiveInt = 252
    objective: Literal["min_variance", "utility"] = "min_variance"
    risk_aversion: Positive = 2.5
    signal_ic: Positive = 0.05
    top_n: Annotated[int, Field(ge=0)] = 0
    sector_cap: UnitWeight = 1.0
    min_weight: Annotated[float, Field(ge=0, le=1)] = 0.0
    max_weight: UnitWeight = 0.25
    cash_buffer: Buffer = 0.0
    turnover_penalty: Annotated[float, Field(ge=0)] = 0.0
    solver: Literal["auto", "native", "cvxpy"] = "auto"
    periods: Annotated[float, Field(gt=0)] | None = None

    def __post_init__(self):
        if np.any(np.asarray(self.min_weight) > np.asarray(self.max_weight)):
            raise ValueError(f"min_weight ({self.min_weight}) must not exceed max_weight ({self.max_weight})")
        if self.model == "fundamental" and not self.factors:
            raise ConfigError("factor_min_variance.factors: model 'fundamental' needs the names of "
                              "data.macro series of factor levels, e.g. [MTUM, QUAL, SIZE, USMV, VLUE]")

    @classmethod
    def required_modules(cls, entry: dict) -> tuple[str, ...]:
        """cvxpy and Clarabel for ``solver: auto`` or ``cvxpy`` (checked at load)."""
        return () if entry.get("solver") == "native" else ("cvxpy", "clarabel")

    def features(self, n_scenarios):
        """``risk``: one :class:`FactorRisk` per scenario (padded to a common k where they differ)."""
        models = scenario_values(self.model, n_scenarios)
        windows = scenario_values(self.window, n_scenarios)
        ks = scenario_values(self.n_factors, n_scenarios)
        width = max(len(self.factors) if m == "fundamental" else int(k) for m, k in zip(models, ks))
        return {"risk": [FactorRisk(model=m, window=int(w), n_factors=int(k), factors=tuple(self.factors),
                                    width=width if len(set(zip(models, ks))) > 1 else 0)
                         for m, w, k in zip(models, windows, ks)]}

    def __call__(self, weights, ctx):
        b, n = ctx.n_scenarios, len(ctx.assets)
        risk = np.asarray(ctx.feature("risk"), dtype=float)
        year = year_of(self.periods, ctx)
        X, d = risk[..., :-1] * np.sqrt(year)[:, :, None], risk[..., -1] * year
        usable = ctx.tradeable[None, :] & np.isfinite(d) & (d > 0) & np.isfinite(X).all(axis=2)
        vol = np.sqrt(np.where(usable, d + (X * X).sum(axis=2), np.nan))
        mu = np.zeros((b, n))
        if self.objective == "utility":
            mu = signal_alpha(self._signal(ctx), vol, usable, per_scenario(self.signal_ic, b))
            usable &= np.isfinite(mu)
        active = self._select(ctx, usable)
        budget = budget_of(self, ctx)
        upper = np.where(active, np.broadcast_to(per_scenario(self.max_weight, b), (b, n)), 0.0)
        lower = np.where(active, np.broadcast_to(per_scenario(self.min_weight, b), (b, n)), 0.0)
        gamma = 2.0 if self.objective == "min_variance" else per_scenario(self.risk_aversion, b)[:, 0]
        gamma = np.broadcast_to(np.asarray(gamma, dtype=float), (b,))
        red = self._reduce(ctx, active, X, d, -np.where(active, mu, 0.0), lower, upper)
        kappa = per_scenario(self.turnover_penalty, b)[:, 0]
        caps = red.g

        def accept(w, rows):
            ok = np.isfinite(w).all(axis=1) & (w >= lower[rows] - solvers.TOL).all(axis=1)
            ok &= (w <= upper[rows] + solvers.TOL).all(axis=1) & (np.abs(w.sum(axis=1) - budget[rows]) <= solvers.TOL)
            if caps is not None:
                wr = np.take_along_axis(w, np.maximum(red.index[rows], 0), axis=1) * (red.index[rows] >= 0)
                ok &= (np.einsum("bsn,bn->bs", red.G[rows], wr) <= caps[rows] + solvers.TOL).all(axis=1)
            return ok

        attempts = {"native": [("factor_qp", self._native(red, gamma, budget, kappa, n))],
                    "cvxpy": [("cvxpy", self._cvxpy(red, gamma, budget, kappa, n))]}
        chain = attempts["native"] + attempts["cvxpy"] if self.solver == "auto" else attempts[self.solver]
        fallback = optimize.inverse_volatility_weights(vol, active, budget, upper)
        feasible = active.any(axis=1) & (upper.sum(axis=1) >= budget - solvers.TOL) & (
            lower.sum(axis=1) <= budget + solvers.TOL)
        res = solvers.run_chain(chain, feasible, accept, fallback, ctx.weights)
        w = res.weights
        diag = res.diagnostics
        diag["n_active"] = active.sum(axis=1).astype(float)
        diag["cash"] = 1.0 - w.sum(axis=1)
        exposure = np.einsum("bnk,bn->bk", np.where(usable[..., None], X, 0.0), w)
        diag["ex_ante_vol"] = np.sqrt((exposure**2).sum(axis=1) + (np.where(usable, d, 0.0) * w**2).sum(axis=1))
        if ctx.meta is not None and "sector" in ctx.meta.columns:
            diag["max_sector_weight"] = max_sector_weight(w, self._sectors(ctx))
        return w, diag

    # ------------------------------------------------------------------ pieces

    def _signal(self, ctx: StepContext) -> np.ndarray:
        if ctx.signal is None:
            raise ConfigError(f"{self.key}: top_n > 0 and objective 'utility' need a strategy signal; "
                              "add a strategy to the config")
        return np.asarray(ctx.signal, dtype=float)

    def _select(self, ctx: StepContext, usable: np.ndarray) -> np.ndarray:
        """(B, N) the assets each scenario may hold: the ``top_n`` by signal among ``usable``."""
        tops = np.asarray(scenario_values(self.top_n, ctx.n_scenarios), dtype=int)
        if not tops.any():
            return usable
        signal = np.where(usable & np.isfinite(self._signal(ctx)), self._signal(ctx), -np.inf)
        order = np.argsort(-signal, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(signal.shape[1])[None, :], axis=1)
        keep = np.where(tops[:, None] > 0, rank < tops[:, None], True)
        return usable & keep & np.isfinite(signal)

    def _sectors(self, ctx: StepContext) -> np.ndarray:
        """(N,) integer sector codes (-1 unknown) from ``ctx.meta['sector']``."""
        if ctx.meta is None or "sector" not in ctx.meta.columns:
            raise ConfigError(f"{self.key}.sector_cap < 1 needs a 'sector' for each asset (universe metadata)")
        labels = ctx.meta["sector"].reindex(list(ctx.assets))
        codes, _ = labels.factorize()
        return np.asarray(codes, dtype=np.int64)

    def _reduce(self, ctx, active, X, d, q, lower, upper) -> Reduced:
        b, _n = active.shape
        n_max = max(int(active.sum(axis=1).max()), 1)
        order = np.argsort(~active, axis=1, kind="stable")[:, :n_max]
        slot = np.take_along_axis(active, order, axis=1)
        index = np.where(slot, order, -1)
        take = np.maximum(index, 0)

        def gather(a, fill):
            return np.where(slot, np.take_along_axis(a, take, axis=1), fill)

        Xr = np.where(slot[..., None], np.take_along_axis(X, take[..., None], axis=1), 0.0)
        caps = per_scenario(self.sector_cap, b)
        G = g = None
        if (caps < 1.0).any():
            sectors = self._sectors(ctx)
            codes = np.where(slot, sectors[take], -1)
            n_sec = int(sectors.max()) + 1 if sectors.size else 0  # every sector of the universe
            if n_sec:
                G = (codes[:, None, :] == np.arange(n_sec)[None, :, None]).astype(float)
                g = np.broadcast_to(caps, (b, n_sec)).copy()
        w0 = np.nan_to_num(np.asarray(ctx.weights, dtype=float))
        return Reduced(index, Xr, gather(d, 1.0), gather(q, 0.0), gather(lower, 0.0), gather(upper, 0.0),
                       gather(w0, 0.0), G, g, slot[:, None, :].astype(float))

    def _native(self, red: Reduced, gamma, budget, kappa, n):
        def attempt(rows):
            s = np.sqrt(gamma[rows])[:, None, None]
            res = solve_factor_qp(red.X[rows] * s, red.d[rows] * gamma[rows, None], red.q[rows],
                                  lo=red.lower[rows], hi=red.upper[rows], budget=None,
                                  G=None if red.G is None else red.G[rows], g=None if red.g is None else red.g[rows],
                                  F=red.slots[rows], a=budget[rows, None], b=budget[rows, None],
                                  w0=red.w0[rows], kappa=kappa[rows])
            status = np.array([KERNEL_STATUS.get(int(c), solvers.FAILED) for c in res.status])
            return red.expand(res.w, np.asarray(rows), n), status
        return attempt

    def _cvxpy(self, red: Reduced, gamma, budget, kappa, n):
        def attempt(rows):
            out = np.full((len(rows), red.index.shape[1]), np.nan)
            status = np.full(len(rows), solvers.UNAVAILABLE)
            for i, row in enumerate(rows):
                out[i], status[i] = factor_qp_cvxpy(
                    red.X[row], red.d[row], red.q[row], red.lower[row], red.upper[row], budget[row],
                    None if red.G is None else red.G[row], None if red.g is None else red.g[row],
                    red.w0[row], kappa[row], gamma[row])
            return red.expand(np.nan_to_num(out), np.asarray(rows), n), status
        return attempt


def max_sector_weight(w: np.ndarray, sectors: np.ndarray) -> np.ndarray:
    """(B,) the largest total weight of one sector; ``sectors`` (N,) codes, -1 unknown
    (each such asset its own group)."""
    known = sectors >= 0
    n_sec = int(sectors.max()) + 1 if known.any() else 0
    totals = np.zeros((w.shape[0], n_sec))
    for s in range(n_sec):
        totals[:, s] = w[:, sectors == s].sum(axis=1)
    alone = np.abs(w[:, ~known]).max(axis=1) if (~known).any() else np.zeros(w.shape[0])
    return np.maximum(totals.max(axis=1) if n_sec else np.zeros(w.shape[0]), alone)


def factor_qp_cvxpy(X, d, q, lower, upper, budget, G, g, w0, kappa, gamma=2.0) -> tuple[np.ndarray, int]:
    """One factor-model problem by cvxpy and Clarabel, with ``y = X'w`` as variables:
    ``min gamma/2 (|y|^2 + d'w^2) + q'w + kappa |w - w0|_1``; ``(weights, solvers status)``."""
    try:
        import cvxpy as cp
    except ImportError:
        return np.full(len(d), np.nan), solvers.UNAVAILABLE
    w = cp.Variable(len(d))
    y = X.T @ w
    objective = 0.5 * gamma * (cp.sum_squares(y) + cp.sum(cp.multiply(d, cp.square(w)))) + q @ w
    if kappa > 0:
        objective = objective + kappa * cp.norm1(w - w0)
    cons = [cp.sum(w) == budget, w >= lower, w <= upper]
    if G is not None:
        cons.append(G @ w <= g)
    prob = cp.Problem(cp.Minimize(objective), cons)
    try:
        prob.solve(solver="CLARABEL")
    except Exception:  # noqa: BLE001 - a solver error is a failed attempt
        return np.full(len(d), np.nan), solvers.FAILED
    code = {"optimal": solvers.SOLVED, "optimal_inaccurate": solvers.INACCURATE}.get(prob.status)
    if code is None:
        code = solvers.INFEASIBLE if str(prob.status).startswith("infeasible") else solvers.FAILED
    value = np.full(len(d), np.nan) if w.value is None else np.asarray(w.value, dtype=float)
    return value, code
