r"""Covariance kernels batched over decision rows: the weighted moments of trailing windows.

Every estimator here is built from the weighted moments of a window of rows. For decision
row ``t`` with window ``s .. t``, row weights ``w_k = decay**(t - k) * sel[k]`` (``decay = 1``
for the sample estimator, ``0.5**(1/halflife)`` for EWMA, ``sel`` a 0/1 row selection such
as "same regime as today") give

.. math::

    S_0 = \sum w_k,\quad S_0^{(2)} = \sum w_k^2,\quad S_1 = \sum w_k x_k,\quad
    S_2 = \sum w_k x_k x_k^\top,

and the covariance ``(S_2 - S_1 S_1^T / S_0) * S_0 / (S_0^2 - ddof * S_0^{(2)})``: with unit
weights that is ``np.cov(x, rowvar=False, ddof=ddof)``, and with EWMA weights and
``ddof = 1`` it is pandas' bias-corrected ``ewm(adjust=True).cov()`` (``ddof = 0``:
``bias=True``).

The sums for all decision rows come from one sweep over time with exponentially weighted
prefix sums ``A(t) = decay**n A(t - n) + sum_{k in (t-n, t]} decay**(t-k) x_k x_k^T``: each
row enters one BLAS ``gemm`` once, and a window is ``A(t) - decay**(t-s+1) A(s-1)``. With
monthly decisions and a 252-row window that is 12 to 24 times fewer flops than one
``(W, N)`` product per decision (and half again: only the upper triangle is computed).
The sweep runs once per block of columns so that the block's accumulators stay in cache.

In "pairwise" mode (an asset may miss rows inside the window) each pair uses the rows both
assets have, as ``DataFrame.cov`` and ``ewm().cov()`` do, from five sums per pair over the
observed mask ``o``: ``sum w x_p x_q``, ``sum w o_p x_q``, ``sum w x_p o_q``,
``sum w o_p o_q`` and ``sum w^2 o_p o_q``.

Ledoit-Wolf shrinkage needs, beyond the biased sample covariance ``S``, three fourth-moment
sums per window, each O(W N) (:func:`window_quartics_nb`); the shrinkage itself is in
:mod:`simlab.kernels.shrinkage`, the repair of indefinite pairwise estimates in
:mod:`simlab.kernels.nearest_psd`. :func:`ewm_cov_last_nb` is pandas' own EWMA covariance
recursion at the last row, for any NaN pattern.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

# BLAS dgemm as numba exports it to compiled code (column-major, alpha/beta scaling):
# numba_xxgemm(kind, transa, transb, m, n, k, *alpha, *a, lda, *b, ldb, *beta, *c, ldc).
_xxgemm = types.ExternalFunction(
    "numba_xxgemm",
    types.intc(types.char, types.char, types.char, types.intp, types.intp, types.intp,
               types.voidptr, types.voidptr, types.intp, types.voidptr, types.intp,
               types.voidptr, types.voidptr, types.intp),
)


@njit(cache=True, error_model="numpy")
def _gemm_block(c, rowsrc, colsrc, j0, nb, k, ld, beta):
    """``c (nb, m) = colsrc[:k, j0:j0+nb].T @ rowsrc[:k, j0:] + beta * c``, m = ld - j0.

    ``rowsrc`` and ``colsrc`` are flat row-major (k, ld) buffers; one BLAS dgemm.
    """
    m = ld - j0
    scale = np.empty(2)
    scale[0] = 1.0
    scale[1] = beta
    return _xxgemm(ord("d"), ord("N"), ord("T"), m, nb, k, scale[0:1].ctypes, rowsrc[j0:].ctypes, ld,
                   colsrc[j0:].ctypes, ld, scale[1:2].ctypes, c.ctypes, m)


BLOCK = 64  # columns per pass of the sweep: the (N, BLOCK) accumulators stay in cache
GRID = 16  # the prefix sums advance GRID rows at a time from row -1 (see window_cov_nb)

# Accumulators of a column block, element [jj, q - j0] for the pair (p, q) = (j0 + jj, q),
# q >= p, with their gemm (row source, column source) among the packed buffers
# 0 x, 1 w*x, 2 o, 3 w*o, 4 w*w*o:
#   M0 = sum w x_p x_q (full and pairwise), and in pairwise mode
#   M1 = sum w o_p x_q, M2 = sum w x_p o_q, M3 = sum w o_p o_q, M4 = sum w^2 o_p o_q.
_SOURCES = ((0, 1), (1, 2), (2, 1), (2, 3), (2, 4))


@njit(cache=True, error_model="numpy")
def _pack_rows(x, obs, sel, lo, hi, decay, pairwise, bufs):
    """Copy the selected rows ``lo .. hi`` into flat row-major buffers; return (count, sum w, sum w^2).

    bufs[0] x, bufs[1] w*x and, in pairwise mode, bufs[2] o, bufs[3] w*o, bufs[4] w*w*o,
    with ``w = sel[k] * decay**(hi - k)``.
    """
    m = 0
    sw = 0.0
    sw2 = 0.0
    n_cols = x.shape[1]
    for k in range(lo, hi + 1):
        if sel[k] == 0.0:
            continue
        w = sel[k] * decay ** (hi - k)
        sw += w
        sw2 += w * w
        base = m * n_cols
        for i in range(n_cols):
            bufs[0, base + i] = x[k, i]
            bufs[1, base + i] = w * x[k, i]
            if pairwise:
                o = 1.0 if obs[k, i] else 0.0
                bufs[2, base + i] = o
                bufs[3, base + i] = w * o
                bufs[4, base + i] = w * w * o
        m += 1
    return m, sw, sw2


@njit(cache=True, error_model="numpy")
def _advance(x, obs, sel, lo, hi, decay, pairwise, bufs, j0, acc, vec, sc):
    """Move the prefix sums of column block ``j0`` from row ``lo - 1`` to row ``hi``."""
    f = decay ** (hi - lo + 1)
    m, sw, sw2 = _pack_rows(x, obs, sel, lo, hi, decay, pairwise, bufs)
    n_cols = x.shape[1]
    if j0 == 0:
        sc[0] = f * sc[0] + sw
        sc[1] = f * f * sc[1] + sw2
        for i in range(n_cols):
            s = 0.0
            for j in range(m):
                s += bufs[1, j * n_cols + i]
            vec[i] = f * vec[i] + s
    for a in range(acc.shape[0]):
        fa = f * f if a == 4 else f
        if m > 0:
            _gemm_block(acc[a], bufs[_SOURCES[a][0]], bufs[_SOURCES[a][1]], j0, acc.shape[1], m, n_cols, fa)
        elif fa != 1.0:
            acc[a] *= fa


@njit(cache=True, error_model="numpy")
def _max_open(rows, starts, n_zero):
    """Most windows open at once in the sweep whose snapshot is not zero (they share a ring).

    Both rows and starts ascend, so the open windows are a run ``i_fin .. i_snap - 1`` and
    ``r % n_ring`` gives them distinct slots; the first ``n_zero`` start at the first row swept.
    """
    n_dec = rows.shape[0]
    most = 1
    i_snap = 0
    for i_fin in range(n_dec):
        while i_snap < n_dec and starts[i_snap] - 1 <= rows[i_fin]:
            i_snap += 1
        most = max(most, i_snap - max(i_fin, n_zero))
    return most


@njit(cache=True, error_model="numpy")
def _finish_block(cov, acc, ring, slot, d, r, j0, vec, sc, include, ddof, first, alpha, g):
    """Write decision r's covariance on block j0 (both triangles): prefix minus ``d`` times snapshot.

    ``alpha > 0``: pandas ``adjust=False`` weights, the window's ``first`` row (N,) keeping
    weight ``g = decay**(t - s)`` where the others get ``alpha * decay**age`` (full mode only).
    """
    n_acc, nb, m = acc.shape
    s0 = sc[r, 0]
    den = s0 * s0 - ddof * sc[r, 1]
    fac = s0 / den if (s0 > 0.0 and den > 0.0) else np.nan
    out = cov[r]
    vr = vec[r, j0:]
    for jj in range(nb):
        p = j0 + jj
        row = out[p, j0:]
        if n_acc == 1:
            a0 = acc[0, jj]
            s_0 = ring[0, slot, jj]
            mean_p = vec[r, p] / s0
            for i in range(jj, m):
                row[i] = (a0[i] - d * s_0[i] - mean_p * vr[i]) * fac
            if alpha > 0.0:
                c = (1.0 - alpha) * g * first[p] * fac
                for i in range(jj, m):
                    row[i] = alpha * row[i] + c * first[j0 + i] + (alpha - 1.0) * mean_p * vr[i] * fac
        else:
            _finish_pairwise_row(row, acc, ring[:, slot], jj, m, d, ddof)
    if not include[r].all():
        for jj in range(nb):
            for i in range(jj, m):
                if not (include[r, j0 + jj] and include[r, j0 + i]):
                    out[j0 + jj, j0 + i] = np.nan
    for q in range(j0, j0 + m):  # mirror, row by row of the lower triangle
        for jj in range(min(nb, q - j0)):
            out[q, j0 + jj] = out[j0 + jj, q]


@njit(cache=True, error_model="numpy")
def _finish_pairwise_row(row, acc, snap, jj, m, d, ddof):
    for i in range(jj, m):
        m3 = acc[3, jj, i] - d * snap[3, jj, i]
        den = m3 * m3 - ddof * (acc[4, jj, i] - d * d * snap[4, jj, i])
        v = np.nan
        if m3 > 0.0 and den > 0.0:
            m0 = acc[0, jj, i] - d * snap[0, jj, i]
            m1 = acc[1, jj, i] - d * snap[1, jj, i]
            m2 = acc[2, jj, i] - d * snap[2, jj, i]
            v = (m0 - m1 * m2 / m3) * m3 / den
        row[i] = v


@njit(cache=True, error_model="numpy")
def window_cov_nb(x, obs, sel, rows, starts, decay, include, ddof, pairwise, adjust, active):
    """:func:`window_cov_into_nb` into a new (R, N, N) array; returns (cov, vec, sc)."""
    cov = np.empty((rows.shape[0], x.shape[1], x.shape[1]))
    none = np.empty(0)
    vec, sc = window_cov_into_nb(cov, x, obs, sel, rows, starts, decay, include, ddof, pairwise, adjust, active,
                                 none, -1, none, -2)
    return cov, vec, sc


def carry_size(n_cols: int, pairwise: bool) -> int:
    """Floats in the sweep state :func:`window_cov_into_nb` saves and resumes from."""
    n_acc = 5 if pairwise else 1
    return n_cols + 2 + n_acc * sum(min(BLOCK, n_cols - j0) * (n_cols - j0) for j0 in range(0, n_cols, BLOCK))


@njit(cache=True, error_model="numpy")
def window_cov_into_nb(cov, x, obs, sel, rows, starts, decay, include, ddof, pairwise, adjust, active,
                       carry_in, from_row, carry_out, to_row):
    """Covariance over each decision's window, weighted, for all decisions in one sweep.

    For each r, with rows ``k = starts[r] .. rows[r]`` and weights
    ``w = decay**(rows[r] - k) * sel[k]``: full mode equals
    ``np.cov(x[k], rowvar=False, aweights=w, ddof=...)``-style weighted covariance
    ``(S2 - s1 s1^T / s0) * s0 / (s0**2 - ddof * s0b)`` (unit weights: ``np.cov(x[k], ddof=ddof)``;
    EWMA weights, ddof=1: pandas ``x[k].ewm(alpha=1-decay).cov()`` at the last row).
    Pairwise mode: each pair over the rows both assets have (``obs``), as
    ``DataFrame.cov()`` / ``ewm().cov()``; NaN where a pair has fewer than two joint rows.
    NaN in the row and column of every asset outside ``include[r]``. ``adjust=False``
    (full mode, no row selection) gives pandas' ``ewm(adjust=False)`` weights on the window.
    Only decisions with ``active[r]`` are written (``cov[r]`` of the others is left unset).

    One sweep over time per block of :data:`BLOCK` columns: exponentially weighted prefix
    sums advanced by BLAS gemm, a window being the prefix at its end minus
    ``decay**len`` times the prefix before its start (held in a small ring buffer). The
    prefix sums advance :data:`GRID` rows at a time from row -1, and the sums at a window's
    end or start are taken from the grid row before it on a copy, so every value depends on
    the data and its own rows only: the same window gives the same bits whichever other
    decisions are in the sweep (a run to a later end date, a book run one day at a time).

    Parameters
    ----------
    x : (T, N) float64, C-contiguous, zero where unobserved (no NaN).
    obs : (T, N) bool, observed (read in pairwise mode only).
    sel : (T,) float64 row selection, 0.0 or 1.0.
    rows : (R,) int64 decision rows, ascending; starts : (R,) int64 first rows, ascending, <= rows.
    decay : float in (0, 1]; include : (R, N) bool; ddof : float; pairwise, adjust : bool;
    active : (R,) bool.

    cov : (>= R, N, N) float64, C-contiguous: the output, written at ``cov[:R]`` (a buffer
    that is reused from one batch of rows to the next is not faulted in again: at N = 500
    first touching 2 MB of fresh memory per row costs about as much as estimating it).
    carry_in, from_row : the sweep's state (:func:`carry_size` floats) at grid row
        ``from_row`` (``-1 + k GRID``, at or before every row this call needs), saved by an
        earlier call on the same data; ``from_row = -1``: start from row -1 (the prefix sums
        are the same either way, so are the bits).
    carry_out, to_row : where to save the state at grid row ``to_row`` (``-2``: nowhere); a
        later call on later windows resumes from it instead of sweeping from the first row.

    Returns
    -------
    vec : (R, N) the weighted sums ``w @ x[k]``; sc : (R, 2) ``sum w``, ``sum w**2``.
    """
    n_cols = x.shape[1]
    n_dec = rows.shape[0]
    n_acc = 5 if pairwise else 1
    vec = np.zeros((n_dec, n_cols))
    sc = np.zeros((n_dec, 2))
    if n_dec == 0:
        return vec, sc
    bufs = np.empty((5 if pairwise else 2, GRID * n_cols))
    zero_snap = starts == 0  # a window from the first row: its snapshot is zero
    n_ring = _max_open(rows, starts, int(zero_snap.sum()))
    acc_vec = np.zeros(n_cols)
    acc_sc = np.zeros(2)
    if from_row >= 0:
        acc_vec[:] = carry_in[:n_cols]
        acc_sc[:] = carry_in[n_cols:n_cols + 2]
    offset = n_cols + 2  # of the block's accumulators in the carried state
    alpha = 0.0 if (adjust or pairwise) else 1.0 - decay
    for j0 in range(0, n_cols, BLOCK):
        nb = min(BLOCK, n_cols - j0)
        size = n_acc * nb * (n_cols - j0)
        acc = np.zeros((n_acc, nb, n_cols - j0))
        if from_row >= 0:
            acc[:] = carry_in[offset:offset + size].reshape((n_acc, nb, n_cols - j0))
        ring = np.zeros((n_acc, n_ring, nb, n_cols - j0))  # zeros: slot 0 times d=0 stays 0
        scratch = np.empty_like(acc)  # the sums at a row between grid rows, one allocation a block
        cur = max(from_row, -1)  # the prefix sums stand at row -1 + k GRID, whatever the decisions are
        if cur == to_row:
            _save(carry_out, offset, acc, acc_vec, acc_sc, j0)
        i_snap = 0
        i_fin = 0
        while i_fin < n_dec:
            e = rows[i_fin]
            if i_snap < n_dec:
                e = min(e, starts[i_snap] - 1)
            while cur + GRID <= e:
                _advance(x, obs, sel, cur + 1, cur + GRID, decay, pairwise, bufs, j0, acc, acc_vec, acc_sc)
                cur += GRID
                if cur == to_row:
                    _save(carry_out, offset, acc, acc_vec, acc_sc, j0)
            at, at_vec, at_sc = acc, acc_vec, acc_sc
            if e > cur:  # the sums at e, from the grid row before it, on copies
                scratch[:] = acc
                at, at_vec, at_sc = scratch, acc_vec.copy(), acc_sc.copy()
                _advance(x, obs, sel, cur + 1, e, decay, pairwise, bufs, j0, at, at_vec, at_sc)
            while i_snap < n_dec and starts[i_snap] - 1 == e:
                if not zero_snap[i_snap]:
                    ring[:, i_snap % n_ring] = at
                if j0 == 0:
                    vec[i_snap] = at_vec
                    sc[i_snap] = at_sc
                i_snap += 1
            while i_fin < n_dec and rows[i_fin] == e:
                r = np.int64(i_fin)  # not the literal 0 of a first typing pass: one specialization of _finish_block
                d = decay ** (rows[r] - starts[r] + 1)
                first = x[starts[r]]
                g = d / decay
                if j0 == 0:
                    vec[r] = at_vec - d * vec[r]
                    sc[r, 0] = at_sc[0] - d * sc[r, 0]
                    sc[r, 1] = at_sc[1] - d * d * sc[r, 1]
                    if alpha > 0.0:  # adjust=False: S' = alpha S + (1 - alpha) g x_s x_s^T
                        vec[r] = alpha * vec[r] + (1.0 - alpha) * g * first
                        sc[r, 0] = alpha * sc[r, 0] + (1.0 - alpha) * g
                        sc[r, 1] = alpha * alpha * sc[r, 1] + (1.0 - alpha * alpha) * g * g
                slot, d_snap = (0, 0.0) if zero_snap[r] else (r % n_ring, d)
                if active[r]:
                    _finish_block(cov, at, ring, slot, d_snap, r, j0, vec, sc, include, ddof, first, alpha, g)
                i_fin += 1
        offset += size
    return vec, sc


@njit(cache=True, error_model="numpy")
def _save(carry, offset, acc, acc_vec, acc_sc, j0):
    """Copy a block's accumulators (and, on the first block, the sums of w x and w) into the carried state."""
    n_cols = acc_vec.shape[0]
    carry[offset:offset + acc.size] = acc.reshape(acc.size)
    if j0 == 0:
        carry[:n_cols] = acc_vec
        carry[n_cols:n_cols + 2] = acc_sc


@njit(cache=True, error_model="numpy")
def included_index_nb(mask_row):
    """Indices of the True entries of a (N,) bool row (``np.flatnonzero``)."""
    n = 0
    for i in range(mask_row.shape[0]):
        if mask_row[i]:
            n += 1
    idx = np.empty(n, np.int64)
    n = 0
    for i in range(mask_row.shape[0]):
        if mask_row[i]:
            idx[n] = i
            n += 1
    return idx


@njit(cache=True, error_model="numpy")
def window_counts_nb(obs, sel, rows, starts):
    """Selected rows (R,) and each asset's observed selected rows (R, N) in each window.

    Equals ``sel[s:t+1].sum()`` and ``(obs[s:t+1] & (sel[s:t+1] != 0)[:, None]).sum(axis=0)``
    for each ``s, t = starts[r], rows[r]``; one pass over the rows (rows, starts ascending).
    """
    n_rows, n_cols = obs.shape
    n_dec = rows.shape[0]
    n_sel = np.zeros(n_dec)
    n_obs = np.zeros((n_dec, n_cols), np.int64)
    run = np.zeros(n_cols, np.int64)
    run_sel = 0.0
    i_start = 0
    i_row = 0
    for t in range(-1, n_rows):
        if t >= 0 and sel[t] != 0.0:
            run_sel += sel[t]
            for i in range(n_cols):
                run[i] += obs[t, i]
        while i_start < n_dec and starts[i_start] - 1 == t:  # counts before the window
            n_sel[i_start] -= run_sel
            n_obs[i_start] -= run
            i_start += 1
        while i_row < n_dec and rows[i_row] == t:
            n_sel[i_row] += run_sel
            n_obs[i_row] += run
            i_row += 1
    return n_sel, n_obs


@njit(cache=True, error_model="numpy")
def window_quartics_nb(x, sel, rows, starts, mean, sd, include, all_terms):
    """Fourth-moment sums over each window's selected rows and included assets, (R, 3).

    With ``d = x[k, inc] - mean[r, inc]`` and ``y = d**2`` for window rows k:
    ``q[r, 0] = sum_k (sum_i y)**2`` (scikit-learn's ``sum(X2.T @ X2)``),
    ``q[r, 1] = sum_k sum_i y**2`` (``trace(X2.T @ X2)``) and
    ``q[r, 2] = sum_k (sum_i d**3 / sd_i) * (sum_j d * sd_j)`` (``sum((1/sd) sd^T * (X**3).T @ X)``).
    With ``all_terms`` False only ``q[:, 0]`` is computed (the identity target needs no more).
    """
    n_dec = rows.shape[0]
    n_cols = x.shape[1]
    q = np.zeros((n_dec, 3))
    w_in = np.empty(n_cols)
    w_sd = np.empty(n_cols)
    w_inv = np.empty(n_cols)
    for r in range(n_dec):
        for i in range(n_cols):  # excluded assets: weight 0, so no branch in the row loop
            on = include[r, i]
            w_in[i] = 1.0 if on else 0.0
            w_sd[i] = sd[r, i] if on else 0.0
            w_inv[i] = 1.0 / sd[r, i] if on else 0.0
        m = mean[r]
        for k in range(starts[r], rows[r] + 1):
            if sel[k] == 0.0:
                continue
            xk = x[k]
            if not all_terms:
                a = 0.0
                for i in range(n_cols):
                    d = (xk[i] - m[i]) * w_in[i]
                    a += d * d
                q[r, 0] += a * a
                continue
            a = 0.0
            b = 0.0
            c1 = 0.0
            c2 = 0.0
            for i in range(n_cols):
                d = (xk[i] - m[i]) * w_in[i]
                y = d * d
                a += y
                b += y * y
                c1 += d * y * w_inv[i]
                c2 += d * w_sd[i]
            q[r, 0] += a * a
            q[r, 1] += b
            q[r, 2] += c1 * c2
    return q


@njit(cache=True, error_model="numpy")
def ewm_cov_last_nb(x, alpha, adjust, ignore_na, bias, min_periods):
    """Pairwise EWMA covariance at the last row by pandas' own recursion, (N, N).

    Equals ``DataFrame(x).ewm(alpha=alpha, adjust=..., ignore_na=..., min_periods=...)
    .cov(bias=...)`` at the last row, for any NaN pattern (pandas ``ewmcov``). O(T N^2)
    scalar work; the batched sums are faster where they apply.
    """
    n_rows, n_cols = x.shape
    out = np.empty((n_cols, n_cols))
    minp = max(min_periods, 1)
    old_wt_factor = 1.0 - alpha
    new_wt = 1.0 if adjust else alpha
    for i in range(n_cols):
        for j in range(i + 1):
            v = _ewmcov_pair(x[:, i], x[:, j], old_wt_factor, new_wt, adjust, ignore_na, bias, minp)
            out[i, j] = v
            out[j, i] = v
    return out


@njit(cache=True, error_model="numpy")
def _ewmcov_pair(xs, ys, old_wt_factor, new_wt, adjust, ignore_na, bias, minp):
    mean_x = xs[0]
    mean_y = ys[0]
    is_obs = (xs[0] == xs[0]) and (ys[0] == ys[0])
    nobs = 1 if is_obs else 0
    if not is_obs:
        mean_x = np.nan
        mean_y = np.nan
    cov = 0.0
    sum_wt = 1.0
    sum_wt2 = 1.0
    old_wt = 1.0
    for k in range(1, xs.shape[0]):
        cx = xs[k]
        cy = ys[k]
        is_obs = (cx == cx) and (cy == cy)
        nobs += 1 if is_obs else 0
        if mean_x == mean_x:
            if is_obs or not ignore_na:
                sum_wt *= old_wt_factor
                sum_wt2 *= old_wt_factor * old_wt_factor
                old_wt *= old_wt_factor
                if is_obs:
                    old_mx = mean_x
                    old_my = mean_y
                    if mean_x != cx:
                        mean_x = (old_wt * old_mx + new_wt * cx) / (old_wt + new_wt)
                    if mean_y != cy:
                        mean_y = (old_wt * old_my + new_wt * cy) / (old_wt + new_wt)
                    cov = (old_wt * (cov + (old_mx - mean_x) * (old_my - mean_y))
                           + new_wt * (cx - mean_x) * (cy - mean_y)) / (old_wt + new_wt)
                    sum_wt += new_wt
                    sum_wt2 += new_wt * new_wt
                    old_wt += new_wt
                    if not adjust:
                        sum_wt /= old_wt
                        sum_wt2 /= old_wt * old_wt
                        old_wt = 1.0
        elif is_obs:
            mean_x = cx
            mean_y = cy
    if nobs < minp:
        return np.nan
    if bias:
        return cov
    num = sum_wt * sum_wt
    den = num - sum_wt2
    return num / den * cov if den > 0.0 else np.nan
