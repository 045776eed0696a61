"""The array-namespace twin of the QP solver against the numba kernel (numpy here, cupy on a GPU)."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.kernels._support import gpu_problem
from simlab.kernels.qp_solve import ADMMSettings, solve_qp


def _psd(rng, k, n):
    a = rng.normal(size=(k, 2 * n, n))
    return np.einsum("kti,ktj->kij", a, a) / (2 * n) + 1e-3 * np.eye(n)


def _problems(kind, seed=0, K=8, n=20):
    rng = np.random.default_rng(seed)
    G = np.zeros((4, n))
    G[np.arange(n) % 4, np.arange(n)] = 1.0
    kw = {"P": _psd(rng, K, n), "lo": 0.0, "hi": 0.15, "G": G, "g": 0.3}
    if kind == "mean_variance":
        kw["q"] = -rng.normal(size=(K, n)) * 0.5
    elif kind == "turnover":
        kw.update(w0=rng.dirichlet(np.ones(n), size=K), kappa=0.02)
    elif kind == "factor":
        kw.update(F=rng.normal(size=(2, n)), a=-0.2, b=0.2)
    elif kind == "mixed_status":  # solved, infeasible, non-finite, non-convex in one batch
        kw["P"][3] -= 5.0 * np.eye(n)
        kw["P"][5, 0, 0] = np.nan
        kw["hi"] = np.where(np.arange(K)[:, None] == 1, 0.01, 0.15) * np.ones((K, n))
    return kw


def _assert_same_run(a, b, w_tol, polished=True):
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.iterations, b.iterations)
    np.testing.assert_array_equal(a.factorizations, b.factorizations)
    if polished:
        np.testing.assert_array_equal(a.polished, b.polished)
    np.testing.assert_allclose(a.w, b.w, rtol=0, atol=w_tol)
    np.testing.assert_allclose(a.objective, b.objective, rtol=1e-12, atol=1e-15)
    assert np.all(np.isfinite(b.w))


@pytest.mark.parametrize("kind", ["min_variance", "mean_variance", "turnover", "factor", "mixed_status"])
def test_numpy_twin_matches_numba_to_1e_10(kind):
    kw = _problems(kind)
    a = solve_qp(**kw)
    b = solve_qp(**kw, backend="numpy")
    assert b.backend == "numpy"
    _assert_same_run(a, b, 1e-10)
    if kind == "mixed_status":
        assert list(a.status[[0, 1, 3, 5]]) == [0, 2, 5, 4]


@pytest.mark.parametrize("kind", ["min_variance", "mean_variance", "factor"])
def test_iterates_agree_after_the_same_iterations(kind):
    """Unpolished, unconverged (tolerances 0): the ADMM iterates themselves, to 1e-10."""
    kw = _problems(kind, seed=1)
    settings = ADMMSettings(max_iter=40, polish=False, eps_abs=1e-15, eps_rel=1e-15)
    a = solve_qp(**kw, settings=settings)
    b = solve_qp(**kw, settings=settings, backend="numpy")
    assert np.all(a.iterations == 40)
    _assert_same_run(a, b, 1e-10)
    np.testing.assert_allclose(a.state.y, b.state.y, rtol=0, atol=1e-10)


def test_warm_start_state_round_trips_between_backends():
    kw = _problems("turnover", seed=2)
    first = solve_qp(**kw)
    a = solve_qp(**kw, state=first.state)
    b = solve_qp(**kw, state=first.state, backend="numpy")
    assert np.all(a.iterations == 0)  # the previous active set still holds: polished at once
    # (whether a final polish of an already exact point is "accepted" compares residuals of
    # ~1e-16, so the flag itself is rounding noise here)
    _assert_same_run(a, b, 1e-10, polished=False)


@pytest.mark.gpu
def test_cupy_twin_matches_numba():
    if gpu_problem():
        pytest.skip(gpu_problem())
    kw = _problems("turnover", seed=3)
    a = solve_qp(**kw)
    b = solve_qp(**kw, backend="cupy")
    assert b.backend == "cupy"
    _assert_same_run(a, b, 1e-9)
