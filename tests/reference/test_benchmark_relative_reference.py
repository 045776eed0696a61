"""Benchmark-relative and frontier problems against cvxpy + Clarabel written out plainly.

On the built-in S&P 500 data (20 stocks, 2015-2018 daily returns, sample covariance and
mean, annualized): minimum tracking error (active bounds, per-asset costs and fees, a
return floor), maximum return within a tracking-error cap, and the two frontier points
(target return, target volatility). Each solver of the chain (the batched ADMM kernel,
the compiled cvxpy templates) must agree with an independent cvxpy model solved to tight
tolerances: weights within 1e-6, objective within 1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest

from simlab.data import load
from simlab.portfolio import active_problems as ap
from simlab.portfolio import solvers

cp = pytest.importorskip("cvxpy")
pytestmark = pytest.mark.peers

if "CLARABEL" not in cp.installed_solvers():  # pragma: no cover - depends on the install
    pytest.skip("Clarabel is not installed", allow_module_level=True)

W_TOL, OBJ_TOL = 1e-6, 1e-8


@pytest.fixture(scope="module")
def market():
    returns = load("builtin:sp500_20").close.loc["2015":"2018"].pct_change().dropna()
    cov = returns.cov().to_numpy() * 252
    mu = returns.mean().to_numpy() * 252
    n = len(mu)
    rng = np.random.default_rng(7)
    bench = rng.dirichlet(np.ones(n) * 3)
    w0 = rng.dirichlet(np.ones(n))
    cost = rng.uniform(5, 30, n) * 1e-4
    fee = rng.uniform(0, 50, n) * 1e-4
    return {"cov": cov, "mu": mu, "bench": bench, "w0": w0, "cost": cost, "fee": fee, "n": n}


def reference(kind, m, bench, lo, hi, cost, fee, max_te=np.inf, floor=-np.inf, budget=1.0):
    """The problem as cvxpy reads it from its definition, solved to 1e-10 (the objective
    normalized to a unit mean variance, the cap written with the Cholesky factor and scaled to 1, so that Clarabel's absolute
    tolerances do not swamp annual variances of ~1e-3)."""
    n = m["n"]
    scale = n / np.trace(m["cov"])
    w = cp.Variable(n)
    trade = cost @ cp.abs(w - m["w0"])
    cons = [cp.sum(w) == budget, w >= lo, w <= hi]
    if kind == "min_tracking_error":
        obj = scale * (cp.quad_form(w - bench, cp.psd_wrap(m["cov"])) + trade + fee @ w)
        if np.isfinite(floor):
            cons.append(m["mu"] @ (w - bench) >= floor)
    else:
        obj = -(m["mu"] @ w - fee @ w - trade)
        chol = np.linalg.cholesky(m["cov"]).T / max_te
        cons.append(cp.norm(chol @ (w - bench), 2) <= 1.0)
        scale = 1.0
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert prob.status == "optimal"
    return w.value, prob.value / scale


CASES = {
    # name: (kind, benchmark?, active bounds, max weight, costs?, max_te, floor)
    "min_te_active_bounds_costs": ("min_tracking_error", True, 0.02, 0.10, True, np.inf, -np.inf),
    "min_te_return_floor": ("min_tracking_error", True, 0.05, 0.15, True, np.inf, 0.03),
    "min_te_equal_weight_tight": ("min_tracking_error", False, 0.01, 1.0, False, np.inf, -np.inf),
    "target_return": ("min_tracking_error", None, np.inf, 0.25, True, np.inf, 0.20),
    "max_return_te_cap": ("max_return", True, 0.05, 0.15, True, 0.03, -np.inf),
    "target_volatility": ("max_return", None, np.inf, 0.30, True, 0.16, -np.inf),
}


def case_problem(name, m, solve=True):
    kind, bench_kind, band, cap, costs, max_te, floor = CASES[name]
    n = m["n"]
    bench = {True: m["bench"], False: np.full(n, 1.0 / n), None: np.zeros(n)}[bench_kind]
    cost = m["cost"] if costs else np.zeros(n)
    fee = m["fee"] if costs else np.zeros(n)
    problem = ap.make_active_problem(kind, np.ones((1, n), bool), cov=m["cov"], bench=bench, mu=m["mu"],
                                     upper=cap, active_lower=-band, active_upper=band, w0=m["w0"],
                                     cost=cost, fee=fee, max_te=max_te, min_excess=floor)
    if not solve:
        return problem, None
    return problem, reference(kind, m, bench, problem.lower[0], problem.upper[0], cost, fee, max_te, floor)


# the native kernel solves QPs only: the tracking-error cap (a cone) is cvxpy's alone
SOLVER_CASES = [(solver, name) for name, case in CASES.items() for solver in ("native", "cvxpy")
                if solver == "cvxpy" or case[0] == "min_tracking_error"]


def test_native_chain_declines_the_cone_problems(market):
    native = ap.CHAINS["native"][0]
    for name, case in CASES.items():
        assert native.covers(case_problem(name, market, solve=False)[0]) == (case[0] == "min_tracking_error")


@pytest.mark.parametrize(("solver", "name"), SOLVER_CASES)
def test_solver_matches_cvxpy_on_builtin_data(market, name, solver):
    chain = ap.CHAINS[solver]
    assert chain[0].covers(case_problem(name, market, solve=False)[0])
    problem, (w_ref, obj_ref) = case_problem(name, market)
    w, status = chain[0].solve(problem, np.array([0]))
    assert status[0] == solvers.SOLVED
    assert ap.accept(w, problem, np.array([0]))[0]
    np.testing.assert_allclose(w[0], w_ref, atol=W_TOL, rtol=0)
    assert abs(ap.objective(w, problem)[0] - obj_ref) <= OBJ_TOL


def test_every_case_is_binding(market):
    """The cases test what they say: the cap, the floor and the bands are active at the optimum."""
    for name in CASES:
        problem, (w_ref, _) = case_problem(name, market)
        kind, _, band, _, _, max_te, floor = CASES[name]
        if np.isfinite(max_te):
            assert ap.tracking_error(w_ref[None], problem)[0] == pytest.approx(max_te, abs=1e-7), name
        if np.isfinite(floor):
            excess = market["mu"] @ (w_ref - problem.bench[0])
            assert excess == pytest.approx(floor, abs=1e-7), name
        if np.isfinite(band) and kind == "min_tracking_error" and not np.isfinite(floor):
            assert np.isclose(np.abs(w_ref - problem.bench[0]), band, atol=1e-7).any() or name.endswith("tight")
