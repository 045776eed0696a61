"""Long-short problems against an independent cvxpy + Clarabel model on the built-in data.

Each problem is written here from scratch in cvxpy (``norm1`` for the gross limit, the
exposure rows as equalities) and solved by Clarabel at tight tolerances; simlab's answer
(batched native kernel for the quadratic problems, its own cvxpy templates for the
tangency and CVaR problems) must match it: weights within 1e-6, objective within 1e-8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.data import load
from simlab.portfolio import optimize, solvers

cp = pytest.importorskip("cvxpy")
pytestmark = pytest.mark.peers

if "CLARABEL" not in cp.installed_solvers():  # pragma: no cover - depends on the install
    pytest.skip("Clarabel is not installed", allow_module_level=True)

TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


@pytest.fixture(scope="module")
def market():
    """Annualized Ledoit-Wolf-free sample covariance and mean of the last two years, and
    betas to the equal-weight portfolio of the 20 names."""
    md = load("builtin:sp500_20")
    returns = md.close.pct_change().iloc[-504:].dropna(axis=1)
    cov = returns.cov() * 252
    mu = returns.mean() * 252
    market_ret = returns.mean(axis=1)
    beta = returns.apply(lambda col: col.cov(market_ret)) / market_ret.var()
    return returns, cov, mu, beta


def reference(objective, n, constraints):
    w = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(objective(w)), constraints(w))
    prob.solve(solver="CLARABEL", **TIGHT)
    assert prob.status == "optimal"
    return w.value, prob.value


CASES = {
    # name: (net, gross, lower, upper, beta-neutral, risk aversion, turnover penalty)
    "dollar_neutral": (0.0, 2.0, -0.25, 0.25, False, 4.0, 0.0),
    "130_30": (1.0, 1.6, -0.10, 0.30, False, 4.0, 0.0),
    "130_30_turnover": (1.0, 1.6, -0.10, 0.30, False, 4.0, 0.01),
    "beta_neutral": (0.0, 2.0, -0.25, 0.25, True, 4.0, 0.0),
    "shorts_no_gross": (1.0, None, -0.05, 0.30, False, 4.0, 0.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_utility_native_matches_clarabel(market, case):
    _, cov, mu, beta = market
    net, gross, lo, hi, neutral, gamma, kappa = CASES[case]
    current = pd.Series(np.linspace(-0.05, 0.1, len(mu)), index=mu.index)
    got = optimize.mean_variance(mu, cov, objective="utility", risk_aversion=gamma, bounds=(lo, hi), net=net,
                                 gross=gross, neutral=beta if neutral else None, current=current,
                                 turnover_penalty=kappa, fallback=False)
    s, m, w0 = cov.to_numpy(), mu.to_numpy(), current.to_numpy()

    def objective(w):
        return gamma / 2 * cp.quad_form(w, cp.psd_wrap(s)) - m @ w + kappa * cp.norm1(w - w0)

    def constraints(w):
        out = [cp.sum(w) == net, w >= lo, w <= hi]
        out += [] if gross is None else [cp.norm1(w) <= gross]
        return out + ([beta.to_numpy() @ w == 0] if neutral else [])

    want, value = reference(objective, len(m), constraints)
    w = got.to_numpy()
    ours = gamma / 2 * w @ s @ w - m @ w + kappa * np.abs(w - w0).sum()
    assert np.abs(w - want).max() < 1e-6
    assert abs(ours - value) < 1e-8
    assert abs(w.sum() - net) < 1e-9
    if gross is not None:
        assert np.abs(w).sum() <= gross + 1e-9
    assert (w < -1e-4).any()  # the book really is long-short


def test_native_batch_equals_single_solves(market):
    """Three long-short scenarios in one kernel call give each scenario's own answer."""
    _, cov, mu, _ = market
    n = len(mu)
    c = np.broadcast_to(cov.to_numpy(), (3, n, n))
    problem = solvers.make_problem("utility", np.ones((3, n), dtype=bool), cov=c, mu=mu.to_numpy(),
                                   lower=-0.2, upper=0.3, budget=np.array([0.0, 1.0, 1.0]),
                                   gross=np.array([2.0, 1.6, np.inf]), risk_aversion=4.0)
    batch = solvers.solve_or_raise(problem, (solvers.NATIVE,))
    for b in range(3):
        single = solvers.make_problem("utility", np.ones((1, n), dtype=bool), cov=c[:1], mu=mu.to_numpy(),
                                      lower=-0.2, upper=0.3, budget=problem.budget[b], gross=problem.gross[b],
                                      risk_aversion=4.0)
        # a scenario without a finite gross limit is solved in the split form within the batch,
        # in the plain form alone: the same optimum to the solver's accuracy
        atol = 1e-9 if np.isfinite(problem.gross[b]) else 1e-6
        np.testing.assert_allclose(batch[b], solvers.solve_or_raise(single, (solvers.NATIVE,))[0], atol=atol)


def test_max_sharpe_130_30_matches_clarabel(market):
    """Tangency with shorts, net 1 and gross 1.6, through simlab's homogenized template
    (Clarabel at the same tight tolerances on both sides; the default ones agree to ~1e-8)."""
    _, cov, mu, _ = market
    s, m = cov.to_numpy(), mu.to_numpy()
    problem = solvers.make_problem("max_sharpe", np.ones((1, len(m)), dtype=bool), cov=s, mu=m, lower=-0.1,
                                   upper=0.3, budget=1.0, gross=1.6)
    got = solvers.solve_or_raise(problem, (solvers.CvxpyClarabel(options=TIGHT),))[0]
    loose = optimize.max_sharpe(mu, cov, bounds=(-0.1, 0.3), net=1.0, gross=1.6, fallback=False).to_numpy()
    assert np.abs(loose - got).max() < 1e-6
    y, k = cp.Variable(len(m)), cp.Variable(nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.quad_form(y, cp.psd_wrap(s))),
                      [m @ y == 1, cp.sum(y) == k, y >= -0.1 * k, y <= 0.3 * k, cp.norm1(y) <= 1.6 * k])
    prob.solve(solver="CLARABEL", **TIGHT)
    want = y.value / k.value
    assert np.abs(got - want).max() < 1e-6
    sharpe = lambda w: m @ w / np.sqrt(w @ s @ w)  # noqa: E731
    assert abs(sharpe(got) - sharpe(want)) < 1e-8
    assert np.abs(got).sum() <= 1.6 + 1e-9


def test_min_cvar_dollar_neutral_matches_clarabel(market):
    returns, *_ = market
    r = returns.iloc[-250:]
    got = optimize.mean_cvar(r, alpha=0.9, bounds=(-0.2, 0.2), net=0.0, gross=1.0, fallback=False).to_numpy()
    x = r.to_numpy()
    w, zeta = cp.Variable(x.shape[1]), cp.Variable()
    cvar = zeta + cp.sum(cp.pos(-x @ w - zeta)) / (0.1 * len(x))
    prob = cp.Problem(cp.Minimize(cvar), [cp.sum(w) == 0, cp.norm1(w) <= 1.0, w >= -0.2, w <= 0.2])
    prob.solve(solver="CLARABEL", **TIGHT)
    losses = lambda v: np.sort(-x @ v)  # noqa: E731
    tail = lambda v: losses(v)[int(np.ceil(0.9 * len(x))):].mean()  # noqa: E731
    assert abs(tail(got) - tail(w.value)) < 1e-6  # CVaR is flat in places: compare the value
    assert abs(prob.value - tail(got)) < 1e-6 or abs(prob.value - tail(w.value)) < 1e-6
    assert abs(got.sum()) < 1e-6 and np.abs(got).sum() <= 1.0 + 1e-6


def test_bounds_accept_shorts_and_refuse_crossed_pairs(market):
    _, cov, *_ = market
    with pytest.raises(ValueError, match="lower <= upper"):
        optimize.min_variance(cov, bounds=(0.3, 0.1))
    w = optimize.min_variance(cov, bounds=(-0.2, 0.4), gross=1.4)
    assert abs(w.sum() - 1) < 1e-9 and np.abs(w).sum() <= 1.4 + 1e-9


def test_fallback_never_breaks_a_long_short_constraint(market):
    """A dollar-neutral problem the solvers cannot answer holds the book: the long-only
    inverse-volatility fallback does not sum to 0 and is not used."""
    _, cov, *_ = market
    n = len(cov)
    problem = solvers.make_problem("utility", np.ones((1, n), dtype=bool), cov=cov.to_numpy(), lower=-0.2,
                                   upper=0.2, budget=0.0, gross=2.0)
    phase2 = optimize.inverse_volatility_weights(np.sqrt(np.diag(cov.to_numpy()))[None], problem.active, 0.0, 0.2)
    current = np.full((1, n), 0.0)
    res = solvers.solve(problem, solvers.usable_fallback(problem, phase2), current, solvers=())
    assert res.diagnostics["fallback_level"][0] == solvers.LEVEL_HOLD


def test_split_problem_solves_the_same_on_the_array_namespace_backend(market):
    """The split form is an ordinary kernel problem: the numpy twin of the kernel (the one
    cupy runs on a GPU) gives the numba kernel's answer."""
    from simlab.kernels.qp_solve import solve_qp

    _, cov, mu, _ = market
    n = len(mu)
    problem = solvers.make_problem("utility", np.ones((2, n), dtype=bool), cov=cov.to_numpy(), mu=mu.to_numpy(),
                                   lower=-0.2, upper=0.3, budget=np.array([0.0, 1.0]), gross=np.array([2.0, 1.6]),
                                   risk_aversion=4.0)
    args = solvers.split_problem(problem, np.arange(2))
    numba, xp = solve_qp(**args), solve_qp(**args, backend="numpy")
    assert (numba.status == 0).all() and (xp.status == 0).all()
    w_numba, w_xp = (r.w[:, :n] - r.w[:, n:] for r in (numba, xp))
    np.testing.assert_allclose(w_xp, w_numba, atol=1e-7)


@pytest.mark.parametrize(("net", "gross"), [(1.0, 1.6), (0.0, 2.0)])
def test_batched_kernel_over_rolling_windows_matches_clarabel(net, gross):
    """Sixteen rolling two-year windows of the built-in data in one kernel call, each
    against its own Clarabel solve: weights within 1e-6, objective within 1e-8."""
    r = load("builtin:sp500_20").close.pct_change().dropna()
    windows = [r.iloc[i * 120: i * 120 + 504] for i in range(16)]
    covs = np.stack([w.cov().to_numpy() * 252 for w in windows])
    mus = np.stack([w.mean().to_numpy() * 252 for w in windows])
    n = covs.shape[1]
    problem = solvers.make_problem("utility", np.ones((16, n), dtype=bool), cov=covs, mu=mus, lower=-0.15,
                                   upper=0.3, budget=net, gross=gross, risk_aversion=4.0)
    got = solvers.solve_or_raise(problem, (solvers.NATIVE,))
    for b in range(16):
        def objective(w, b=b):
            return 2.0 * cp.quad_form(w, cp.psd_wrap(covs[b])) - mus[b] @ w

        want, value = reference(objective, n, lambda w: [cp.sum(w) == net, cp.norm1(w) <= gross,
                                                          w >= -0.15, w <= 0.3])
        assert np.abs(got[b] - want).max() < 1e-6
        assert abs(2.0 * got[b] @ covs[b] @ got[b] - mus[b] @ got[b] - value) < 1e-8
