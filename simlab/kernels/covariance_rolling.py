r"""Window covariances carried forward one row at a time, from exact windows at fixed rows.

A fixed window of unit-weight rows that moves by one row changes its sums by two rows: with
``S_2(t) = sum_{k=t-W+1}^{t} x_k x_k^T`` and ``S_1(t)`` likewise,

.. math::

    S_2(t) = S_2(t-1) + x_t x_t^\top - x_{t-W} x_{t-W}^\top,

an O(N^2) update (one BLAS ``gemm`` of inner size 2) where the prefix-sum sweep of
:func:`simlab.kernels.covariance.window_cov_nb` moves two prefix sums per window.

To stay point in time and give a window the same bits whichever other windows are
computed, the updates start from **anchors at fixed rows**: the window ending at row ``t``
is the exact window (one ``gemm`` over its rows) at its anchor
``A = ((t + 1) // ANCHOR) * ANCHOR - 1`` (the row -1 is the empty window), carried forward
``t - A`` rows, one update per row. Its value depends on the data and its own rows only,
and the rounding carried is that of fewer than :data:`ANCHOR` updates of sums of W rows
(tested against the exact windows: relative differences of order 1e-15).

Full windows of unit-weight rows only (the ``sample`` and Ledoit-Wolf estimators without
a regime); the finish is :func:`simlab.kernels.covariance.window_cov_nb`'s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.covariance import BLOCK, _gemm_block

ANCHOR = 64  # rows between exact windows: the most updates a window carries is ANCHOR - 1


@njit(cache=True, error_model="numpy")
def _anchor(t):
    return ((t + 1) // ANCHOR) * ANCHOR - 1


@njit(cache=True, error_model="numpy")
def _exact(x, lo, hi, j0, acc, buf):
    """``acc = sum_{k=lo}^{hi} x_k[j0:j0+nb]^T x_k[j0:]`` (zero for an empty range), one gemm."""
    n_cols = x.shape[1]
    k = hi - lo + 1
    if k <= 0:
        acc[:] = 0.0
        return
    for m in range(k):
        base = m * n_cols
        for i in range(n_cols):
            buf[base + i] = x[lo + m, i]
    _gemm_block(acc, buf, buf, j0, acc.shape[0], k, n_cols, 0.0)


@njit(cache=True, error_model="numpy")
def _step(x, t, window, j0, acc, rowbuf, colbuf):
    """Carry ``acc`` from the window ending at ``t - 1`` to the one ending at ``t``."""
    n_cols = x.shape[1]
    old = t - window
    for i in range(n_cols):
        rowbuf[i] = x[t, i]
        colbuf[i] = x[t, i]
    k = 1
    if old >= 0:
        for i in range(n_cols):
            rowbuf[n_cols + i] = x[old, i]
            colbuf[n_cols + i] = -x[old, i]
        k = 2
    _gemm_block(acc, rowbuf, colbuf, j0, acc.shape[0], k, n_cols, 1.0)


@njit(cache=True, error_model="numpy")
def _vector(x, t, window, state, anchor_row):
    """``state`` (the window sum ``S_1``) at ``anchor_row`` exactly, or carried to ``t``."""
    n_cols = x.shape[1]
    if anchor_row >= -1:
        state[:] = 0.0
        for k in range(max(anchor_row - window + 1, 0), anchor_row + 1):
            for i in range(n_cols):
                state[i] += x[k, i]
        return
    old = t - window
    for i in range(n_cols):
        v = state[i] + x[t, i]
        state[i] = v - x[old, i] if old >= 0 else v


@njit(cache=True, error_model="numpy")
def _finish(cov, acc, r, j0, vec, count, include, ddof):
    """Write decision r's covariance on column block j0 (both triangles)."""
    nb, m = acc.shape
    s0 = count
    den = s0 * s0 - ddof * s0
    fac = s0 / den if (s0 > 0.0 and den > 0.0) else np.nan
    out = cov[r]
    vr = vec[r, j0:]
    for jj in range(nb):
        p = j0 + jj
        row = out[p, j0:]
        a0 = acc[jj]
        mean_p = vec[r, p] / s0
        for i in range(jj, m):
            row[i] = (a0[i] - mean_p * vr[i]) * fac
    if not include[r].all():
        for jj in range(nb):
            for i in range(jj, m):
                if not (include[r, j0 + jj] and include[r, j0 + i]):
                    out[j0 + jj, j0 + i] = np.nan
    for q in range(j0, j0 + m):  # mirror, row by row of the lower triangle
        for jj in range(min(nb, q - j0)):
            out[q, j0 + jj] = out[j0 + jj, q]


@njit(cache=True, error_model="numpy")
def rolling_window_cov_nb(cov, x, rows, window, include, ddof, active):
    """Covariance of the ``window`` rows ending at each decision row, carried forward.

    Equals :func:`simlab.kernels.covariance.window_cov_nb` with unit weights, no row
    selection and ``starts = max(rows - window + 1, 0)`` to rounding (module docstring).

    Parameters
    ----------
    cov : (>= R, N, N) float64, C-contiguous: the output, written at ``cov[:R]``.
    x : (T, N) float64, C-contiguous, zero where unobserved.
    rows : (R,) int64 decision rows, ascending. window : int >= 1.
    include : (R, N) bool (NaN in the rows and columns of the others); ddof : float;
    active : (R,) bool, the decisions written (the others' ``cov[r]`` is left unset).

    Returns
    -------
    vec : (R, N) the window sums ``S_1``; sc : (R, 2) the row count, twice (``sum w`` and
    ``sum w**2`` of unit weights).
    """
    n_cols = x.shape[1]
    n_dec = rows.shape[0]
    vec = np.zeros((n_dec, n_cols))
    sc = np.zeros((n_dec, 2))
    if n_dec == 0:
        return vec, sc
    buf = np.empty(window * n_cols)
    rowbuf = np.empty(2 * n_cols)
    colbuf = np.empty(2 * n_cols)
    state_vec = np.zeros(n_cols)
    for r in range(n_dec):
        count = float(rows[r] - max(rows[r] - window + 1, 0) + 1)
        sc[r, 0] = count
        sc[r, 1] = count
    for j0 in range(0, n_cols, BLOCK):
        nb = min(BLOCK, n_cols - j0)
        acc = np.zeros((nb, n_cols - j0))
        at_anchor = -2
        at_row = -2
        for r in range(n_dec):
            t = rows[r]
            a = _anchor(t)
            if a != at_anchor or at_row > t:  # start again from the exact window at the anchor
                _exact(x, max(a - window + 1, 0), a, j0, acc, buf)
                if j0 == 0:
                    _vector(x, a, window, state_vec, a)
                at_anchor = a
                at_row = a
            while at_row < t:
                at_row += 1
                _step(x, at_row, window, j0, acc, rowbuf, colbuf)
                if j0 == 0:
                    _vector(x, at_row, window, state_vec, -2)
            if j0 == 0:
                vec[r] = state_vec
            if active[r]:
                _finish(cov, acc, r, j0, vec, sc[r, 0], include, ddof)
    return vec, sc
