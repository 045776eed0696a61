"""The one-pass kernels that build portfolio problems equal numpy's passes bit for bit."""

from __future__ import annotations

import numpy as np

from simlab.kernels.problems import bad_rows_nb, symmetrize_masked_nb


def _batch(seed=0, b=3, n=45):
    rng = np.random.default_rng(seed)
    cov = rng.normal(size=(b, n, n))  # not symmetric: the mean of the two triangles counts
    cov[0, 3, 7] = np.nan
    cov[1, 10, :] = np.inf
    cov[2, :, 5] = np.nan
    active = rng.random((b, n)) > 0.2
    active[1] = True
    return cov, active


def test_bad_rows_equal_numpy():
    cov, active = _batch()
    expected = (~np.isfinite(cov) & active[:, :, None] & active[:, None, :]).any(axis=2)
    np.testing.assert_array_equal(bad_rows_nb(cov, active), expected)
    finite = np.nan_to_num(cov, nan=0.0, posinf=0.0)
    assert not bad_rows_nb(finite, np.ones(active.shape, dtype=bool)).any()


def test_symmetrize_masked_equals_numpy_bits():
    cov, active = _batch(1)
    pair = active[:, :, None] & active[:, None, :]
    masked = np.where(pair, cov, 0.0)
    expected = 0.5 * (masked + np.swapaxes(masked, 1, 2))
    out = symmetrize_masked_nb(cov, active, np.full_like(cov, 7.0))
    assert np.array_equal(out, expected, equal_nan=True)
    assert np.array_equal(np.signbit(out), np.signbit(expected))
