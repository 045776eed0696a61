"""The in-place Cholesky factor of the QP kernel: ``np.linalg.cholesky``'s factor inside numba
(the call it replaced) bit for bit, False when indefinite."""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.qp_linalg import chol_inplace_nb


@njit(cache=False)
def _numba_cholesky(m):
    return np.linalg.cholesky(m)


def test_same_bits_as_numpy_in_the_lower_triangle():
    rng = np.random.default_rng(4)
    for n in (1, 7, 60):
        x = rng.standard_normal((n + 3, n))
        m = x.T @ x + 0.1 * np.eye(n)
        work = m.copy()
        assert chol_inplace_nb(work)
        assert np.array_equal(np.tril(work), _numba_cholesky(m))
        np.testing.assert_allclose(np.tril(work), np.linalg.cholesky(m), rtol=1e-12, atol=1e-12)
        assert np.array_equal(np.triu(work, 1), np.triu(m, 1))  # the upper triangle is left alone


def test_indefinite_matrix_is_reported():
    m = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert not chol_inplace_nb(m.copy())
    assert chol_inplace_nb(np.zeros((0, 0)))
