"""Phase-3 (optimization) allocators: mean-variance, Black-Litterman and mean-CVaR.

Each builds one batched :class:`~simlab.portfolio.solvers.Problem` for its B scenarios at
the decision row and solves it through the solver chain: the native batched kernel where
it covers the problem, cvxpy with Clarabel, then the phase-2 inverse-volatility weights,
then the current book (:mod:`simlab.portfolio.solvers`; every attempt is in the
diagnostics). All take per-asset bounds (a negative lower bound allows a short), a cash
buffer or a ``net`` exposure, a ``max_gross`` limit, ``beta_neutral`` and an L1 turnover
penalty against the current book; the shared fields are documented once in
:mod:`simlab.portfolio.allocators_risk`.

Expected returns (``expected_returns``):

- ``history``: the mean daily return over the trailing ``mean_window`` days
  (:class:`~simlab.features.returns.MeanReturn`), annualized.
- ``signal``: Grinold's rule ``alpha_i = signal_ic * vol_i * z_i``, with ``z`` the
  cross-sectional z-score of the strategy's signal over the assets that may be held,
  ``vol`` the annualized volatility from the covariance diagonal and ``signal_ic`` the
  assumed information coefficient. Fewer than two finite signals: no expected returns.

An asset without expected returns cannot be held. No asset with one (all-NaN signals):
the solver is not tried and the phase-2 fallback answers, which the diagnostics show
(``n_active`` 0, ``fallback_level`` 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.errors import ConfigError
from simlab.features.returns import MeanReturn
from simlab.portfolio import optimize, solvers
from simlab.portfolio.allocators_risk import (
    BoundedStep,
    LongShortStep,
    PositiveInt,
    annual_cov,
    budget_of,
)
from simlab.contract.step import StepContext, per_scenario, scenario_values, year_of

Positive = Annotated[float, Field(gt=0)]


def signal_alpha(signal: np.ndarray | None, vol: np.ndarray, active: np.ndarray, ic) -> np.ndarray:
    """(B, N) ``ic * vol * z(signal)`` over active assets with a finite signal; NaN elsewhere.

    ``ic`` is a scalar or (B, 1). A row with fewer than two such assets, or a constant
    signal, is all NaN.
    """
    if signal is None:
        return np.full(active.shape, np.nan)
    ok = active & np.isfinite(signal) & np.isfinite(vol)
    count = ok.sum(axis=1, keepdims=True)
    x = np.where(ok, signal, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = x.sum(axis=1, keepdims=True) / count
        sd = np.sqrt((np.where(ok, x - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / (count - 1))
        z = (x - mean) / sd
    good = ok & (count >= 2) & (sd > 0)
    return np.where(good, ic * vol * z, np.nan)


@dataclass(frozen=True)
class ReturnsStep(BoundedStep):
    """Bounded covariance Steps that also need expected returns (see the module docstring)."""

    expected_returns: Literal["history", "signal"] = "history"
    mean_window: PositiveInt = 252
    signal_ic: Positive = 0.05

    def features(self, n_scenarios):
        """``cov``, and ``mean`` (one :class:`MeanReturn` per scenario) for ``history``."""
        out = super().features(n_scenarios)
        if self.expected_returns == "history":
            out["mean"] = [MeanReturn(window=int(w)) for w in scenario_values(self.mean_window, n_scenarios)]
        return out

    def expected(self, ctx: StepContext, cov: np.ndarray, active: np.ndarray) -> np.ndarray:
        """(B, N) annualized expected returns; NaN where there are none."""
        if self.expected_returns == "history":
            return np.where(active, np.asarray(ctx.feature("mean"), dtype=float) * year_of(self.periods, ctx), np.nan)
        vol = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        return signal_alpha(ctx.signal, vol, active, per_scenario(self.signal_ic, ctx.n_scenarios))


@register("step", "mean_variance")
@dataclass(frozen=True)
class MeanVariance(ReturnsStep, LongShortStep):
    """Mean-variance weights: the tangency portfolio (``max_sharpe``) or quadratic ``utility``.

    ``max_sharpe`` maximizes ``(mu - risk_free)'w / sqrt(w'Σw)`` (``risk_free`` annual); with
    a turnover penalty it then solves the utility problem at the tangency portfolio's own
    risk aversion with the penalty. ``utility`` maximizes
    ``mu'w - risk_aversion / 2 * w'Σw - turnover_penalty * |w - w_current|``. No asset
    with ``mu > risk_free`` makes ``max_sharpe`` infeasible: the fallback chain answers.
    ``target_return`` is Markowitz with a target-return constraint, as the design documents
    write it: minimize ``w'Σw`` (plus the turnover penalty) subject to ``mu'w >=
    target_return`` (annual); a target no portfolio within the bounds reaches is
    infeasible and the fallback chain answers (the diagnostics say so). ``max_sharpe``
    stays the default: a fixed return target asks the same of a 1999 and a 2009 book,
    and estimated means make the constraint bind on noise.

    Requires: prices (and a signal for ``expected_returns: signal``). Provides: weights.
    """

    objective: Literal["max_sharpe", "utility", "target_return"] = "max_sharpe"
    risk_aversion: Positive = 2.5
    risk_free: float = 0.0
    target_return: float = 0.10

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = annual_cov(ctx, self.periods)
        usable = self.usable(ctx, cov, weights)
        mu = self.expected(ctx, cov, usable)
        active = usable & np.isfinite(mu)
        lower, upper = self.bounds(ctx)
        problem = solvers.make_problem(
            self.objective, active, cov=cov, mu=mu, lower=lower, upper=upper, budget=budget_of(self, ctx),
            w0=ctx.weights, risk_aversion=per_scenario(self.risk_aversion, b)[:, 0],
            turnover=per_scenario(self.turnover_penalty, b)[:, 0], risk_free=per_scenario(self.risk_free, b)[:, 0],
            target=per_scenario(self.target_return, b)[:, 0], **self.long_short(ctx))
        w, diag = self.solve(problem, cov, ctx, usable)
        diag["n_with_mu"] = active.sum(axis=1)
        return w, diag


@register("step", "black_litterman")
@dataclass(frozen=True)
class BlackLitterman(LongShortStep):
    """Black-Litterman: equilibrium prior, views from the signal, Idzorek confidences.

    The prior is ``pi = delta * Σ w_prior`` with ``prior_weights`` (``{asset: weight}``;
    assets not named get 0, renormalized over the assets that may be held) or, when empty,
    inverse-volatility weights. Each asset with a finite signal gets an absolute view
    ``Q_i = pi_i + signal_ic * vol_i * z_i`` (Grinold's rule; ``z`` the cross-sectional
    z-score) held with confidence ``view_confidence`` (Idzorek's method: 1 means the view
    holds exactly). The weights solve the utility problem with risk aversion ``delta`` on
    the posterior returns and covariance. Without a signal (no strategy, all NaN) there are
    no views and the posterior is the prior, so the weights are the prior within bounds.

    Requires: prices (views need a signal). Provides: weights.
    """

    prior_weights: dict[str, Annotated[float, Field(ge=0)]] = field(default_factory=dict)
    tau: Positive = 0.05
    delta: Positive = 2.5
    view_confidence: Annotated[float, Field(gt=0, le=1)] = 0.5
    signal_ic: Positive = 0.05

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = annual_cov(ctx, self.periods)
        usable = self.usable(ctx, cov, weights)
        mu, post, n_views = self.posterior(ctx, cov, usable)
        lower, upper = self.bounds(ctx)
        problem = solvers.make_problem(
            "utility", usable, cov=post, mu=mu, lower=lower, upper=upper, budget=budget_of(self, ctx),
            w0=ctx.weights, risk_aversion=per_scenario(self.delta, b)[:, 0],
            turnover=per_scenario(self.turnover_penalty, b)[:, 0], **self.long_short(ctx))
        w, diag = self.solve(problem, cov, ctx, usable)
        diag["n_views"] = n_views
        return w, diag

    def posterior(self, ctx: StepContext, cov: np.ndarray, usable: np.ndarray):
        """Posterior returns (B, N), covariance (B, N, N) and the number of views (B,)."""
        b, n = usable.shape
        vol = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        alpha = signal_alpha(ctx.signal, vol, usable, per_scenario(self.signal_ic, b))
        prior = self.prior(ctx, vol, usable)
        mu, post = np.zeros((b, n)), np.zeros((b, n, n))
        n_views = np.zeros(b)
        tau, delta, conf = (per_scenario(v, b)[:, 0] for v in (self.tau, self.delta, self.view_confidence))
        for i in range(b):
            keep = usable[i]
            s = cov[i][np.ix_(keep, keep)]
            pi = optimize.equilibrium_returns(s, prior[i, keep], delta[i])
            has_view = np.isfinite(alpha[i, keep])
            picks = np.eye(keep.sum())[has_view]
            omega = optimize.idzorek_omega(np.full(has_view.sum(), conf[i]), s, picks, tau[i])
            m, p = optimize.black_litterman_core(s, pi, picks, pi[has_view] + alpha[i, keep][has_view], omega, tau[i])
            mu[i, keep], post[i][np.ix_(keep, keep)] = m, p
            n_views[i] = has_view.sum()
        return mu, post, n_views

    def prior(self, ctx: StepContext, vol: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """(B, N) prior weights summing to 1 over the usable assets (inverse vol if none given)."""
        if self.prior_weights:
            unknown = set(self.prior_weights) - set(ctx.assets)
            if unknown:
                raise ConfigError(f"{self.key}.prior_weights names {sorted(unknown)}, not assets of the data")
            given = np.array([self.prior_weights.get(a, 0.0) for a in ctx.assets], dtype=float)
            raw = np.where(usable, given[None, :], 0.0)
            total = raw.sum(axis=1, keepdims=True)
            if (total > 0).all():
                return raw / total
        return optimize.inverse_volatility_weights(vol, usable, 1.0)


@register("step", "mean_cvar")
@dataclass(frozen=True)
class MeanCVaR(ReturnsStep, LongShortStep):
    """Scenario mean-CVaR over the trailing ``window`` daily returns, via cvxpy.

    ``min_cvar`` minimizes the CVaR at level ``alpha`` of the daily loss ``-R w``;
    ``utility`` minimizes ``risk_aversion * CVaR - mu'w`` with daily ``mu`` (the scenarios'
    mean for ``history``, Grinold's rule for ``signal``). Only assets with all ``window``
    returns can be held. ``estimator`` sets the covariance used for the inverse-volatility
    fallback and the signal's volatility scaling.

    Requires: prices (and a signal for ``expected_returns: signal``). Provides: weights.
    """

    objective: Literal["min_cvar", "utility"] = "min_cvar"
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.95
    risk_aversion: Positive = 1.0

    def features(self, n_scenarios):
        """``cov`` only: the scenarios come from the point-in-time view."""
        return BoundedStep.features(self, n_scenarios)

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = annual_cov(ctx, self.periods)
        usable = self.usable(ctx, cov, weights)
        scen, windows = self.scenarios(ctx)
        active = usable & (np.isfinite(scen).sum(axis=1) >= windows[:, None])
        mu = np.zeros(active.shape)
        if self.objective == "utility":
            mu = self.daily_mean(ctx, scen, cov, active)
            active &= np.isfinite(mu)
        lower, upper = self.bounds(ctx)
        problem = solvers.make_problem(
            "cvar", active, cov=cov, mu=mu, lower=lower, upper=upper, budget=budget_of(self, ctx), w0=ctx.weights,
            risk_aversion=per_scenario(self.risk_aversion, b)[:, 0], turnover=per_scenario(self.turnover_penalty, b)[:, 0],
            alpha=per_scenario(self.alpha, b)[:, 0], scenarios=scen, **self.long_short(ctx))
        w, diag = self.solve(problem, cov, ctx, usable)
        diag["n_scenarios"] = np.isfinite(scen).any(axis=2).sum(axis=1)
        return w, diag

    def scenarios(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """(B, W, N) trailing daily returns (rows beyond a scenario's own window are NaN)
        and each scenario's window (B,)."""
        windows = np.asarray(scenario_values(self.window, ctx.n_scenarios), dtype=int)
        hist = np.asarray(ctx.view.history("returns", int(windows.max())), dtype=float)
        scen = np.broadcast_to(hist, (ctx.n_scenarios,) + hist.shape).copy()
        for i, w in enumerate(windows):
            scen[i, : max(len(hist) - w, 0)] = np.nan
        return scen, windows

    def daily_mean(self, ctx, scen, cov, active) -> np.ndarray:
        """(B, N) daily expected returns for the ``utility`` objective."""
        if self.expected_returns == "history":
            finite = np.isfinite(scen)
            count = finite.sum(axis=1)
            total = np.where(finite, scen, 0.0).sum(axis=1)
            mean = np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)
            return np.where(active, mean, np.nan)
        return self.expected(ctx, cov, active) / year_of(self.periods, ctx)
