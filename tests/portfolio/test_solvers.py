"""The solver interface and its fallback chain: every attempt recorded, never a NaN weight."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import SolverError
from simlab.portfolio import solvers
from simlab.contract.step import HOLD


def random_cov(n, seed=0, t=300, scale=0.2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, n)) @ rng.normal(size=(n, n)) * scale / np.sqrt(n)
    return np.cov(x.T)


def problem(kind="utility", b=2, n=5, **kw):
    cov = np.stack([random_cov(n, seed=i) for i in range(b)])
    kw.setdefault("upper", 0.5)
    return solvers.make_problem(kind, np.ones((b, n), dtype=bool), cov=cov, **kw)


class Scripted:
    """A fake solver answering fixed weights and statuses (to drive the chain)."""

    def __init__(self, name, weights, status, covers=True):
        self.name, self.weights, self.status, self._covers = name, weights, np.asarray(status), covers
        self.calls = []

    def covers(self, problem):
        return self._covers

    def solve(self, problem, rows):
        self.calls.append(rows.tolist())
        return self.weights[rows], self.status[rows]


# --------------------------------------------------------------------------- building problems


def test_make_problem_pins_inactive_assets_and_cleans_nan():
    cov = np.full((1, 3, 3), np.nan)
    cov[0, :2, :2] = [[0.04, 0.01], [0.01, 0.09]]
    p = solvers.make_problem("utility", np.array([[True, True, False]]), cov=cov,
                             mu=np.array([[0.1, np.nan, np.nan]]), upper=0.8, budget=0.9)
    assert np.isfinite(p.cov).all() and np.isfinite(p.mu).all()
    np.testing.assert_array_equal(p.upper, [[0.8, 0.0, 0.0]])  # asset 1: NaN mu; asset 2: NaN covariance
    np.testing.assert_array_equal(p.active, [[True, False, False]])
    assert p.budget.tolist() == [0.9]


def test_make_problem_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of utility, max_sharpe, cvar"):
        solvers.make_problem("sharpe", np.ones((1, 2), dtype=bool))


def test_bounds_feasibility_precheck():
    p = problem(b=3, n=4, upper=np.array([[0.2], [0.25], [0.3]]), budget=1.0)
    np.testing.assert_array_equal(solvers.bounds_feasible(p), [False, True, True])
    p = problem(b=1, n=4, lower=0.3, upper=0.5)  # lower bounds sum to 1.2 > 1
    assert not solvers.bounds_feasible(p)[0]


def test_capped_weights_water_fills_and_leaves_the_rest_in_cash():
    raw = np.array([[4.0, 3.0, 2.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    w = solvers.capped_weights(raw, np.array([[0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3]]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(w[0], [0.3, 0.3, 0.4 * 2 / 3, 0.4 / 3])
    np.testing.assert_allclose(w[1], [0.3, 0.3, 0.0, 0.0])  # 0.4 cannot be placed: cash
    assert (w <= 0.3 + 1e-15).all()


# --------------------------------------------------------------------------- the chain


def test_chain_tries_the_next_solver_only_where_the_first_failed():
    p = problem(b=3)
    good = np.full((3, 5), 0.2)
    first = Scripted("first", good, [solvers.SOLVED, solvers.INFEASIBLE, solvers.FAILED])
    second = Scripted("second", good, [solvers.SOLVED] * 3)
    res = solvers.solve(p, None, np.zeros((3, 5)), [first, second])
    assert first.calls == [[0, 1, 2]] and second.calls == [[1, 2]]
    np.testing.assert_array_equal(res.diagnostics["attempt.first"], [1, 3, 5])
    np.testing.assert_array_equal(res.diagnostics["attempt.second"], [0, 1, 1])
    np.testing.assert_array_equal(res.diagnostics["fallback_level"], [0, 0, 0])
    np.testing.assert_allclose(res.weights, good)


def test_a_solution_outside_the_constraints_is_invalid_and_passed_on():
    p = problem(b=2)
    bad = np.array([[0.6, 0.1, 0.1, 0.1, 0.1], [np.nan] * 5])  # over the 0.5 cap; NaN
    first = Scripted("first", bad, [solvers.SOLVED, solvers.INACCURATE])
    fallback = np.full((2, 5), 0.1)
    res = solvers.solve(p, fallback, np.zeros((2, 5)), [first])
    np.testing.assert_array_equal(res.diagnostics["attempt.first"], [solvers.INVALID] * 2)
    np.testing.assert_array_equal(res.diagnostics["fallback_level"], [1, 1])
    np.testing.assert_allclose(res.weights, fallback)


def test_unusable_fallback_holds_the_book_and_flags_hold():
    p = problem(b=2)
    first = Scripted("first", np.full((2, 5), np.nan), [solvers.FAILED] * 2)
    fallback = np.array([[0.2] * 5, [np.nan] * 5])
    current = np.array([[0.0] * 5, [0.1, 0.2, 0.3, 0.0, 0.0]])
    res = solvers.solve(p, fallback, current, [first])
    np.testing.assert_array_equal(res.diagnostics["fallback_level"], [1, 2])
    np.testing.assert_array_equal(res.diagnostics[HOLD], [False, True])
    np.testing.assert_allclose(res.weights[1], current[1])
    assert np.isfinite(res.weights).all()


def test_solver_not_covering_the_problem_is_recorded_unavailable():
    p = problem(b=1)
    absent = Scripted("absent", None, None, covers=False)
    res = solvers.solve(p, None, np.zeros((1, 5)), [absent, solvers.CVXPY])
    assert res.diagnostics["attempt.absent"][0] == solvers.UNAVAILABLE
    assert res.diagnostics["attempt.cvxpy"][0] == solvers.SOLVED


def test_infeasible_bounds_skip_the_solvers():
    p = problem(b=1, n=4, upper=0.2)  # 4 x 0.2 < 1
    spy = Scripted("spy", np.zeros((1, 4)), [solvers.SOLVED])
    fallback = solvers.capped_weights(np.ones((1, 4)), p.upper, p.budget)
    res = solvers.solve(p, fallback, np.zeros((1, 4)), [spy])
    assert spy.calls == []
    assert res.diagnostics["bounds_infeasible"][0] == 1.0
    assert res.diagnostics["fallback_level"][0] == 1
    np.testing.assert_allclose(res.weights, [[0.2] * 4])  # capped inverse-vol, 20% in cash


def test_solve_or_raise_names_the_reason():
    with pytest.raises(SolverError, match="bounds cannot sum to the budget"):
        solvers.solve_or_raise(problem(b=1, n=4, upper=0.2))
    mu = -np.ones((1, 4)) * 0.1  # no asset beats the risk-free rate: tangency infeasible
    with pytest.raises(SolverError, match="infeasible"):
        solvers.solve_or_raise(problem("max_sharpe", b=1, n=4, mu=mu), [solvers.CVXPY])


# --------------------------------------------------------------------------- cvxpy and the native kernel


def test_cvxpy_min_variance_matches_the_closed_form_without_binding_bounds():
    cov = random_cov(4, seed=3)
    p = solvers.make_problem("utility", np.ones((1, 4), dtype=bool), cov=cov[None], upper=1.0, risk_aversion=2.0)
    w, status = solvers.CVXPY.solve(p, np.array([0]))
    inv = np.linalg.solve(cov, np.ones(4))
    expected = inv / inv.sum()
    assert status[0] == solvers.SOLVED
    if (expected > 0).all():  # an interior optimum: the unconstrained formula holds
        np.testing.assert_allclose(w[0], expected, atol=1e-6)


def test_singular_covariance_still_solves():
    cov = random_cov(3, seed=1)
    big = np.zeros((4, 4))
    big[:3, :3] = cov
    big[3, :3] = big[:3, 3] = cov[0]
    big[3, 3] = cov[0, 0]  # asset 3 duplicates asset 0: rank 3
    assert np.linalg.matrix_rank(big) == 3
    p = solvers.make_problem("utility", np.ones((1, 4), dtype=bool), cov=big[None], upper=0.6, risk_aversion=2.0)
    res = solvers.solve(p, None, np.zeros((1, 4)))
    assert res.diagnostics["fallback_level"][0] == 0
    np.testing.assert_allclose(res.weights.sum(), 1.0, atol=1e-6)
    # the duplicated pair holds what asset 0 alone would hold
    alone = solvers.solve(solvers.make_problem("utility", np.ones((1, 3), dtype=bool), cov=cov[None], upper=1.0,
                                               risk_aversion=2.0), None, np.zeros((1, 3)))
    np.testing.assert_allclose(res.weights[0, 0] + res.weights[0, 3], alone.weights[0, 0], atol=1e-4)


def test_max_sharpe_turnover_zero_is_the_tangency_and_a_penalty_trades_less():
    n = 6
    cov = random_cov(n, seed=5)[None]
    mu = np.array([[0.08, 0.05, 0.12, 0.02, 0.07, 0.10]])
    w0 = np.full((1, n), 1.0 / n)
    plain = solvers.make_problem("max_sharpe", np.ones((1, n), dtype=bool), cov=cov, mu=mu, upper=0.5, w0=w0)
    w_star, _ = solvers.CVXPY.solve(plain, np.array([0]))
    sharpe = (mu @ w_star.T).item() / np.sqrt((w_star @ cov[0] @ w_star.T).item())
    rng = np.random.default_rng(0)
    for _ in range(200):  # no feasible point beats the tangency's Sharpe ratio
        x = solvers.capped_weights(rng.dirichlet(np.ones(n))[None], np.full((1, n), 0.5), np.ones(1))
        if abs(x.sum() - 1) < 1e-9:
            assert (mu @ x.T).item() / np.sqrt((x @ cov[0] @ x.T).item()) <= sharpe + 1e-7
    penalized = solvers.make_problem("max_sharpe", np.ones((1, n), dtype=bool), cov=cov, mu=mu, upper=0.5, w0=w0,
                                     turnover=0.02)
    w_pen, status = solvers.CVXPY.solve(penalized, np.array([0]))
    assert status[0] == solvers.SOLVED
    assert np.abs(w_pen - w0).sum() < np.abs(w_star - w0).sum()


def test_native_kernel_agrees_with_cvxpy():
    """Tolerance 1e-5 on weights: both solve to KKT precision (Clarabel tightened to 1e-12
    gaps here, the ADMM kernel polished); the default Clarabel gap (1e-8 on a flat
    minimum-variance objective) alone would move weights by ~1e-4."""
    if not solvers.NATIVE.covers(problem()):
        pytest.skip("simlab.kernels.qp_solve is not importable")
    b, n = 12, 15
    rng = np.random.default_rng(4)
    cov = np.stack([random_cov(n, seed=s) for s in range(b)])
    mu = rng.normal(0.08, 0.05, (b, n))
    tight = solvers.CvxpyClarabel(options={"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12,
                                           "tol_ktratio": 1e-10})
    for kw in ({"risk_aversion": 2.0}, {"mu": mu, "risk_aversion": 3.0}, {"mu": mu, "risk_aversion": 3.0,
                                                                          "turnover": 0.01}):
        p = solvers.make_problem("utility", np.ones((b, n), dtype=bool), cov=cov, upper=0.2, budget=0.95,
                                 w0=np.full((b, n), 0.95 / n), **kw)
        rows = np.arange(b)
        w_native, s_native = solvers.NATIVE.solve(p, rows)
        w_cvx, s_cvx = tight.solve(p, rows)
        assert (s_native == solvers.SOLVED).all() and (s_cvx == solvers.SOLVED).all()
        np.testing.assert_allclose(w_native, w_cvx, atol=1e-5)


def test_native_does_not_cover_max_sharpe_or_cvar():
    assert not solvers.NATIVE.covers(problem("max_sharpe", mu=np.full((2, 5), 0.1)))
    assert not solvers.NATIVE.covers(problem("cvar", scenarios=np.zeros((2, 10, 5))))


def test_cvar_problem_solves_and_drops_rows_with_nan():
    rng = np.random.default_rng(2)
    scen = rng.normal(0.0005, 0.01, (1, 200, 4))
    scen[0, :20, 3] = np.nan  # asset 3 lacks 20 days; rows with a NaN are dropped
    p = solvers.make_problem("cvar", np.ones((1, 4), dtype=bool), upper=0.6, scenarios=scen)
    res = solvers.solve(p, None, np.zeros((1, 4)), [solvers.CVXPY])
    assert res.diagnostics["attempt.cvxpy"][0] == solvers.SOLVED
    np.testing.assert_allclose(res.weights.sum(), 1.0, atol=1e-6)


def test_a_solver_that_raises_is_a_failed_attempt():
    class Broken:
        name = "broken"

        def covers(self, problem):
            return True

        def solve(self, problem, rows):
            raise RuntimeError("kernel failed to compile")

    p = problem(b=2)
    res = solvers.solve(p, None, np.zeros((2, 5)), [Broken(), solvers.CVXPY])
    np.testing.assert_array_equal(res.diagnostics["attempt.broken"], [solvers.FAILED] * 2)
    np.testing.assert_array_equal(res.diagnostics["attempt.cvxpy"], [solvers.SOLVED] * 2)
    assert np.isfinite(res.weights).all()
