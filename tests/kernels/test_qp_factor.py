"""The low-rank-plus-diagonal QP kernel against the dense ADMM kernel and cvxpy/Clarabel."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.kernels.qp_codes import NON_CONVEX, NON_FINITE, PRIMAL_INFEASIBLE, SOLVED
from simlab.kernels.qp_factor import dense_covariance, factor_exposures, solve_factor_qp
from simlab.kernels.qp_solve import solve_qp


def _problems(seed, K=4, N=40, k=3, n_sectors=4):
    rng = np.random.default_rng(seed)
    B = rng.normal(0.0, 1.0, (K, N, k))
    F = np.stack([np.cov(rng.normal(size=(k, 60))) * 0.04 for _ in range(K)])
    X = factor_exposures(B, F)
    d = rng.uniform(0.01, 0.05, (K, N))
    G = np.zeros((n_sectors, N))
    G[np.arange(N) % n_sectors, np.arange(N)] = 1.0
    return X, d, G, rng


def test_factor_exposures_reproduce_bfb():
    rng = np.random.default_rng(0)
    B, A = rng.normal(size=(7, 3)), rng.normal(size=(3, 3))
    F = A @ A.T
    X = factor_exposures(B, F)
    np.testing.assert_allclose(X @ X.T, B @ F @ B.T, atol=1e-12)


@pytest.mark.parametrize("kappa", [0.0, 0.02])
@pytest.mark.parametrize("seed", [1, 2])
def test_same_optimum_as_the_dense_kernel(seed, kappa):
    X, d, G, rng = _problems(seed)
    q = rng.normal(0.0, 0.01, X.shape[:2])
    w0 = np.full(X.shape[1], 1.0 / X.shape[1])
    fac = solve_factor_qp(X, d, q, lo=0.0, hi=0.08, G=G, g=0.3, w0=w0, kappa=kappa)
    den = solve_qp(dense_covariance(X, d), q, lo=0.0, hi=0.08, G=G, g=0.3, w0=w0, kappa=kappa)
    assert (fac.status == SOLVED).all() and (den.status == SOLVED).all()
    np.testing.assert_allclose(fac.w, den.w, atol=1e-6)
    np.testing.assert_allclose(fac.objective, den.objective, rtol=1e-9, atol=1e-12)
    assert fac.polished.all()


def test_same_optimum_as_cvxpy_clarabel():
    cp = pytest.importorskip("cvxpy")
    X, d, G, _rng = _problems(3, K=3, N=50, k=4, n_sectors=5)
    fac = solve_factor_qp(X, d, lo=0.0, hi=0.06, G=G, g=0.25)
    for p in range(len(X)):
        w = cp.Variable(X.shape[1])
        obj = 0.5 * (cp.sum_squares(X[p].T @ w) + cp.sum(cp.multiply(d[p], cp.square(w))))
        prob = cp.Problem(cp.Minimize(obj), [cp.sum(w) == 1, w >= 0, w <= 0.06, G @ w <= 0.25])
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        np.testing.assert_allclose(fac.w[p], w.value, atol=1e-6)
        assert fac.objective[p] == pytest.approx(prob.value, rel=1e-8)


def test_constraints_hold_and_caps_bind():
    X, d, G, _ = _problems(4)
    res = solve_factor_qp(X, d, lo=0.0, hi=0.2, G=G, g=0.26)
    assert (res.status == SOLVED).all()
    assert np.allclose(res.w.sum(axis=1), 1.0, atol=1e-9)
    assert (res.w >= -1e-9).all() and (res.w <= 0.2 + 1e-9).all()
    assert ((res.w @ G.T) <= 0.26 + 1e-9).all()


def test_warm_start_reproduces_the_optimum():
    X, d, G, _ = _problems(5)
    first = solve_factor_qp(X, d, lo=0.0, hi=0.1, G=G, g=0.3)
    again = solve_factor_qp(X, d, lo=0.0, hi=0.1, G=G, g=0.3, state=first.state)
    np.testing.assert_allclose(again.w, first.w, atol=1e-9)
    assert (again.iterations <= first.iterations).all()


def test_threads_do_not_change_results():
    X, d, G, _ = _problems(6, K=6)
    one = solve_factor_qp(X, d, lo=0.0, hi=0.1, G=G, g=0.3)
    two = solve_factor_qp(X, d, lo=0.0, hi=0.1, G=G, g=0.3, threads=2)
    assert np.array_equal(one.w, two.w)


def test_infeasible_caps_and_bad_inputs_are_reported():
    X, d, G, _ = _problems(7, K=3)
    d = d.copy()
    d[1, 0] = -0.01
    X = X.copy()
    X[2, 0, 0] = np.nan
    g = np.array([[0.2] * 4, [0.3] * 4, [0.3] * 4])  # problem 0: caps sum to 0.8 < budget 1
    res = solve_factor_qp(X, d, lo=0.0, hi=0.5, G=G, g=g, w0=np.full(40, 0.025))
    assert res.status.tolist() == [PRIMAL_INFEASIBLE, NON_CONVEX, NON_FINITE]
    assert np.isfinite(res.w).all() and np.allclose(res.w, 0.025)


def test_no_factors_is_a_diagonal_problem():
    d = np.array([0.04, 0.01, 0.02])
    res = solve_factor_qp(np.zeros((3, 0)), d, lo=0.0, hi=1.0)
    expected = (1 / d) / (1 / d).sum()
    np.testing.assert_allclose(res.w[0], expected, atol=1e-10)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="X must be"):
        solve_factor_qp(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="d must be"):
        solve_factor_qp(np.zeros((3, 2)), np.ones(4))


def test_fixed_padding_leaves_the_solve_bit_identical():
    X, d, G, _ = _problems(8, K=1, N=30)
    base = solve_factor_qp(X, d, lo=0.0, hi=0.1, budget=None, G=G, g=0.3, F=np.ones((1, 30)), a=1.0, b=1.0)
    pad = 7
    Xp = np.concatenate([X, np.zeros((1, pad, X.shape[2]))], axis=1)
    dp = np.concatenate([d, np.ones((1, pad))], axis=1)
    Gp = np.concatenate([G, np.zeros((G.shape[0], pad))], axis=1)
    Fp = np.concatenate([np.ones((1, 30)), np.zeros((1, pad))], axis=1)
    hi = np.concatenate([np.full(30, 0.1), np.zeros(pad)])
    padded = solve_factor_qp(Xp, dp, lo=0.0, hi=hi, budget=None, G=Gp, g=0.3, F=Fp, a=1.0, b=1.0)
    assert base.status[0] == SOLVED
    assert np.array_equal(padded.w[:, :30], base.w) and (padded.w[:, 30:] == 0).all()
    np.testing.assert_allclose(base.w, solve_factor_qp(X, d, lo=0.0, hi=0.1, G=G, g=0.3).w, atol=1e-9)
