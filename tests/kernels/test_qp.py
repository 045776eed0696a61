"""The batched ADMM QP solver: a brute-force numpy reference, statuses, warm starts, batching."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simlab.kernels.qp_codes import (
    DUAL_INFEASIBLE,
    MAX_ITER,
    NON_CONVEX,
    NON_FINITE,
    SOLVED,
    STATUS_NAMES,
)
from simlab.kernels.qp_solve import ADMMSettings, QPState, solve_qp

# --------------------------------------------------------------------------- references and problems


def brute_force_qp(P, q, lo, hi, budget):
    """``min 0.5 w'Pw + q'w`` over ``lo <= w <= hi, sum(w) = budget`` by enumerating which
    weights sit at lo, at hi or are free (3^N equality QPs solved with numpy), N <= 5."""
    n = len(q)
    best, best_obj = None, np.inf
    for pattern in itertools.product((0, 1, 2), repeat=n):
        pattern = np.array(pattern)
        w = np.where(pattern == 1, lo, np.where(pattern == 2, hi, 0.0))
        free = pattern == 0
        nf = int(free.sum())
        if nf:
            kkt = np.zeros((nf + 1, nf + 1))
            kkt[:nf, :nf] = P[np.ix_(free, free)]
            kkt[:nf, nf] = kkt[nf, :nf] = 1.0
            rhs = np.append(-q[free] - P[np.ix_(free, ~free)] @ w[~free], budget - w[~free].sum())
            try:
                w[free] = np.linalg.solve(kkt, rhs)[:nf]
            except np.linalg.LinAlgError:
                continue
        if np.all(w >= lo - 1e-12) and np.all(w <= hi + 1e-12) and abs(w.sum() - budget) < 1e-10:
            obj = 0.5 * w @ P @ w + q @ w
            if obj < best_obj:
                best, best_obj = w, obj
    return best, best_obj


def random_psd(rng, k, n, eps=1e-3):
    a = rng.normal(size=(k, 2 * n, n))
    return np.einsum("kti,ktj->kij", a, a) / (2 * n) + eps * np.eye(n)


def sector_rows(n, n_groups):
    G = np.zeros((n_groups, n))
    G[np.arange(n) % n_groups, np.arange(n)] = 1.0
    return G


def assert_kkt(res, P, q, lo, hi, U, l, u, w0, kappa, tol=1e-7):
    """The returned point and duals satisfy the KKT conditions (a self-certificate)."""
    n = P.shape[-1]
    for k in range(P.shape[0]):
        w, y = res.w[k], res.state.y[k]
        assert np.all(w >= lo[k] - tol) and np.all(w <= hi[k] + tol)
        assert np.all(U @ w >= l[k] - tol) and np.all(U @ w <= u[k] + tol)
        yu = y[n:]
        assert np.all(yu[(U @ w) < u[k] - 1e-6] <= tol) and np.all(yu[(U @ w) > l[k] + 1e-6] >= -tol)
        stat = P[k] @ w + q[k] + y[:n] + U.T @ yu
        scale = max(1.0, np.abs(P[k] @ w).max(), np.abs(q[k]).max())
        assert np.abs(stat).max() <= 1e-6 * scale
        # weight-row duals: within kappa * d|w - w0| plus the bound's normal cone
        yw = y[:n]
        interior = (w > lo[k] + 1e-6) & (w < hi[k] - 1e-6)
        above, below = interior & (w > w0[k] + 1e-6), interior & (w < w0[k] - 1e-6)
        assert np.allclose(yw[above], kappa[k][above], atol=1e-6 * scale)
        assert np.allclose(yw[below], -kappa[k][below], atol=1e-6 * scale)


# --------------------------------------------------------------------------- against the numpy reference


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    P = random_psd(rng, 1, n)
    q = rng.normal(size=(1, n)) * 0.3
    lo, hi = np.full(n, -0.2), np.full(n, 0.6)
    res = solve_qp(P, q, lo=lo, hi=hi, budget=1.0)
    w_ref, obj_ref = brute_force_qp(P[0], q[0], lo, hi, 1.0)
    assert res.status[0] == SOLVED
    np.testing.assert_allclose(res.w[0], w_ref, atol=1e-8)
    assert res.objective[0] == pytest.approx(obj_ref, rel=1e-9, abs=1e-12)


def test_every_constraint_type_satisfies_kkt():
    rng = np.random.default_rng(1)
    K, n = 8, 12
    P = random_psd(rng, K, n)
    q = rng.normal(size=(K, n)) * 0.05
    G, F = sector_rows(n, 3), rng.normal(size=(2, n))
    w0 = rng.dirichlet(np.ones(n), size=K)
    kappa = np.full((K, n), 0.01)
    res = solve_qp(P, q, lo=0.0, hi=0.3, budget=1.0, G=G, g=0.45, F=F, a=-0.3, b=0.3, w0=w0, kappa=0.01)
    assert np.all(res.status == SOLVED) and res.polished.all()
    U = np.vstack([np.ones((1, n)), G, F])
    l = np.tile(np.r_[1.0, [-np.inf] * 3, [-0.3] * 2], (K, 1))
    u = np.tile(np.r_[1.0, [0.45] * 3, [0.3] * 2], (K, 1))
    lo, hi = np.zeros((K, n)), np.full((K, n), 0.3)
    assert_kkt(res, P, q, lo, hi, U, l, u, w0, kappa)


def test_objective_is_reported_in_caller_units():
    rng = np.random.default_rng(2)
    n = 10
    P = random_psd(rng, 1, n) * 1e-4  # daily variances
    q = -1e-4 * rng.normal(size=n)
    w0 = np.full(n, 0.1)
    res = solve_qp(P, q, lo=0.0, hi=0.25, w0=w0, kappa=2e-5)
    w = res.w[0]
    assert res.status[0] == SOLVED
    assert res.objective[0] == pytest.approx(0.5 * w @ P[0] @ w + q @ w + 2e-5 * np.abs(w - w0).sum(), rel=1e-12)
    # scaling P, q and kappa together scales the objective and leaves w unchanged
    scaled = solve_qp(P * 1e4, q * 1e4, lo=0.0, hi=0.25, w0=w0, kappa=2e-1)
    np.testing.assert_allclose(scaled.w, res.w, atol=1e-9)
    assert scaled.objective[0] == pytest.approx(res.objective[0] * 1e4, rel=1e-9)


# --------------------------------------------------------------------------- statuses


def _status(res):
    return STATUS_NAMES[int(res.status[0])]


@pytest.mark.parametrize(
    "case, kwargs",
    [
        ("sum(hi) < budget", {"lo": 0.0, "hi": 0.04, "budget": 1.0}),
        ("sum(lo) > budget", {"lo": 0.06, "hi": 1.0, "budget": 1.0}),
        ("crossing factor bounds", {"lo": 0.0, "hi": 1.0, "F": np.ones((1, 20)), "a": 0.7, "b": 0.5}),
        ("contradictory factor rows", {"lo": 0.0, "hi": 1.0, "F": np.ones((2, 20)), "a": [0.6, -np.inf],
                                       "b": [np.inf, 0.5], "budget": None}),
        ("sector caps below the budget", {"lo": 0.0, "hi": 1.0, "G": np.ones((1, 20)), "g": 0.5}),
        ("factor target out of the box", {"lo": 0.0, "hi": 0.1, "F": np.arange(20.0)[None] / 20, "a": 0.99}),
    ],
)
def test_primal_infeasible_is_reported_not_garbage(case, kwargs):
    rng = np.random.default_rng(3)
    P = random_psd(rng, 1, 20)
    w0 = rng.dirichlet(np.ones(20))
    res = solve_qp(P, w0=w0, **kwargs)
    assert _status(res) == "primal_infeasible", case
    np.testing.assert_array_equal(res.w[0], w0)  # the hold point
    assert res.objective[0] == np.inf
    assert np.all(res.state.y == 0.0) and np.all(np.isfinite(res.state.x))


def test_unbounded_is_dual_infeasible():
    n = 6
    P = np.zeros((n, n))
    P[0, 0] = 1.0
    q = np.r_[0.0, -1.0, 0.5, 0.0, 0.0, 0.0]
    res = solve_qp(P, q, budget=1.0)
    assert res.status[0] == DUAL_INFEASIBLE and res.objective[0] == -np.inf
    assert np.all(np.isfinite(res.w))
    # a turnover penalty steeper than the gain makes it bounded again
    bounded = solve_qp(P, 0.1 * q, budget=1.0, kappa=1.0)
    assert bounded.status[0] == SOLVED and bounded.objective[0] == pytest.approx(0.9, abs=1e-9)


@pytest.mark.parametrize("where", ["P", "q", "lo", "w0", "kappa", "g"])
def test_non_finite_input_gives_status_4_and_no_nan(where):
    rng = np.random.default_rng(4)
    K, n = 3, 8
    args = {"P": random_psd(rng, K, n), "q": np.zeros((K, n)), "lo": np.zeros((K, n)), "w0": np.full((K, n), 1 / n),
                "kappa": np.full(K, 0.01), "g": np.full((K, 2), 0.7)}
    args[where] = args[where].copy()
    args[where].reshape(K, -1)[1, 0] = np.nan
    res = solve_qp(args.pop("P"), args.pop("q"), hi=1.0, G=sector_rows(n, 2), **args)
    assert list(res.status) == [SOLVED, NON_FINITE, SOLVED]
    assert np.all(np.isfinite(res.w)) and np.isnan(res.objective[1])


def test_indefinite_matrix_is_non_convex():
    rng = np.random.default_rng(5)
    P = random_psd(rng, 2, 10)
    P[1] -= 2.0 * np.eye(10)
    res = solve_qp(P, lo=0.0, hi=1.0)
    assert res.status[0] == SOLVED and res.status[1] == NON_CONVEX
    assert np.all(np.isfinite(res.w))


def test_max_iter_is_reported_and_stays_finite():
    rng = np.random.default_rng(6)
    P = random_psd(rng, 1, 30)
    res = solve_qp(P, lo=0.0, hi=0.1, settings=ADMMSettings(max_iter=3, polish=False))
    assert res.status[0] == MAX_ITER and res.iterations[0] == 3
    assert np.all(np.isfinite(res.w)) and np.isfinite(res.primal_residual[0])


# --------------------------------------------------------------------------- batching and warm starts


def _batch(seed=7, K=6, n=15):
    rng = np.random.default_rng(seed)
    P = random_psd(rng, K, n)
    return {"P": P, "q": rng.normal(size=(K, n)) * 0.05, "lo": 0.0, "hi": 0.2, "G": sector_rows(n, 3), "g": 0.4,
                "F": rng.normal(size=(1, n)), "a": -0.2, "b": 0.2, "w0": rng.dirichlet(np.ones(n), size=K),
                "kappa": 0.005}


def test_single_problem_equals_its_slice_of_the_batch():
    kw = _batch()
    batch = solve_qp(**kw)
    for k in range(kw["P"].shape[0]):
        one = solve_qp(kw["P"][k], kw["q"][k], lo=0.0, hi=0.2, G=kw["G"], g=0.4, F=kw["F"], a=-0.2, b=0.2,
                       w0=kw["w0"][k], kappa=0.005)
        np.testing.assert_array_equal(one.w[0], batch.w[k])
        assert one.iterations[0] == batch.iterations[k] and one.status[0] == batch.status[k]


def test_threads_and_per_problem_rows_do_not_change_results():
    kw = _batch()
    K = kw["P"].shape[0]
    base = solve_qp(**kw)
    threaded = solve_qp(**kw, threads=2)
    np.testing.assert_array_equal(threaded.w, base.w)
    per_problem = dict(kw, G=np.broadcast_to(kw["G"], (K, *kw["G"].shape)), g=np.full((K, 3), 0.4))
    np.testing.assert_array_equal(solve_qp(**per_problem).w, base.w)


def test_warm_start_cuts_iterations_on_slowly_changing_problems():
    rng = np.random.default_rng(8)
    n, T = 40, 24
    loadings = rng.normal(size=(n, 3))
    drift = np.cumsum(rng.normal(scale=0.02, size=(T, n, 3)), axis=0)
    idio = rng.uniform(0.1, 2.0, n)
    covs = np.stack([(loadings + d) @ (loadings + d).T + np.diag(idio) for d in drift])
    kw = {"lo": 0.0, "hi": 0.08, "G": sector_rows(n, 5), "g": 0.3}
    cold = solve_qp(covs, **kw)
    state, warm_iters, warm_w = None, [], []
    for t in range(T):
        res = solve_qp(covs[t], state=state, **kw)
        state = res.state
        warm_iters.append(res.iterations[0])
        warm_w.append(res.w[0])
    assert np.all(cold.status == SOLVED)
    np.testing.assert_allclose(np.array(warm_w), cold.w, atol=1e-8)
    assert cold.iterations[1:].sum() > 0 and sum(warm_iters[1:]) < 0.5 * cold.iterations[1:].sum()


def test_a_problem_without_a_saved_solve_starts_cold():
    """A state row with rho 0 (a scenario not solved before) is a cold start, not an error."""
    kw = _batch()
    cold = solve_qp(**kw)
    state = QPState(*(np.array(a, copy=True) for a in (cold.state.x, cold.state.z, cold.state.y, cold.state.rho)))
    for a in (state.x, state.z, state.y, state.rho):
        a[1] = 0.0
    mixed = solve_qp(**kw, state=state)
    assert mixed.status[1] == SOLVED
    np.testing.assert_array_equal(mixed.w[1], cold.w[1])
    assert mixed.iterations[1] == cold.iterations[1]


def test_state_is_not_modified_and_must_fit():
    kw = _batch()
    first = solve_qp(**kw)
    saved = QPState(*(np.array(a, copy=True) for a in (first.state.x, first.state.z, first.state.y,
                                                        first.state.rho)))
    solve_qp(**kw, state=first.state)
    for a, b in zip((first.state.x, first.state.z, first.state.y, first.state.rho),
                    (saved.x, saved.z, saved.y, saved.rho)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="state does not fit"):
        solve_qp(**dict(kw, G=None), state=first.state)
    sub = first.state.subset([0, 2])
    assert sub.x.shape == (2, 15) and sub.rho.shape == (2,)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"P": np.eye(3)[None, :2]}, "P must be"),
        ({"P": np.eye(3), "q": np.zeros(4)}, "q must be"),
        ({"P": np.eye(3), "lo": np.zeros((2, 3))}, "lo must be"),
        ({"P": np.eye(3), "G": np.ones((1, 4)), "g": 1.0}, "G must be"),
        ({"P": np.eye(3), "G": np.ones((1, 3))}, "without its caps"),
        ({"P": np.eye(3), "kappa": -1.0}, "kappa must be >= 0"),
        ({"P": np.eye(3), "budget": np.ones(2)}, "budget must be"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    P = kwargs.pop("P")
    with pytest.raises(ValueError, match=match):
        solve_qp(P, **kwargs)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="alpha"):
        ADMMSettings(alpha=2.5)
    with pytest.raises(ValueError, match="eps_abs"):
        ADMMSettings(eps_abs=-1.0)
    assert ADMMSettings().as_array().shape == (13,)


def test_no_budget_row_and_per_asset_kappa():
    rng = np.random.default_rng(9)
    n = 8
    P = random_psd(rng, 1, n)
    q = -np.linspace(0.1, 0.8, n)
    kappa = np.linspace(0.0, 0.5, n)[None]
    res = solve_qp(P, q, lo=0.0, hi=1.0, budget=None, w0=np.zeros(n), kappa=kappa)
    assert res.status[0] == SOLVED and res.state.z.shape == (1, n)
    w = res.w[0]
    grad = P[0] @ w + q  # stationarity with the per-asset L1 subgradient at w = 0 / w > 0
    inside, at_zero, at_one = (w > 1e-9) & (w < 1 - 1e-9), w <= 1e-9, w >= 1 - 1e-9
    assert inside.any() and at_zero.any()
    np.testing.assert_allclose(grad[inside], -kappa[0][inside], atol=1e-8)
    assert np.all(grad[at_zero] + kappa[0][at_zero] >= -1e-8)
    assert np.all(grad[at_one] + kappa[0][at_one] <= 1e-8)
