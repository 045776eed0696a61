r"""The polish step of the numba QP kernels: the equality QP of a guessed active set.

The active set is read from ``z + y / rho`` (:func:`active_set_nb`: a weight at a bound,
at the kink ``w = w0``, free above or below ``w0``; a dense row at ``l``, at ``u``, or an
equality). The equality-constrained QP on the free weights is solved by Cholesky of the
reduced Hessian and of the Schur complement of the active rows, regularized by ``delta``
(proximal to the ADMM duals, so dependent rows split their dual as ADMM does) and refined
against the exact system. Rows with no free weight get a dual inside the range their
members' bound duals accept. :func:`polish_nb` scores the point with the ADMM residuals
(its z on the active bounds, its duals projected on their cones, so residuals below the
tolerances certify optimality); :func:`improves_nb` is OSQP's rule for keeping it. The
solver that calls them is :mod:`simlab.kernels.qp`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.projections import clip_nb
from simlab.kernels.qp_codes import ABOVE, AT_HI, AT_LO, BELOW, FIXED, FREE, KINK
from simlab.kernels.qp_linalg import chol_inplace_nb, chol_solve_nb, copy_nb, dot_nb, norm_inf_nb, residuals_nb, symv_nb

# --------------------------------------------------------------------------- active set


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _weight_code_nb(v, lo, hi, center, t):
    """Active-set guess for one weight from ``v = z + y / rho`` (prox threshold ``t``)."""
    if lo == hi:
        return FIXED
    d = v - center
    code, p = FREE, v
    if t > 0.0:
        if d > t:
            code, p = ABOVE, v - t
        elif d < -t:
            code, p = BELOW, v + t
        else:
            code, p = KINK, center
    if p < lo:
        return AT_LO
    if p > hi:
        return AT_HI
    return code


@njit(cache=True)
def active_set_nb(z, y, rho_vec, lo, hi, w0, ckap, l, u, code):
    """Fill ``code`` (N + m,) with the active-set guess read from ``z + y / rho``."""
    n, m = lo.shape[0], l.shape[0]
    for i in range(n):
        r = rho_vec[i]
        code[i] = _weight_code_nb(z[i] + y[i] / r, lo[i], hi[i], w0[i], ckap[i] / r)
    for j in range(m):
        v = z[n + j] + y[n + j] / rho_vec[n + j]
        c = 0
        if l[j] == u[j]:
            c = 3
        elif v < l[j]:
            c = 1
        elif v > u[j]:
            c = 2
        code[n + j] = c


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _subgradient_range_nb(z, lo, hi, center, kap):
    """Range of the subdifferential of ``kap |z - center| + 1[lo <= z <= hi]`` at ``z``."""
    a, b = -kap, kap
    if z > center:
        a = kap
    elif z < center:
        b = -kap
    if z <= lo:
        a = -np.inf
    if z >= hi:
        b = np.inf
    return a, b


# --------------------------------------------------------------------------- equality QP


@njit(cache=True, inline="always")
def _kkt_solve_nb(Lh, Ls, C, b1, b2, w, yv):
    """Solve ``[H + dI, C'; C, -dI] [w; yv] = [b1; b2]`` from ``Lh Lh' = H + dI``, ``Ls Ls' = S``."""
    nf, ma = b1.shape[0], b2.shape[0]
    h = np.empty(nf)
    chol_solve_nb(Lh, b1.copy(), h)
    if ma == 0:
        copy_nb(w, h)
        return
    r = np.empty(ma)
    for c in range(ma):
        r[c] = -b2[c]
    for c in range(ma):
        for a in range(nf):
            r[c] += C[c, a] * h[a]
    chol_solve_nb(Ls, r, yv)
    t = b1.copy()
    for c in range(ma):
        for a in range(nf):
            t[a] -= C[c, a] * yv[c]
    chol_solve_nb(Lh, t, w)


@njit(cache=True, inline="always")
def _reduced_kkt_nb(cP, cq, ckap, U, lo, hi, w0, l, u, code, delta, w, g):
    """The equality QP of the active set ``code``; writes the fixed weights into ``w``.

    Returns (free index, active row index, H + delta I, C, b1, b2) of the system
    ``[H, C'; C, 0] [w_free; y_active] = [b1; b2]``. ``g`` (N,) is work space.
    """
    n, m = w.shape[0], U.shape[0]
    fi, aj = np.empty(n, np.int64), np.empty(m, np.int64)
    nf = ma = 0
    for i in range(n):
        c = code[i]
        w[i] = lo[i] if (c == AT_LO or c == FIXED) else (hi[i] if c == AT_HI else
                                                           (w0[i] if c == KINK else 0.0))
        if c == FREE or c == ABOVE or c == BELOW:
            fi[nf] = i
            nf += 1
    for j in range(m):
        if code[n + j] > 0:
            aj[ma] = j
            ma += 1
    symv_nb(cP, w, g)  # the fixed weights' part: free entries of w are 0 here
    H, C, b1, b2 = np.empty((nf, nf)), np.empty((ma, nf)), np.empty(nf), np.empty(ma)
    for a in range(nf):
        i = fi[a]
        sgn = 1.0 if code[i] == ABOVE else (-1.0 if code[i] == BELOW else 0.0)
        b1[a] = -(cq[i] + ckap[i] * sgn + g[i])
        for b in range(nf):
            H[a, b] = cP[i, fi[b]]
        H[a, a] += delta
        for c in range(ma):
            C[c, a] = U[aj[c], i]
    for c in range(ma):
        j = aj[c]
        b2[c] = (u[j] if code[n + j] == 2 else l[j]) - dot_nb(U[j], w)
    return fi[:nf], aj[:ma], H, C, b1, b2


@njit(cache=True, inline="always")
def _kkt_refined_nb(H, C, b1, b2, delta, n_refine, y_ref, wf, yv):
    """Solve ``[H - dI, C'; C, 0] [wf; yv] = [b1; b2]`` (``H`` holds ``+ dI``) by the
    quasi-definite ``[H, C'; C, -dI]`` and ``n_refine`` refinement steps.

    Returns 0, or 1 when ``H`` is not positive definite (P is not PSD on the free
    weights), 2 when the Schur complement is not.

    The first solve is proximal to ``y_ref`` (``C w - d (y - y_ref) = b2``), so where the
    active rows are dependent on the free weights (a sector cap and the budget over the
    same free names) the dual split follows ``y_ref`` instead of the minimum norm."""
    nf, ma = b1.shape[0], b2.shape[0]
    Lh = H.copy()  # np.linalg.cholesky's dpotrf call in place: the same lower triangle (all that
    if not chol_inplace_nb(Lh):  # chol_solve_nb reads), no exception machinery to compile
        return 1
    S = np.zeros((ma, ma))
    col = np.empty(nf)
    for c in range(ma):  # Schur complement C H^-1 C' + dI
        chol_solve_nb(Lh, C[c].copy(), col)
        for d in range(ma):
            S[d, c] = dot_nb(C[d], col)
        S[c, c] += delta
    if not chol_inplace_nb(S):
        return 2
    Ls = S
    wf[:] = 0.0
    yv[:] = 0.0
    r1, r2, dw, dy, Hw = b1.copy(), np.empty(ma), np.empty(nf), np.empty(ma), np.empty(nf)
    for c in range(ma):
        r2[c] = b2[c] - delta * y_ref[c]
    for step in range(n_refine + 1):
        if step > 0:  # residual of the unregularized system
            symv_nb(H, wf, Hw)
            for a in range(nf):
                r1[a] = b1[a] - Hw[a] + delta * wf[a]
            for c in range(ma):
                r2[c] = b2[c] - dot_nb(C[c], wf)
                for a in range(nf):
                    r1[a] -= C[c, a] * yv[c]
        _kkt_solve_nb(Lh, Ls, C, r1, r2, dw, dy)
        for a in range(nf):
            wf[a] += dw[a]
        for c in range(ma):
            yv[c] += dy[c]
    return 0


# --------------------------------------------------------------------------- polish


@njit(cache=True, inline="always")
def _row_dual_range_nb(U, j, kind, g, y_j, lo, hi, w, w0, ckap):
    """Range of dual values for dense row ``j`` that keep every weight it touches
    stationary within its subgradient range, given the gradient ``g`` (with row j's
    current dual ``y_j`` in it); starts from the row's sign cone."""
    t_lo = 0.0 if kind == 2 else -np.inf
    t_hi = 0.0 if kind == 1 else np.inf
    for i in range(w.shape[0]):
        a_ji = U[j, i]
        if a_ji == 0.0:
            continue
        a, b = _subgradient_range_nb(clip_nb(w[i], lo[i], hi[i]), lo[i], hi[i], w0[i], ckap[i])
        rest = g[i] - a_ji * y_j  # need a <= -(rest + a_ji t) <= b
        r1, r2 = (-b - rest) / a_ji, (-a - rest) / a_ji
        t_lo = max(t_lo, min(r1, r2))
        t_hi = min(t_hi, max(r1, r2))
    return t_lo, t_hi


@njit(cache=True)
def polish_nb(cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, n_refine, y_admm, w, z, y, g, aty):
    """Polish: solve the equality QP of the active set ``code`` and score the point.

    Writes ``w`` (N,), ``z`` (``clip(A w)``; an active row's own bound, so that a gap to
    ``U_j w`` shows in the primal residual and ``y`` is in the row's normal cone) and the
    duals ``y`` (N + m,; scaled cost units, projected onto their cones). Returns (failed,
    residuals as :func:`residuals_nb`), ``failed`` as :func:`_kkt_refined_nb`.
    An active row with no free weight (a sector cap whose members all sit at a bound)
    gets no dual from the equality QP: it takes the ADMM dual ``y_admm``, moved into the
    range that keeps its members' bound duals feasible. ``g``, ``aty`` (N,) are work space.
    """
    n, m = w.shape[0], U.shape[0]
    inf = np.inf
    fi, aj, H, C, b1, b2 = _reduced_kkt_nb(cP, cq, ckap, U, lo, hi, w0, l, u, code, delta, w, g)
    nf, ma = fi.shape[0], aj.shape[0]
    wf, yv, y_ref = np.zeros(nf), np.zeros(ma), np.empty(ma)
    for c in range(ma):
        j = aj[c]
        y_ref[c] = min(y_admm[n + j], 0.0) if code[n + j] == 1 else (
            max(y_admm[n + j], 0.0) if code[n + j] == 2 else y_admm[n + j])
    failed = _kkt_refined_nb(H, C, b1, b2, delta, n_refine, y_ref, wf, yv) if nf > 0 else 0
    if failed:
        return failed, (inf, inf, inf, inf, inf, inf, inf, inf, inf, inf)
    for a in range(nf):
        w[fi[a]] = wf[a]
    y[:] = 0.0
    for c in range(ma):  # duals of the active rows, projected onto their sign
        j, v = aj[c], (yv[c] if nf > 0 else y_ref[c])
        y[n + j] = min(v, 0.0) if code[n + j] == 1 else (max(v, 0.0) if code[n + j] == 2 else v)
    symv_nb(cP, w, g)
    for j in range(m):  # an active row's z sits on its bound, so y is in its normal cone
        z[n + j] = clip_nb(dot_nb(U[j], w), l[j], u[j]) if code[n + j] == 0 else (u[j] if code[n + j] == 2 else l[j])
        for i in range(n):
            g[i] += U[j, i] * y[n + j]
    for i in range(n):
        g[i] += cq[i]
    for c in range(ma):  # rows without a free weight: a dual their members can live with
        j = aj[c]
        if norm_inf_nb(C[c]) > 0.0:
            continue
        t_lo, t_hi = _row_dual_range_nb(U, j, code[n + j], g, y[n + j], lo, hi, w, w0, ckap)
        t = clip_nb(y[n + j], t_lo, t_hi) if t_lo <= t_hi else 0.5 * (t_lo + t_hi)
        for i in range(n):
            g[i] += U[j, i] * (t - y[n + j])
        y[n + j] = t
    for i in range(n):  # weight-row duals: the subgradient closest to stationarity
        z[i] = clip_nb(w[i], lo[i], hi[i])
        a, b = _subgradient_range_nb(z[i], lo[i], hi[i], w0[i], ckap[i])
        y[i] = clip_nb(-g[i], a, b)
    return 0, residuals_nb(cP, cq, U, e, w, z, y, g, aty)


@njit(cache=True)
def improves_nb(new, old):
    """OSQP's polish acceptance: both residuals lower, or one lower and the other tiny."""
    rp, rd, prp, prd = old[0], old[1], new[0], new[1]
    return (prp < rp and prd < rd) or (prp < rp and rd < 1e-10) or (prd < rd and rp < 1e-10)

