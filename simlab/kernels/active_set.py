r"""A primal active-set solver for box- and budget-constrained QPs with an L1 turnover term.

Each of B problems is

.. math::

    \min_w \tfrac12 w^\top P w + q^\top w + \kappa \sum_i |w_i - a_i|
    \quad \text{s.t.} \quad \mathbf 1^\top w = b,\quad l \le w \le u,

with ``P`` positive definite (a shrunk covariance times the risk aversion), ``a`` the
current book. The objective is quadratic plus a separable piecewise-linear term whose
breakpoints are ``l``, ``a`` (where it lies inside the box and ``kappa > 0``) and ``u``. An
asset is either *fixed* at one of its breakpoints or *free* inside the segment between two
of them, where its linear coefficient is ``kappa * sign``. The method (Nocedal & Wright,
*Numerical Optimization*, 2nd ed., section 16.5, on these segments):

1. minimize over the free assets with the fixed ones held and the budget met (one
   ``k x k`` Cholesky, ``k`` the free assets, and two triangular solves);
2. step toward that minimizer until a free asset reaches the end of its segment; fix it
   there and repeat;
3. at the minimizer, check every fixed asset's directional derivatives with the budget's
   multiplier; release the most negative one into its segment, or stop: the point
   satisfies the optimality conditions exactly (to rounding), and every weight on a
   breakpoint sits on it exactly.

With nothing free the multiplier is an interval; the pair of assets whose bounds on it
cross is released together (a budget-neutral descent direction).

The start is the current book clipped to the box, its budget gap put on the
lowest-variance assets with room: on a daily rebalance only a few assets move, so a solve
takes a few cheap steps (``k`` is the number of assets that trade, not N), where a
first-order method refactors the whole N x N system. A problem the method does not finish
within ``max_iter`` steps, or whose free block is not positive definite, returns status 1
and its caller's next solver answers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

CONVERGED, NOT_CONVERGED = 0, 1


@njit(cache=True, error_model="numpy")
def active_set_nb(cov, scale, q, lo, hi, budget, anchor, kappa, max_iter, tol):
    """Solve the B problems of the module docstring one after another.

    Parameters
    ----------
    cov : (B, N, N) float64 symmetric positive definite, and scale : (B,) float64 > 0, with
    ``P = scale * cov`` (the risk aversion: the matrix is not copied); q, lo, hi, anchor :
    (B, N) float64; budget, kappa : (B,) float64; max_iter : int, steps per problem; tol : float, relative
    tolerance on the directional derivatives.

    Returns
    -------
    w : (B, N) weights (NaN where not converged); status : (B,) int64, 0 solved, 1 not;
    iterations : (B,) int64 steps taken.
    """
    n_prob, n = q.shape
    w = np.full((n_prob, n), np.nan)
    status = np.full(n_prob, NOT_CONVERGED, np.int64)
    iterations = np.zeros(n_prob, np.int64)
    for r in range(n_prob):
        x, ok, it = _solve_one(cov[r], scale[r], q[r], lo[r], hi[r], budget[r], anchor[r], kappa[r], max_iter, tol)
        iterations[r] = it
        if ok:
            w[r] = x
            status[r] = CONVERGED
    return w, status, iterations


@njit(cache=True, error_model="numpy")
def _kink(lo_i, hi_i, a_i, kappa):
    """The anchor as a breakpoint: inside the box with a penalty, else NaN (none)."""
    if kappa > 0.0 and lo_i < a_i < hi_i:
        return a_i
    return np.nan


@njit(cache=True, error_model="numpy")
def _sign_above(v, a):
    """Sign of ``w - a`` on the segment just above breakpoint ``v``."""
    return -1.0 if v < a else 1.0


@njit(cache=True, error_model="numpy")
def _sign_below(v, a):
    """Sign of ``w - a`` on the segment just below breakpoint ``v``."""
    return 1.0 if v > a else -1.0


@njit(cache=True, error_model="numpy")
def _start(P, lo, hi, budget, anchor):
    """A feasible start: the anchor clipped to the box, the budget gap put on the
    lowest-variance assets with room (or taken from the highest-variance ones); returns
    (x, the gap left: nonzero where the bounds cannot meet the budget)."""
    n = lo.shape[0]
    x = np.empty(n)
    gap = budget
    for i in range(n):
        x[i] = min(max(anchor[i], lo[i]), hi[i])
        gap -= x[i]
    used = np.zeros(n, np.bool_)
    while gap != 0.0:
        pick = -1
        for i in range(n):  # the next asset by variance (a selection, no sort: the gap is small)
            room = hi[i] - x[i] if gap > 0.0 else x[i] - lo[i]
            if used[i] or not room > 0.0:
                continue
            if pick < 0 or (P[i, i] < P[pick, pick] if gap > 0.0 else P[i, i] > P[pick, pick]):
                pick = i
        if pick < 0:
            break
        used[pick] = True
        if gap > 0.0:
            room = hi[pick] - x[pick]
            step = min(room, gap)
            x[pick] = hi[pick] if step == room else x[pick] + step
            gap -= step
        else:
            room = x[pick] - lo[pick]
            step = min(room, -gap)
            x[pick] = lo[pick] if step == room else x[pick] - step
            gap += step
    return x, gap


@njit(cache=True, error_model="numpy")
def _segment(x_i, lo_i, hi_i, kink, ref):
    """The segment (low, high, sign of ``w - ref``) holding an off-breakpoint value ``x_i``."""
    sign = -1.0 if x_i < ref else 1.0
    if not np.isnan(kink):  # a kink inside the box
        if x_i < kink:
            return lo_i, kink, sign
        return kink, hi_i, sign
    return lo_i, hi_i, sign


@njit(cache=True, error_model="numpy")
def _gradient(P, scale, q, x, g):
    """``g = scale P x + q`` by rows of the symmetric P over the nonzero weights."""
    n = x.shape[0]
    for i in range(n):
        g[i] = q[i]
    for m in range(n):
        xm = scale * x[m]
        if xm != 0.0:
            row = P[m]
            for i in range(n):
                g[i] += xm * row[i]


@njit(cache=True, error_model="numpy")
def _chol(H, k):
    """Lower Cholesky of ``H[:k, :k]`` in place; False where not positive definite."""
    for j in range(k):
        s = H[j, j]
        for m in range(j):
            s -= H[j, m] * H[j, m]
        if not s > 0.0:
            return False
        d = np.sqrt(s)
        H[j, j] = d
        for i in range(j + 1, k):
            t = H[i, j]
            for m in range(j):
                t -= H[i, m] * H[j, m]
            H[i, j] = t / d
    return True


@njit(cache=True, error_model="numpy")
def _chol_solve(L, k, b):
    """Solve ``L L^T y = b[:k]`` in place."""
    for i in range(k):
        t = b[i]
        for m in range(i):
            t -= L[i, m] * b[m]
        b[i] = t / L[i, i]
    for i in range(k - 1, -1, -1):
        t = b[i]
        for m in range(i + 1, k):
            t -= L[m, i] * b[m]
        b[i] = t / L[i, i]


@njit(cache=True, error_model="numpy")
def _solve_one(P, scale, q, lo, hi, budget, anchor, kappa, max_iter, tol):
    """One problem: (w, converged, steps)."""
    n = q.shape[0]
    ref = np.empty(n)  # the anchor, where the penalty changes sign
    kinks = np.empty(n)  # the anchor as a breakpoint, NaN where it is not one
    for i in range(n):
        ref[i] = anchor[i] if np.isfinite(anchor[i]) else 0.0
        kinks[i] = _kink(lo[i], hi[i], ref[i], kappa)
    x, gap = _start(P, lo, hi, budget, ref)
    if abs(gap) > 1e-9 * max(1.0, abs(budget)):
        return x, False, 0
    free = np.zeros(n, np.bool_)
    seg_lo = np.empty(n)
    seg_hi = np.empty(n)
    sign = np.zeros(n)
    for i in range(n):
        v = x[i]
        if not (v == lo[i] or v == hi[i] or v == kinks[i]):
            free[i] = True
            seg_lo[i], seg_hi[i], sign[i] = _segment(v, lo[i], hi[i], kinks[i], ref[i])
    idx = np.empty(n, np.int64)
    H = np.empty((min(n, 64), min(n, 64)))
    rhs = np.empty(n)
    ones = np.empty(n)
    g = np.empty(n)
    nu = 0.0
    for it in range(max_iter):
        k = 0
        for i in range(n):
            if free[i]:
                idx[k] = i
                k += 1
        if k > 0:
            # the minimizer over the free assets: P_FF x_F + nu 1 = -(q_F + c_F) - P_FX x_X, 1'x_F = b_F
            if H.shape[0] < k:
                H = np.empty((min(n, 2 * k), min(n, 2 * k)))
            rest = budget
            for i in range(n):
                if not free[i]:
                    rest -= x[i]
            for jj in range(k):
                i = idx[jj]
                t = -(q[i] + kappa * sign[i])
                for m in range(n):
                    if not free[m] and x[m] != 0.0:
                        t -= scale * P[i, m] * x[m]
                rhs[jj] = t
                ones[jj] = 1.0
                for ll in range(jj + 1):
                    H[jj, ll] = scale * P[i, idx[ll]]
            if not _chol(H, k):
                return x, False, it
            _chol_solve(H, k, rhs)
            _chol_solve(H, k, ones)
            s1 = 0.0
            s2 = 0.0
            for jj in range(k):
                s1 += rhs[jj]
                s2 += ones[jj]
            nu = (s1 - rest) / s2
            # step toward it until a free asset meets the end of its segment
            alpha = 1.0
            block = -1
            block_at = 0.0
            for jj in range(k):
                i = idx[jj]
                target = rhs[jj] - nu * ones[jj]
                d = target - x[i]
                if d > 0.0 and target > seg_hi[i]:
                    a = (seg_hi[i] - x[i]) / d
                    if a < alpha:
                        alpha, block, block_at = a, i, seg_hi[i]
                elif d < 0.0 and target < seg_lo[i]:
                    a = (seg_lo[i] - x[i]) / d
                    if a < alpha:
                        alpha, block, block_at = a, i, seg_lo[i]
            alpha = max(alpha, 0.0)
            for jj in range(k):
                i = idx[jj]
                x[i] += alpha * (rhs[jj] - nu * ones[jj] - x[i])
            if block >= 0:
                x[block] = block_at
                free[block] = False
                continue
        # at the minimizer over the free assets: check the fixed ones
        _gradient(P, scale, q, x, g)
        size = kappa
        for i in range(n):
            size = max(size, abs(g[i]))
        eps = tol * size
        if k > 0:
            worst = -eps
            pick = -1
            up = True
            for i in range(n):
                if free[i]:
                    continue
                v = x[i]
                if v < hi[i]:
                    d_up = g[i] + nu + kappa * _sign_above(v, ref[i])
                    if d_up < worst:
                        worst, pick, up = d_up, i, True
                if v > lo[i]:
                    d_down = -(g[i] + nu + kappa * _sign_below(v, ref[i]))
                    if d_down < worst:
                        worst, pick, up = d_down, i, False
            if pick < 0:
                return x, True, it + 1
            _release(pick, up, x, lo, hi, kinks, ref, free, seg_lo, seg_hi, sign)
        else:
            # nothing free: the multiplier is any nu in [max L_i, min U_j]
            lmax = -np.inf
            umin = np.inf
            i_up = -1
            i_down = -1
            for i in range(n):
                v = x[i]
                if v < hi[i]:
                    bound = -g[i] - kappa * _sign_above(v, ref[i])
                    if bound > lmax:
                        lmax, i_up = bound, i
                if v > lo[i]:
                    bound = -g[i] - kappa * _sign_below(v, ref[i])
                    if bound < umin:
                        umin, i_down = bound, i
            if i_up < 0 or i_down < 0 or lmax <= umin + eps:
                return x, True, it + 1
            _release(i_up, True, x, lo, hi, kinks, ref, free, seg_lo, seg_hi, sign)
            _release(i_down, False, x, lo, hi, kinks, ref, free, seg_lo, seg_hi, sign)
    return x, False, max_iter


@njit(cache=True, error_model="numpy")
def _release(i, up, x, lo, hi, kinks, ref, free, seg_lo, seg_hi, sign):
    """Free asset ``i`` into the segment above (``up``) or below its breakpoint."""
    v = x[i]
    a = kinks[i]
    free[i] = True
    if up:
        seg_lo[i] = v
        seg_hi[i] = a if (not np.isnan(a) and v < a) else hi[i]
        sign[i] = _sign_above(v, ref[i])
    else:
        seg_hi[i] = v
        seg_lo[i] = a if (not np.isnan(a) and v > a) else lo[i]
        sign[i] = _sign_below(v, ref[i])
