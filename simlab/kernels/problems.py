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
def _finite_row(row):
    """Every value finite: ``x - x`` is NaN exactly where x is not, summed in four
    independent lanes (a strict sum is one long dependency chain)."""
    n = row.shape[0]
    t0 = t1 = t2 = t3 = 0.0
    j = 0
    while j + 4 <= n:
        t0 += row[j] - row[j]
        t1 += row[j + 1] - row[j + 1]
        t2 += row[j + 2] - row[j + 2]
        t3 += row[j + 3] - row[j + 3]
        j += 4
    while j < n:
        t0 += row[j] - row[j]
        j += 1
    return (t0 + t1 + t2 + t3) == 0.0


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
            if every and _finite_row(row):
                continue
            for j in range(n):
                if okb[j] and not np.isfinite(row[j]):
                    out[b, i] = True
                    break
    return out


@njit(cache=True, error_model="numpy")
def symmetrize_masked_nb(cov, active, out):
    """``out`` (B, N, N) = ``0.5 * (c + c^T)`` on pairs of active assets, 0.0 elsewhere; tile
    by tile. (The caller allocates ``out`` with numpy, whose allocations reuse freed memory:
    a fresh 2 MB block per call costs as much again in page faults.)"""
    n_b, n, _ = cov.shape
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
