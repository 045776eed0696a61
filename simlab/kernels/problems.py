"""One-pass kernels over a batch of (N, N) covariances, for building portfolio problems.

At N in the hundreds a problem's covariance is megabytes; numpy's masking and
symmetrizing each make a full pass (and a temporary) over it. These do the same
arithmetic in one pass each, with the same bits: ``0.5 * (c[i, j] + c[j, i])`` is what
``0.5 * (c + c.T)`` computes element by element.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TILE = 32  # rows and columns of a tile: a tile and its mirror stay in L1


@njit(cache=True, error_model="numpy")
def bad_rows_nb(cov, ok):
    """(B, N) bool: asset i is ``ok`` and its row holds a non-finite value in a column ``ok``.

    Equals ``(~np.isfinite(cov) & ok[:, :, None] & ok[:, None, :]).any(axis=2)``.
    """
    n_b, n, _ = cov.shape
    out = np.zeros((n_b, n), np.bool_)
    for b in range(n_b):
        okb = ok[b]
        every = okb.all()
        for i in range(n):
            if not okb[i]:
                continue
            row = cov[b, i]
            if every:  # x - x is NaN exactly where x is not finite: one vectorized sum
                t = 0.0
                for j in range(n):
                    t += row[j] - row[j]
                if t == 0.0:
                    continue
            for j in range(n):
                if okb[j] and not np.isfinite(row[j]):
                    out[b, i] = True
                    break
    return out


@njit(cache=True, error_model="numpy")
def symmetrize_masked_nb(cov, active):
    """(B, N, N) ``0.5 * (c + c^T)`` on pairs of active assets, 0.0 elsewhere; tile by tile."""
    n_b, n, _ = cov.shape
    out = np.empty((n_b, n, n))
    for b in range(n_b):
        c = cov[b]
        o = out[b]
        act = active[b]
        for i0 in range(0, n, TILE):
            i1 = min(i0 + TILE, n)
            for j0 in range(i0, n, TILE):
                j1 = min(j0 + TILE, n)
                for i in range(i0, i1):
                    for j in range(max(j0, i), j1):
                        v = 0.5 * (c[i, j] + c[j, i]) if (act[i] and act[j]) else 0.0
                        o[i, j] = v
                        o[j, i] = v
    return out
