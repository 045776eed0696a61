"""Portfolio optimizers as plain functions: array cores the Steps call, and pandas forms.

The pandas forms take a covariance ``cov`` (N, N) DataFrame and expected returns ``mu``
(N,) Series in any consistent units (annualized in the Steps) and return a weights Series
over ``cov.columns``. An asset with a NaN or non-positive variance gets weight 0. They
solve through the same fallback chain as the Steps (:mod:`simlab.portfolio.solvers`), and
the Series carries its diagnostics in ``attrs["diagnostics"]``; with ``fallback=False`` a
failed solve raises :class:`~simlab.errors.SolverError` instead.

>>> import pandas as pd
>>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
>>> risk_parity(cov).round(6).tolist()
[0.333333, 0.666667]
>>> min_variance(cov, bounds=(0.0, 1.0)).round(6).tolist()
[0.2, 0.8]

Risk parity (equal risk contribution) solves Spinu's convex problem
``min 1/2 x'Cx - sum(b_i log x_i)`` on the correlation matrix C by damped Newton, batched
over scenarios, and rescales ``w = x / sigma``; at its optimum ``x_i (Cx)_i = b_i``.
HRP follows Lopez de Prado (2016): correlation distance ``sqrt((1 - rho) / 2)``, scipy
linkage (optionally with scipy's optimal leaf ordering, compiled in
:mod:`simlab.kernels.leaf_order`), then recursive bisection of the ordered
assets with inverse-variance weights inside each half, as PyPortfolioOpt's ``HRPOpt``
and skfolio's ``HierarchicalRiskParity`` do. Black-Litterman follows He and Litterman
(1999) with Idzorek's confidences in Walters' closed form, as PyPortfolioOpt does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.cluster.hierarchy as sch
import scipy.spatial.distance as ssd

from simlab.kernels.hrp import hrp_bisection_nb
from simlab.kernels.leaf_order import leaves_nb, optimal_leaf_order_nb
from simlab.kernels.problems import bad_rows_nb
from simlab.portfolio import solvers

LINKAGES = ("single", "complete", "average", "weighted", "centroid", "median", "ward")


# --------------------------------------------------------------------------- array cores


def usable_assets(cov: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(B, N) bool: active, with a finite positive variance and a finite row among such assets."""
    var = np.diagonal(cov, axis1=-2, axis2=-1)
    ok = active & np.isfinite(var) & (var > 0)
    return ok & ~bad_rows_nb(np.ascontiguousarray(cov, dtype=np.float64), np.ascontiguousarray(ok))


def inverse_volatility_weights(vol: np.ndarray, active: np.ndarray, budget, upper=1.0) -> np.ndarray:
    """(B, N) weights proportional to ``1 / vol`` over active assets, capped at ``upper``.

    Sums to ``budget`` (B,) where the caps allow it (the rest stays in cash); assets with a
    NaN or non-positive volatility get 0.
    """
    ok = active & np.isfinite(vol) & (vol > 0)
    raw = np.divide(1.0, vol, out=np.zeros(vol.shape), where=ok)
    budget = np.broadcast_to(np.asarray(budget, dtype=float).reshape(-1), (vol.shape[0],))
    return solvers.capped_weights(raw, np.broadcast_to(upper, vol.shape), budget)


def risk_parity_weights(
    cov: np.ndarray, active: np.ndarray, tol: float = 1e-13, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray, int]:
    """Equal-risk-contribution weights (B, N) summing to 1 over the usable assets.

    Parameters
    ----------
    cov : (B, N, N) covariance; rows of unusable assets are ignored.
    active : (B, N) bool, assets that may hold weight.

    Returns
    -------
    weights : (B, N), zero outside :func:`usable_assets`; a row of zeros if none.
    converged : (B,) bool, ``max |x_i (Cx)_i - 1/n| < tol`` was reached.
    iterations : Newton iterations run.
    """
    ok = usable_assets(cov, active)
    b, n = ok.shape
    sd = np.sqrt(np.where(ok, np.diagonal(cov, axis1=1, axis2=2), 1.0))
    pair = ok[:, :, None] & ok[:, None, :]
    eye = np.broadcast_to(np.eye(n, dtype=bool), (b, n, n))
    corr = np.where(pair, cov / (sd[:, :, None] * sd[:, None, :]), np.where(eye, 1.0, 0.0))
    count = ok.sum(axis=1, keepdims=True)
    budgets = np.divide(ok, count, out=np.zeros((b, n)), where=count > 0)
    ones = ok.astype(float)
    scale = np.einsum("bi,bij,bj->b", ones, corr, ones)
    x = ones / np.sqrt(np.where(scale > 0, scale, 1.0))[:, None]
    converged = count[:, 0] == 0
    it = 0
    for it in range(1, max_iter + 1):
        cx = np.einsum("bij,bj->bi", corr, x)
        converged = np.where(ok, np.abs(x * cx - budgets), 0.0).max(axis=1) < tol
        if converged.all():
            break
        x = _newton_step(corr, x, cx, budgets, ok)
    w = np.where(ok, x / sd, 0.0)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0), converged, it


def _newton_step(corr, x, cx, budgets, ok) -> np.ndarray:
    """One damped Newton step of Spinu's problem (self-concordant: stays in x > 0)."""
    safe_x = np.where(ok, x, 1.0)
    grad = np.where(ok, cx - budgets / safe_x, 0.0)
    hess = corr + np.einsum("bi,ij->bij", np.where(ok, budgets / safe_x**2, 0.0), np.eye(x.shape[1]))
    pair = ok[:, :, None] & ok[:, None, :]
    hess = np.where(pair, hess, np.eye(x.shape[1])[None])
    dx = np.linalg.solve(hess, grad[..., None])[..., 0]
    decrement = np.sqrt(np.maximum((grad * dx).sum(axis=1), 0.0))
    step = np.where(decrement > 0.25, 1.0 / (1.0 + decrement), 1.0)[:, None]
    return np.where(ok, x - step * dx, 0.0)


def risk_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """(..., N) share of portfolio variance from each asset: ``w_i (Σw)_i / w'Σw``."""
    marginal = np.einsum("...ij,...j->...i", cov, weights)
    total = (weights * marginal).sum(axis=-1, keepdims=True)
    return weights * marginal / total


def hrp_weights(cov: np.ndarray, linkage: str = "ward", optimal_ordering: bool = True) -> np.ndarray:
    """(N,) HRP weights summing to 1 for one finite covariance with positive variances."""
    n = cov.shape[0]
    if n == 1:
        return np.ones(1)
    order = hrp_order(cov, linkage, optimal_ordering)
    w = np.empty(n)
    w[order] = hrp_bisection_nb(np.ascontiguousarray(cov[np.ix_(order, order)]))
    return w


def hrp_order(cov: np.ndarray, linkage: str = "ward", optimal_ordering: bool = True) -> np.ndarray:
    """Asset order (N,) of the leaves of the correlation-distance dendrogram."""
    if linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {', '.join(LINKAGES)}; got {linkage!r}")
    sd = np.sqrt(np.diag(cov))
    corr = np.clip(cov / np.outer(sd, sd), -1.0, 1.0)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, 1.0))
    np.fill_diagonal(dist, 0.0)
    tree = sch.linkage(ssd.squareform(dist, checks=False), method=linkage)
    children = tree[:, :2].astype(np.int64)
    if optimal_ordering:  # scipy's optimal_leaf_ordering, compiled: the same order
        return optimal_leaf_order_nb(children, dist)
    return leaves_nb(children, len(dist))


def equilibrium_returns(cov: np.ndarray, weights: np.ndarray, delta: float, risk_free: float = 0.0) -> np.ndarray:
    """Implied excess returns ``pi = delta * cov @ w`` plus ``risk_free`` (reverse optimization)."""
    return delta * cov @ weights + risk_free


def idzorek_omega(confidences: np.ndarray, cov: np.ndarray, picks: np.ndarray, tau: float) -> np.ndarray:
    """(K, K) diagonal view uncertainty from confidences in (0, 1] (Idzorek, Walters' form).

    ``omega_k = tau * (1 - c_k) / c_k * p_k' cov p_k``; a confidence of 1 gives 0 (the view
    holds exactly).
    """
    c = np.asarray(confidences, dtype=float)
    if ((c <= 0) | (c > 1)).any():
        raise ValueError(f"view confidences must be in (0, 1]; got {c.tolist()}")
    spread = np.einsum("ki,ij,kj->k", picks, cov, picks)
    return np.diag(tau * (1.0 - c) / c * spread)


def black_litterman_core(
    cov: np.ndarray, pi: np.ndarray, picks: np.ndarray, views: np.ndarray, omega: np.ndarray, tau: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior returns (N,) and covariance (N, N) (He-Litterman, in the form stable at omega = 0).

    ``mu = pi + tau S P' (P tau S P' + Omega)^-1 (Q - P pi)`` and
    ``cov = S + tau S - tau S P' (P tau S P' + Omega)^-1 P tau S``.
    """
    if len(views) == 0:
        return pi.copy(), (1.0 + tau) * cov
    tsp = tau * cov @ picks.T
    a = picks @ tsp + omega
    mu = pi + tsp @ np.linalg.solve(a, views - picks @ pi)
    post = cov + tau * cov - tsp @ np.linalg.solve(a, tsp.T)
    return mu, 0.5 * (post + post.T)


# --------------------------------------------------------------------------- pandas forms


def min_variance(cov: pd.DataFrame, bounds=(0.0, 0.25), *, cash_buffer: float = 0.0,
                 current: pd.Series | None = None, turnover_penalty: float = 0.0,
                 fallback: bool = True, net: float | None = None, gross: float | None = None,
                 neutral: pd.Series | pd.DataFrame | None = None) -> pd.Series:
    """Minimum-variance weights: ``min w'Σw + kappa ||w - current||_1`` within ``bounds``.

    ``bounds`` is ``(lower, upper)`` for every asset or a mapping ``asset -> (lower, upper)``
    (assets not named get ``(0, 1)``); a negative lower bound allows a short. The weights
    sum to ``net`` (default ``1 - cash_buffer``); ``gross`` limits ``sum |w|``; ``neutral``
    holds the exposures it lists at 0 (a Series of betas: a beta-neutral book; a DataFrame:
    one exposure per column).
    """
    return mean_variance(None, cov, objective="utility", risk_aversion=2.0, bounds=bounds,
                         cash_buffer=cash_buffer, current=current, turnover_penalty=turnover_penalty,
                         fallback=fallback, net=net, gross=gross, neutral=neutral)


def max_sharpe(mu: pd.Series, cov: pd.DataFrame, bounds=(0.0, 0.25), risk_free: float = 0.0, *,
               cash_buffer: float = 0.0, fallback: bool = True, net: float | None = None,
               gross: float | None = None, neutral: pd.Series | pd.DataFrame | None = None) -> pd.Series:
    """Tangency weights: ``max (mu - risk_free)'w / sqrt(w'Σw)`` within ``bounds``.

    Infeasible when no asset that may be held has ``mu > risk_free``; then the fallback
    chain answers (or SolverError with ``fallback=False``). ``net``, ``gross`` and
    ``neutral`` as in :func:`min_variance`.
    """
    return mean_variance(mu, cov, objective="max_sharpe", bounds=bounds, risk_free=risk_free,
                         cash_buffer=cash_buffer, fallback=fallback, net=net, gross=gross, neutral=neutral)


def mean_variance(mu: pd.Series | None, cov: pd.DataFrame, *, objective: str = "utility",
                  risk_aversion: float = 1.0, bounds=(0.0, 1.0), risk_free: float = 0.0,
                  cash_buffer: float = 0.0, current: pd.Series | None = None,
                  turnover_penalty: float = 0.0, fallback: bool = True, net: float | None = None,
                  gross: float | None = None, neutral: pd.Series | pd.DataFrame | None = None) -> pd.Series:
    """Mean-variance weights, ``objective`` ``"utility"`` or ``"max_sharpe"`` (solvers docstring).

    ``utility`` maximizes ``mu'w - risk_aversion / 2 w'Σw - turnover_penalty ||w - current||_1``
    (PyPortfolioOpt's ``max_quadratic_utility`` convention); an asset with NaN ``mu`` gets 0.
    ``net``, ``gross`` and ``neutral`` as in :func:`min_variance`.
    """
    kind = {"utility": "utility", "max_sharpe": "max_sharpe"}.get(objective)
    if kind is None:
        raise ValueError(f"objective must be 'utility' or 'max_sharpe'; got {objective!r}")
    assets = cov.columns
    c = cov.loc[assets, assets].to_numpy(float)[None]
    m = None if mu is None else mu.reindex(assets).to_numpy(float)[None]
    active = usable_assets(c, np.ones((1, len(assets)), dtype=bool))
    if m is not None:
        active &= np.isfinite(m)
    lower, upper = _bounds(bounds, assets)
    problem = solvers.make_problem(kind, active, cov=c, mu=m, lower=lower, upper=upper,
                                   budget=_net(net, cash_buffer), w0=_current(current, assets),
                                   risk_aversion=risk_aversion, turnover=turnover_penalty, risk_free=risk_free,
                                   **_long_short(gross, neutral, assets))
    return _solve_series(problem, c, assets, _current(current, assets), fallback)


def mean_cvar(returns: pd.DataFrame, mu: pd.Series | None = None, *, alpha: float = 0.95,
              objective: str = "min_cvar", risk_aversion: float = 1.0, bounds=(0.0, 1.0),
              cash_buffer: float = 0.0, current: pd.Series | None = None, turnover_penalty: float = 0.0,
              fallback: bool = True, net: float | None = None, gross: float | None = None,
              neutral: pd.Series | pd.DataFrame | None = None) -> pd.Series:
    """Scenario CVaR weights over the rows of ``returns`` (T, N), via cvxpy.

    ``min_cvar`` minimizes the CVaR at level ``alpha`` of the loss ``-R w``; ``utility``
    minimizes ``risk_aversion * CVaR - mu'w`` (``mu`` in the units of ``returns``, default
    their mean). Rows with a NaN are dropped; a column that is all NaN gets weight 0.
    ``net``, ``gross`` and ``neutral`` as in :func:`min_variance`.
    """
    if objective not in ("min_cvar", "utility"):
        raise ValueError(f"objective must be 'min_cvar' or 'utility'; got {objective!r}")
    assets = returns.columns
    scen = returns.dropna(axis=1, how="all")
    active = assets.isin(scen.columns)[None] & np.ones((1, len(assets)), dtype=bool)
    r = returns.to_numpy(float)
    cov = np.nan_to_num(returns.cov().to_numpy(float))[None]
    m = np.zeros((1, len(assets)))
    if objective == "utility":
        m = (returns.mean() if mu is None else mu.reindex(assets)).to_numpy(float)[None]
        active &= np.isfinite(m)
    lower, upper = _bounds(bounds, assets)
    problem = solvers.make_problem("cvar", active, cov=cov, mu=m, lower=lower, upper=upper,
                                   budget=_net(net, cash_buffer), w0=_current(current, assets),
                                   risk_aversion=risk_aversion, turnover=turnover_penalty, alpha=alpha,
                                   scenarios=r[None], **_long_short(gross, neutral, assets))
    return _solve_series(problem, cov, assets, _current(current, assets), fallback)


def risk_parity(cov: pd.DataFrame) -> pd.Series:
    """Long-only equal-risk-contribution weights summing to 1 (see the module docstring)."""
    c = cov.to_numpy(float)[None]
    w, converged, _ = risk_parity_weights(c, np.ones((1, len(cov)), dtype=bool))
    out = pd.Series(w[0], index=cov.columns, name="weight")
    out.attrs["diagnostics"] = {"converged": bool(converged[0])}
    return out


def hrp(returns: pd.DataFrame, linkage: str = "ward", optimal_ordering: bool = True,
        cov: pd.DataFrame | None = None) -> pd.Series:
    """Hierarchical risk parity weights from daily ``returns`` (T, N).

    Correlations and variances come from ``returns.cov()`` (pairwise, ddof=1) unless
    ``cov`` is given; columns without a finite positive variance get weight 0.
    """
    cov = returns.cov() if cov is None else cov.loc[returns.columns, returns.columns]
    c = cov.to_numpy(float)
    ok = usable_assets(c[None], np.ones((1, len(c)), dtype=bool))[0]
    w = np.zeros(len(c))
    if ok.any():
        w[ok] = hrp_weights(c[np.ix_(ok, ok)], linkage, optimal_ordering)
    return pd.Series(w, index=returns.columns, name="weight")


def black_litterman_posterior(cov: pd.DataFrame, pi: pd.Series, views: pd.Series, confidences=1.0,
                              tau: float = 0.05) -> tuple[pd.Series, pd.DataFrame]:
    """Posterior returns and covariance from absolute ``views`` (asset -> expected return).

    ``pi`` is the prior (for example :func:`equilibrium_returns` of market weights);
    ``confidences`` (a number or one per view, in (0, 1]) set Omega by Idzorek's method.
    """
    assets = cov.columns
    views = views.dropna()
    picks = (views.index.to_numpy()[:, None] == assets.to_numpy()[None, :]).astype(float)
    c = cov.to_numpy(float)
    conf = np.broadcast_to(np.asarray(confidences, dtype=float), (len(views),))
    omega = idzorek_omega(conf, c, picks, tau)
    mu, post = black_litterman_core(c, pi.reindex(assets).to_numpy(float), picks, views.to_numpy(float), omega, tau)
    return pd.Series(mu, index=assets, name="posterior"), pd.DataFrame(post, index=assets, columns=assets)


def black_litterman(cov: pd.DataFrame, views: pd.Series, confidences=1.0, *,
                    prior_weights: pd.Series | None = None, tau: float = 0.05, delta: float = 2.5,
                    bounds=(0.0, 1.0), cash_buffer: float = 0.0, current: pd.Series | None = None,
                    turnover_penalty: float = 0.0, fallback: bool = True) -> pd.Series:
    """Black-Litterman weights: the utility problem (``risk_aversion = delta``) on the posterior.

    The prior is ``pi = delta * cov @ prior_weights`` (market weights; inverse-volatility
    weights when not given).
    """
    assets = cov.columns
    c = cov.to_numpy(float)
    if prior_weights is None:
        prior = inverse_volatility_weights(np.sqrt(np.diag(c))[None], np.ones((1, len(c)), dtype=bool), 1.0)[0]
    else:
        prior = prior_weights.reindex(assets).fillna(0.0).to_numpy(float)
    pi = pd.Series(equilibrium_returns(c, prior, delta), index=assets)
    mu, post = black_litterman_posterior(cov, pi, views, confidences, tau)
    return mean_variance(mu, post, objective="utility", risk_aversion=delta, bounds=bounds,
                         cash_buffer=cash_buffer, current=current, turnover_penalty=turnover_penalty,
                         fallback=fallback)


def _bounds(bounds, assets: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(N,) lower and upper from ``(lo, hi)`` or ``{asset: (lo, hi)}`` (others (0, 1))."""
    if isinstance(bounds, Mapping):
        unknown = set(bounds) - set(assets)
        if unknown:
            raise ValueError(f"bounds name assets not in the covariance: {sorted(unknown)}")
        pairs = [bounds.get(a, (0.0, 1.0)) for a in assets]
    else:
        pairs = [tuple(bounds)] * len(assets)
    lower, upper = (np.array(v, dtype=float) for v in zip(*pairs)) if pairs else (np.zeros(0), np.zeros(0))
    if (lower > upper).any() or not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise ValueError("bounds must be finite and satisfy lower <= upper (a negative lower bound allows a short)")
    return lower, upper


def _net(net: float | None, cash_buffer: float) -> float:
    """What the weights sum to: ``net`` when given, else ``1 - cash_buffer``."""
    return 1.0 - cash_buffer if net is None else float(net)


def _long_short(gross, neutral, assets: pd.Index) -> dict:
    """``make_problem`` keywords for a gross limit and exposures held at 0."""
    out: dict = {}
    if gross is not None:
        if not gross > 0:
            raise ValueError(f"gross must be a positive limit on sum |w|; got {gross!r}")
        out["gross"] = float(gross)
    if neutral is not None:
        frame = neutral.to_frame() if isinstance(neutral, pd.Series) else neutral
        missing = assets.difference(frame.index)
        if len(missing):
            raise ValueError(f"neutral has no exposure for assets {list(missing)}")
        out["rows"] = frame.reindex(assets).to_numpy(float).T[None]
    return out


def _current(current: pd.Series | None, assets: pd.Index) -> np.ndarray:
    if current is None:
        return np.zeros((1, len(assets)))
    return current.reindex(assets).fillna(0.0).to_numpy(float)[None]


def _solve_series(problem, cov: np.ndarray, assets: pd.Index, current: np.ndarray, fallback: bool) -> pd.Series:
    if not fallback:
        w = solvers.solve_or_raise(problem)
        diag = {}
    else:
        vol = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        phase2 = inverse_volatility_weights(vol, problem.active, problem.budget, problem.upper)
        res = solvers.solve(problem, solvers.usable_fallback(problem, phase2), current)
        w, diag = res.weights, {k: np.asarray(v)[0].item() for k, v in res.diagnostics.items()}
    out = pd.Series(w[0], index=assets, name="weight")
    out.attrs["diagnostics"] = diag
    return out
