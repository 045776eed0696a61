r"""Batched ADMM (OSQP-style) solver for many small dense portfolio QPs at once.

Each of K problems (rebalance dates x scenarios) is

.. math::

    \min_w \; \tfrac12 w' P w + q' w + \sum_i \kappa_i |w_i - w^0_i|
    \quad\text{s.t.}\quad lo \le w \le hi,\;\; l \le U w \le u

where the dense rows ``U`` (m, N) stack the budget row (``1'w = budget``, l = u), group
caps (``G w <= g``, l = -inf) and linear bounds (``a <= F w <= b``). Mean-variance with
risk aversion gamma and return weight lambda is ``P = gamma * Sigma``, ``q = -lambda * mu``.

Algorithm (Stellato et al., "OSQP", 2020), with ``A = [I; U]`` and ``z = A w``:

- **The L1 turnover term is a prox on the z-block**, not a ``w - w0 = u - v`` split. The
  identity rows of ``A`` carry ``g_i(z_i) = kappa_i |z_i - w0_i| + 1[lo_i <= z_i <= hi_i]``
  and their z-update is its prox (soft threshold around ``w0_i``, then clip:
  :func:`simlab.kernels.projections.prox_box_l1_nb`). No variables are added, so the KKT
  matrix stays N x N, and the ADMM dual on those rows carries the L1 subgradient.
- **x-update**: one dense Cholesky factor of ``cP + diag(sigma + R_I) + U' R_U U`` per
  problem, refactored only when rho changes. ``R`` is rho per row: ``rho e_j^2`` on a
  dense row with ``e_j = 1 / ||U_j||_2`` (row equilibration written as a per-row rho),
  1e3 times that on equality rows (``l == u``, ``lo == hi``), 1e-6 on unbounded rows.
- **Scaling**: the cost is normalized by ``c = 1 / mean diag P`` (``1 / max(|q|, kappa)``
  when P = 0), so tolerances and rho mean the same for daily and annual units. A cold
  start takes ``rho = settings.rho * max(1, ||q||_inf / mean diag P)`` (a strong linear
  term wants a stiffer penalty); a warm start keeps the state's rho.
- **Checks** at iteration 0 and every ``check_every`` iterations: the stopping test
  ``||Aw - z||_inf <= eps_abs + eps_rel max(||Aw||, ||z||)`` and ``||cPw + cq + A'y||_inf
  <= eps_abs + eps_rel max(||cPw||, ||A'y||, ||cq||)``; OSQP's infeasibility certificates
  on the last iterate differences (primal: ``||A'dy|| <= eps ||dy||`` and ``u'dy+ + l'dy-
  < -eps ||dy||``; dual: ``P dx``, ``A dx`` in the recession cone and ``q'dx +
  kappa'|dx|`` < 0); a polish attempt whenever the active-set guess changed; OSQP's
  adaptive rho (``rho sqrt(primal ratio / dual ratio)``, applied past ``rho_tol``).
- **Polish**: the active set is read from ``z + y / rho`` (at a bound, at the kink
  ``w = w0``, free above or below ``w0``; dense rows at ``l``, at ``u``, equality). The
  equality-constrained QP on the free weights is solved by Cholesky of the reduced
  Hessian and of the Schur complement of the active rows, regularized by ``delta``
  (proximal to the ADMM duals, so dependent rows split their dual as ADMM does) and
  refined against the exact system. Rows with no free weight get a dual inside the range
  their members' bound duals accept. The point is scored with the same residuals (its z
  on the active bounds, its duals projected on their cones, so residuals below the
  tolerances certify optimality). Inside the loop it is kept only if it meets the stopping
  test, so a warm start whose active set still holds ends after 0 iterations; after the
  loop it is kept if it lowers the residuals (OSQP's rule). A right guess gives ~1e-15.

Status codes (``STATUS_NAMES``): 0 solved, 1 max_iter (the ADMM point, not certified),
2 primal infeasible, 3 dual infeasible (unbounded), 4 non-finite input, 5 non-convex
(``P`` not positive semidefinite: the KKT factorization failed, or the polish met
negative curvature on the free weights; P is otherwise assumed PSD). For codes 2-5 the
weights are the hold point ``w0`` (NaN read as 0), never NaN, the objective is ``+inf``
(2), ``-inf`` (3) or NaN (4, 5), and the returned state is a cold one.

The warm-start state is ``(x, z, y, rho)``: x (K, N), z and y (K, N + m), rho (K,), with
``y`` in the caller's cost units (the next problem rescales it). The kernel releases the
GIL (``threads`` splits K over threads); BLAS/LAPACK are held to one thread meanwhile.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, fields
from itertools import pairwise

import numpy as np
from numba import njit

from simlab.kernels._support import resolve_backend
from simlab.kernels._xp import cupy_module, to_numpy
from simlab.kernels.projections import clip_nb, project_box_budget_nb, prox_box_l1_nb

SOLVED, MAX_ITER, PRIMAL_INFEASIBLE, DUAL_INFEASIBLE, NON_FINITE, NON_CONVEX = range(6)
STATUS_NAMES = ("solved", "max_iter", "primal_infeasible", "dual_infeasible", "non_finite",
                "non_convex")

RHO_MIN, RHO_MAX, EQ_SCALE = 1e-6, 1e6, 1e3
DIV_TOL = 1e-30

# positions in the ``opts`` vector the kernels take (built by ADMMSettings.as_array)
O_EPS_ABS, O_EPS_REL, O_EPS_PINF, O_EPS_DINF, O_MAX_ITER, O_CHECK, O_ALPHA, O_SIGMA = range(8)
O_ADAPTIVE, O_RHO_TOL, O_POLISH, O_REFINE, O_DELTA = range(8, 13)


# --------------------------------------------------------------------------- small helpers
# (plain loops: numba re-optimizes a callee inside every caller, so the kernels avoid
# numpy's heavier generic implementations)


@njit(cache=True)
def _dot_nb(a, b):
    acc = 0.0
    for i in range(a.shape[0]):
        acc += a[i] * b[i]
    return acc


@njit(cache=True)
def _symv_nb(A, x, out):
    """``out = A @ x`` for a symmetric ``A``, by rows of A (contiguous, vectorized)."""
    out[:] = 0.0
    for j in range(x.shape[0]):
        xj = x[j]
        if xj != 0.0:
            for i in range(x.shape[0]):
                out[i] += xj * A[j, i]


@njit(cache=True)
def _norm_inf_nb(a):
    acc = 0.0
    for i in range(a.shape[0]):
        acc = max(acc, abs(a[i]))
    return acc


@njit(cache=True)
def _diff_nb(a, b):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = a[i] - b[i]
    return out


@njit(cache=True)
def _same_nb(a, b):
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True


# --------------------------------------------------------------------------- linear algebra


@njit(cache=True)
def _factor_nb(cP, U, rho_vec, sigma):
    """Cholesky ``L`` of ``cP + diag(sigma + R_I) + U' R_U U``; returns (L, ok)."""
    n, m = cP.shape[0], U.shape[0]
    M = cP.copy()
    for j in range(m):
        r, uj = rho_vec[n + j], U[j]
        for i in range(n):
            a = r * uj[i]
            if a != 0.0:
                row = M[i]
                for k in range(n):
                    row[k] += a * uj[k]
    for i in range(n):
        M[i, i] += sigma + rho_vec[i]
    try:
        return np.linalg.cholesky(M), True
    except Exception:  # noqa: BLE001 - numba raises LinAlgError for an indefinite matrix
        return M, False


@njit(cache=True, fastmath={"reassoc", "contract"})
def _chol_solve_nb(L, b, x):
    """Solve ``L L' x = b`` with ``L`` lower triangular (row-major); ``b`` is overwritten.

    Forward sweep by row dot products, backward by row axpys, both on contiguous rows of L;
    ``fastmath`` reassociation (this function only) lets the dot products vectorize.
    """
    n = b.shape[0]
    for j in range(n):
        row = L[j, :j]
        acc = 0.0
        for k in range(j):
            acc += row[k] * b[k]
        b[j] = (b[j] - acc) / L[j, j]
    for i in range(n - 1, -1, -1):
        xi = b[i] / L[i, i]
        x[i] = xi
        row, head = L[i, :i], b[:i]
        for k in range(i):
            head[k] -= row[k] * xi


@njit(cache=True)
def _rho_vector_nb(rho, lo, hi, ckap, l, u, e, out):
    """Per-row rho (N + m,): identity rows, then the dense rows (times ``e_j^2``).

    ``rho`` on an inequality row, ``EQ_SCALE * rho`` on an equality row (``lo == hi``),
    ``RHO_MIN`` on a row bounded on neither side (and, for a weight, not penalized).
    """
    n = lo.shape[0]
    for r in range(n + l.shape[0]):
        if r < n:
            a, b, s, pen = lo[r], hi[r], 1.0, ckap[r] > 0.0
        else:
            a, b, s, pen = l[r - n], u[r - n], e[r - n] ** 2, False
        if a == -np.inf and b == np.inf and not pen:
            out[r] = RHO_MIN * s
        elif a == b:
            out[r] = min(EQ_SCALE * rho, RHO_MAX) * s
        else:
            out[r] = rho * s


# --------------------------------------------------------------------------- iteration


@njit(cache=True)
def _admm_step_nb(L, cq, ckap, U, rho_vec, sigma, alpha, lo, hi, w0, l, u, x, z, y, rhs, xt, Uxt):
    """One OSQP iteration: x-update by the factor, relaxed z-update by prox/clip, y-update."""
    n, m = x.shape[0], U.shape[0]
    for i in range(n):
        rhs[i] = sigma * x[i] - cq[i] + rho_vec[i] * z[i] - y[i]
    for j in range(m):
        s = rho_vec[n + j] * z[n + j] - y[n + j]
        for i in range(n):
            rhs[i] += s * U[j, i]
    _chol_solve_nb(L, rhs, xt)
    for j in range(m):
        Uxt[j] = _dot_nb(U[j], xt)
    for i in range(n):
        r = rho_vec[i]
        x[i] = alpha * xt[i] + (1.0 - alpha) * x[i]
        zr = alpha * xt[i] + (1.0 - alpha) * z[i]
        zn = prox_box_l1_nb(zr + y[i] / r, w0[i], lo[i], hi[i], ckap[i] / r)
        y[i] += r * (zr - zn)
        z[i] = zn
    for j in range(m):
        r = rho_vec[n + j]
        zr = alpha * Uxt[j] + (1.0 - alpha) * z[n + j]
        zn = clip_nb(zr + y[n + j] / r, l[j], u[j])
        y[n + j] += r * (zr - zn)
        z[n + j] = zn


@njit(cache=True)
def _residuals_nb(cP, cq, U, e, x, z, y, Px, Aty):
    """OSQP residuals and norms (inf-norms); fills ``Px = cP x`` and ``Aty = A'y`` (N,).

    Returns (r_prim, r_dual, |Ax|, |z|, |cPx|, |A'y|, |cq|, r_prim_s, |Ax|_s, |z|_s); the
    ``_s`` ones are row-scaled by ``e``, for the rho update.
    """
    n, m = x.shape[0], U.shape[0]
    _symv_nb(cP, x, Px)
    rp = nax = nz = 0.0
    for i in range(n):
        Aty[i] = y[i]
        rp = max(rp, abs(x[i] - z[i]))
        nax = max(nax, abs(x[i]))
        nz = max(nz, abs(z[i]))
    rps, naxs, nzs = rp, nax, nz
    for j in range(m):
        yj = y[n + j]
        for i in range(n):
            Aty[i] += U[j, i] * yj
        ux, zj = _dot_nb(U[j], x), z[n + j]
        rp = max(rp, abs(ux - zj))
        rps = max(rps, e[j] * abs(ux - zj))
        nax = max(nax, abs(ux))
        naxs = max(naxs, e[j] * abs(ux))
        nz = max(nz, abs(zj))
        nzs = max(nzs, e[j] * abs(zj))
    rd = npx = naty = nq = 0.0
    for i in range(n):
        rd = max(rd, abs(Px[i] + cq[i] + Aty[i]))
        npx = max(npx, abs(Px[i]))
        naty = max(naty, abs(Aty[i]))
        nq = max(nq, abs(cq[i]))
    return rp, rd, nax, nz, npx, naty, nq, rps, naxs, nzs


@njit(cache=True)
def _converged_nb(res, eps_abs, eps_rel):
    rp, rd, nax, nz, npx, naty, nq = res[0], res[1], res[2], res[3], res[4], res[5], res[6]
    return rp <= eps_abs + eps_rel * max(nax, nz) and rd <= eps_abs + eps_rel * max(npx, naty, nq)


@njit(cache=True)
def _rho_estimate_nb(rho, res):
    """OSQP's rho update from row-scaled residuals, clipped to [RHO_MIN, RHO_MAX]."""
    rd, npx, naty, nq, rps, naxs, nzs = res[1], res[4], res[5], res[6], res[7], res[8], res[9]
    prim = rps / max(naxs, nzs, DIV_TOL)
    dual = rd / max(npx, naty, nq, DIV_TOL)
    new = rho * np.sqrt(prim / max(dual, DIV_TOL))
    return min(max(new, RHO_MIN), RHO_MAX)


# --------------------------------------------------------------------------- certificates


@njit(cache=True)
def _support_nb(d, lo, hi, tol):
    """``hi * max(d, 0) + lo * min(d, 0)``; NaN where ``d`` points (beyond ``tol``) to an infinite side."""
    if d > 0.0:
        if hi == np.inf:
            return np.nan if d > tol else 0.0
        return hi * d
    if d < 0.0:
        if lo == -np.inf:
            return np.nan if -d > tol else 0.0
        return lo * d
    return 0.0


@njit(cache=True)
def _primal_infeasible_nb(U, lo, hi, l, u, dy, eps):
    """OSQP's primal infeasibility certificate on ``dy = y_k - y_{k-1}``."""
    n, m = lo.shape[0], l.shape[0]
    norm = _norm_inf_nb(dy)
    if norm < DIV_TOL:
        return False
    tol = eps * norm
    s = 0.0
    for i in range(n):
        s += _support_nb(dy[i], lo[i], hi[i], tol)
    for j in range(m):
        s += _support_nb(dy[n + j], l[j], u[j], tol)
    if not s < -tol:  # NaN (an unbounded side) fails too
        return False
    aty = dy[:n].copy()
    for j in range(m):
        for i in range(n):
            aty[i] += U[j, i] * dy[n + j]
    return _norm_inf_nb(aty) <= tol


@njit(cache=True)
def _in_recession_nb(d, lo, hi, tol):
    return not ((lo > -np.inf and d < -tol) or (hi < np.inf and d > tol))


@njit(cache=True)
def _dual_infeasible_nb(cP, cq, ckap, U, lo, hi, l, u, dx, eps, work):
    """OSQP's dual infeasibility (unboundedness) certificate on ``dx = x_k - x_{k-1}``."""
    n, m = lo.shape[0], l.shape[0]
    norm = _norm_inf_nb(dx)
    if norm < DIV_TOL:
        return False
    tol = eps * norm
    slope = 0.0
    for i in range(n):
        slope += cq[i] * dx[i] + ckap[i] * abs(dx[i])
        if not _in_recession_nb(dx[i], lo[i], hi[i], tol):
            return False
    if slope > -tol:
        return False
    for j in range(m):
        if not _in_recession_nb(_dot_nb(U[j], dx), l[j], u[j], tol):
            return False
    _symv_nb(cP, dx, work)
    return _norm_inf_nb(work) <= tol


# --------------------------------------------------------------------------- polish


# active-set codes: weights 0 free, 1 at lo, 2 at hi, 3 fixed (lo == hi), 4 at the kink w0,
# 5 free above w0, 6 free below w0; dense rows 0 inactive, 1 at l, 2 at u, 3 equality
_FREE, _AT_LO, _AT_HI, _FIXED, _KINK, _ABOVE, _BELOW = range(7)


@njit(cache=True)
def _weight_code_nb(v, lo, hi, center, t):
    """Active-set guess for one weight from ``v = z + y / rho`` (prox threshold ``t``)."""
    if lo == hi:
        return _FIXED
    d = v - center
    code, p = _FREE, v
    if t > 0.0:
        if d > t:
            code, p = _ABOVE, v - t
        elif d < -t:
            code, p = _BELOW, v + t
        else:
            code, p = _KINK, center
    if p < lo:
        return _AT_LO
    if p > hi:
        return _AT_HI
    return code


@njit(cache=True)
def _active_set_nb(z, y, rho_vec, lo, hi, w0, ckap, l, u, code):
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


@njit(cache=True)
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


@njit(cache=True)
def _kkt_solve_nb(Lh, Ls, C, b1, b2, w, yv):
    """Solve ``[H + dI, C'; C, -dI] [w; yv] = [b1; b2]`` from ``Lh Lh' = H + dI``, ``Ls Ls' = S``."""
    nf, ma = b1.shape[0], b2.shape[0]
    h = np.empty(nf)
    _chol_solve_nb(Lh, b1.copy(), h)
    if ma == 0:
        w[:] = h
        return
    r = -b2
    for c in range(ma):
        for a in range(nf):
            r[c] += C[c, a] * h[a]
    _chol_solve_nb(Ls, r, yv)
    t = b1.copy()
    for c in range(ma):
        for a in range(nf):
            t[a] -= C[c, a] * yv[c]
    _chol_solve_nb(Lh, t, w)


@njit(cache=True)
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
        w[i] = lo[i] if (c == _AT_LO or c == _FIXED) else (hi[i] if c == _AT_HI else
                                                           (w0[i] if c == _KINK else 0.0))
        if c == _FREE or c == _ABOVE or c == _BELOW:
            fi[nf] = i
            nf += 1
    for j in range(m):
        if code[n + j] > 0:
            aj[ma] = j
            ma += 1
    _symv_nb(cP, w, g)  # the fixed weights' part: free entries of w are 0 here
    H, C, b1, b2 = np.empty((nf, nf)), np.empty((ma, nf)), np.empty(nf), np.empty(ma)
    for a in range(nf):
        i = fi[a]
        sgn = 1.0 if code[i] == _ABOVE else (-1.0 if code[i] == _BELOW else 0.0)
        b1[a] = -(cq[i] + ckap[i] * sgn + g[i])
        for b in range(nf):
            H[a, b] = cP[i, fi[b]]
        H[a, a] += delta
        for c in range(ma):
            C[c, a] = U[aj[c], i]
    for c in range(ma):
        j = aj[c]
        b2[c] = (u[j] if code[n + j] == 2 else l[j]) - _dot_nb(U[j], w)
    return fi[:nf], aj[:ma], H, C, b1, b2


@njit(cache=True)
def _kkt_refined_nb(H, C, b1, b2, delta, n_refine, y_ref, wf, yv):
    """Solve ``[H - dI, C'; C, 0] [wf; yv] = [b1; b2]`` (``H`` holds ``+ dI``) by the
    quasi-definite ``[H, C'; C, -dI]`` and ``n_refine`` refinement steps.

    Returns 0, or 1 when ``H`` is not positive definite (P is not PSD on the free
    weights), 2 when the Schur complement is not.

    The first solve is proximal to ``y_ref`` (``C w - d (y - y_ref) = b2``), so where the
    active rows are dependent on the free weights (a sector cap and the budget over the
    same free names) the dual split follows ``y_ref`` instead of the minimum norm."""
    nf, ma = b1.shape[0], b2.shape[0]
    try:
        Lh = np.linalg.cholesky(H)
    except Exception:  # noqa: BLE001
        return 1
    S = np.zeros((ma, ma))
    col = np.empty(nf)
    for c in range(ma):  # Schur complement C H^-1 C' + dI
        _chol_solve_nb(Lh, C[c].copy(), col)
        for d in range(ma):
            S[d, c] = _dot_nb(C[d], col)
        S[c, c] += delta
    try:
        Ls = np.linalg.cholesky(S)
    except Exception:  # noqa: BLE001
        return 2
    wf[:] = 0.0
    yv[:] = 0.0
    r1, r2, dw, dy, Hw = b1.copy(), b2 - delta * y_ref, np.empty(nf), np.empty(ma), np.empty(nf)
    for step in range(n_refine + 1):
        if step > 0:  # residual of the unregularized system
            _symv_nb(H, wf, Hw)
            for a in range(nf):
                r1[a] = b1[a] - Hw[a] + delta * wf[a]
            for c in range(ma):
                r2[c] = b2[c] - _dot_nb(C[c], wf)
                for a in range(nf):
                    r1[a] -= C[c, a] * yv[c]
        _kkt_solve_nb(Lh, Ls, C, r1, r2, dw, dy)
        wf += dw
        yv += dy
    return 0


@njit(cache=True)
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
def _polish_nb(cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, n_refine, y_admm, w, z, y, g, aty):
    """Polish: solve the equality QP of the active set ``code`` and score the point.

    Writes ``w`` (N,), ``z`` (``clip(A w)``; an active row's own bound, so that a gap to
    ``U_j w`` shows in the primal residual and ``y`` is in the row's normal cone) and the
    duals ``y`` (N + m,; scaled cost units, projected onto their cones). Returns (failed,
    residuals as :func:`_residuals_nb`), ``failed`` as :func:`_kkt_refined_nb`.
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
    _symv_nb(cP, w, g)
    for j in range(m):  # an active row's z sits on its bound, so y is in its normal cone
        z[n + j] = clip_nb(_dot_nb(U[j], w), l[j], u[j]) if code[n + j] == 0 else (u[j] if code[n + j] == 2 else l[j])
        for i in range(n):
            g[i] += U[j, i] * y[n + j]
    for i in range(n):
        g[i] += cq[i]
    for c in range(ma):  # rows without a free weight: a dual their members can live with
        j = aj[c]
        if _norm_inf_nb(C[c]) > 0.0:
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
    return 0, _residuals_nb(cP, cq, U, e, w, z, y, g, aty)


@njit(cache=True)
def _improves_nb(new, old):
    """OSQP's polish acceptance: both residuals lower, or one lower and the other tiny."""
    rp, rd, prp, prd = old[0], old[1], new[0], new[1]
    return (prp < rp and prd < rd) or (prp < rp and rd < 1e-10) or (prd < rd and rp < 1e-10)


# --------------------------------------------------------------------------- one problem


@njit(cache=True)
def _setup_nb(P, q, kap, lo, hi, w0, U, l, u, x, z, y, rho):
    """Input check and cost scale: returns (status, c) with status -1 when the problem runs.

    Status 4 for NaN anywhere (or +inf lower / -inf upper bounds, kappa < 0, rho <= 0),
    2 for crossing bounds.
    """
    n, m = q.shape[0], l.shape[0]
    if not (rho > 0.0 and rho < np.inf):
        return NON_FINITE, 1.0
    diag = qmax = 0.0
    crossed = False
    for i in range(n):
        for k in range(n):
            if not np.isfinite(P[i, k]):
                return NON_FINITE, 1.0
        for v in (q[i], w0[i], kap[i], x[i]):
            if not np.isfinite(v):
                return NON_FINITE, 1.0
        if np.isnan(lo[i]) or np.isnan(hi[i]) or lo[i] == np.inf or hi[i] == -np.inf or kap[i] < 0.0:
            return NON_FINITE, 1.0
        crossed = crossed or lo[i] > hi[i]
        diag += abs(P[i, i])
        qmax = max(qmax, abs(q[i]), kap[i])
    for j in range(m):
        if np.isnan(l[j]) or np.isnan(u[j]) or l[j] == np.inf or u[j] == -np.inf:
            return NON_FINITE, 1.0
        crossed = crossed or l[j] > u[j]
    for r in range(n + m):
        if not (np.isfinite(z[r]) and np.isfinite(y[r])):
            return NON_FINITE, 1.0
    if crossed:
        return PRIMAL_INFEASIBLE, 1.0
    s = diag / n if diag > 1e-300 else qmax  # unit mean curvature; the linear terms for an LP
    return -1, (1.0 / s if s > 1e-300 else 1.0)


@njit(cache=True)
def _hold_nb(status, U, w0, x, z, y, w):
    """Failure exit: weights and state at the hold point ``w0`` (NaN read as 0), zero duals."""
    n = w.shape[0]
    for i in range(n):
        v = w0[i]
        w[i] = v if np.isfinite(v) else 0.0
        x[i] = w[i]
        z[i] = w[i]
    for j in range(U.shape[0]):
        z[n + j] = _dot_nb(U[j], w)
        if not np.isfinite(z[n + j]):
            z[n + j] = 0.0
    y[:] = 0.0
    return np.inf if status == PRIMAL_INFEASIBLE else (-np.inf if status == DUAL_INFEASIBLE else np.nan)


@njit(cache=True)
def solve_one_nb(P, q, lo, hi, w0, kap, U, l, u, opts, x, z, y, rho, w):
    """ADMM for one problem; updates the state ``x, z, y`` in place and writes ``w`` (N,).

    Returns ``(status, iterations, objective, r_prim, r_dual, polished, rho,
    factorizations, cost_scale)``; ``r_dual`` is on the cost-normalized problem.
    Arguments as in :func:`admm_solve_nb`, for one problem (no leading K axis).
    """
    n, m = q.shape[0], U.shape[0]
    nan = np.nan
    status, c = _setup_nb(P, q, kap, lo, hi, w0, U, l, u, x, z, y, rho)
    if status >= 0:
        rho = rho if rho > 0.0 and rho < np.inf else 0.1
        return status, 0, _hold_nb(status, U, w0, x, z, y, w), nan, nan, False, rho, 0, c
    sigma, alpha, delta, refine = opts[O_SIGMA], opts[O_ALPHA], opts[O_DELTA], int(opts[O_REFINE])
    max_iter, check, polish = int(opts[O_MAX_ITER]), max(1, int(opts[O_CHECK])), opts[O_POLISH] > 0.0
    cP = np.empty((n, n))
    for i in range(n):  # cost-scaled and symmetrized
        for k in range(n):
            cP[i, k] = 0.5 * c * (P[i, k] + P[k, i])
    cq, ckap = c * q, c * kap
    e = np.ones(m)
    for j in range(m):
        nrm = np.sqrt(_dot_nb(U[j], U[j]))
        e[j] = 1.0 / nrm if nrm > 0.0 else 1.0
    y *= c
    for i in range(n):  # the starting z inside its set, so that a check at once is honest
        z[i] = clip_nb(z[i], lo[i], hi[i])
    for j in range(m):
        z[n + j] = clip_nb(z[n + j], l[j], u[j])
    rho_vec = np.empty(n + m)
    _rho_vector_nb(rho, lo, hi, ckap, l, u, e, rho_vec)
    L, ok = _factor_nb(cP, U, rho_vec, sigma)
    if not ok:
        return NON_CONVEX, 0, _hold_nb(NON_CONVEX, U, w0, x, z, y, w), nan, nan, False, rho, 1, c
    rhs, xt, Uxt, g, aty = np.empty(n), np.empty(n), np.empty(m), np.empty(n), np.empty(n)
    x_prev, y_prev = np.empty(n), np.empty(n + m)
    wp, zp, yp = np.empty(n), np.empty(n + m), np.empty(n + m)
    code, tried = np.zeros(n + m, np.int64), np.full(n + m, -1)
    status, it, n_fact, polished = MAX_ITER, 0, 1, False
    inf = np.inf
    res = (inf, inf, inf, inf, inf, inf, inf, inf, inf, inf)
    while True:
        if it == 0 or it % check == 0 or it == max_iter:  # a check after `it` iterations
            res = _residuals_nb(cP, cq, U, e, x, z, y, g, aty)
            if _converged_nb(res, opts[O_EPS_ABS], opts[O_EPS_REL]):
                status = SOLVED
                break
            if it > 0 and _primal_infeasible_nb(U, lo, hi, l, u, _diff_nb(y, y_prev), opts[O_EPS_PINF]):
                status = PRIMAL_INFEASIBLE
                break
            if it > 0 and _dual_infeasible_nb(cP, cq, ckap, U, lo, hi, l, u, _diff_nb(x, x_prev), opts[O_EPS_DINF], g):
                status = DUAL_INFEASIBLE
                break
            if polish:  # early polish, each time the active-set guess changes (at once on a warm start)
                _active_set_nb(z, y, rho_vec, lo, hi, w0, ckap, l, u, code)
                if not _same_nb(code, tried):
                    tried[:] = code
                    failed, pres = _polish_nb(cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, refine, y,
                                              wp, zp, yp, g, aty)
                    if failed == 1:
                        status = NON_CONVEX
                        break
                    if not failed and _converged_nb(pres, opts[O_EPS_ABS], opts[O_EPS_REL]) and _improves_nb(pres, res):
                        x[:], z[:], y[:] = wp, zp, yp
                        status, polished, res = SOLVED, True, pres
                        break
            if it == max_iter:
                break
            if it > 0 and opts[O_ADAPTIVE] > 0.0:
                new = _rho_estimate_nb(rho, res)
                if new > rho * opts[O_RHO_TOL] or new * opts[O_RHO_TOL] < rho:
                    rho = new
                    _rho_vector_nb(rho, lo, hi, ckap, l, u, e, rho_vec)
                    L, ok = _factor_nb(cP, U, rho_vec, sigma)
                    n_fact += 1
                    if not ok:
                        return NON_CONVEX, it, _hold_nb(NON_CONVEX, U, w0, x, z, y, w), nan, nan, False, rho, n_fact, c
        if (it + 1) % check == 0 or it + 1 == max_iter:
            x_prev[:] = x
            y_prev[:] = y
        _admm_step_nb(L, cq, ckap, U, rho_vec, sigma, alpha, lo, hi, w0, l, u, x, z, y, rhs, xt, Uxt)
        it += 1
    if polish and not polished and (status == SOLVED or status == MAX_ITER):
        _active_set_nb(z, y, rho_vec, lo, hi, w0, ckap, l, u, code)
        failed, pres = _polish_nb(cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, refine, y, wp, zp, yp, g, aty)
        if failed == 1:
            status = NON_CONVEX
        elif not failed and _improves_nb(pres, res):
            x[:], z[:], y[:] = wp, zp, yp
            polished, res = True, pres
            if _converged_nb(res, opts[O_EPS_ABS], opts[O_EPS_REL]):
                status = SOLVED
    if status >= PRIMAL_INFEASIBLE:
        rp, rd = (nan, nan) if status == NON_CONVEX else (res[0], res[1])
        return status, it, _hold_nb(status, U, w0, x, z, y, w), rp, rd, False, rho, n_fact, c
    w[:] = x
    y /= c
    _symv_nb(cP, w, g)
    obj = 0.0
    for i in range(n):
        obj += 0.5 * w[i] * g[i] / c + q[i] * w[i] + kap[i] * abs(w[i] - w0[i])
    return status, it, obj, res[0], res[1], polished, rho, n_fact, c


# --------------------------------------------------------------------------- batched drivers


@njit(cache=True, nogil=True)
def admm_solve_nb(P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho, w, status, iterations,
                  objective, r_prim, r_dual, polished, n_factor, cost_scale):
    """Solve K QPs one after another (the problem is in the module docstring).

    Parameters
    ----------
    P : (K, N, N) symmetric PSD; q, lo, hi, w0, kappa : (K, N); U : (Ku, m, N) dense rows
    with Ku in {1, K} (1: shared); l, u : (K, m) their bounds; opts : (13,) float64 from
    ``ADMMSettings.as_array``. State, read and written in place: x (K, N), z, y (K, N + m),
    rho (K,). Outputs, written: w (K, N); status, iterations, n_factor (K,) int64;
    objective, r_prim, r_dual, cost_scale (K,) float64; polished (K,) bool.
    The GIL is released, so disjoint slices of K may run on several threads.
    """
    for k in range(q.shape[0]):
        ku = k if U.shape[0] > 1 else 0
        out = solve_one_nb(P[k], q[k], lo[k], hi[k], w0[k], kappa[k], U[ku], l[k], u[k], opts,
                           x[k], z[k], y[k], rho[k], w[k])
        status[k], iterations[k], objective[k], r_prim[k], r_dual[k] = out[0], out[1], out[2], out[3], out[4]
        polished[k], rho[k], n_factor[k], cost_scale[k] = out[5], out[6], out[7], out[8]


@njit(cache=True)
def cold_start_nb(lo, hi, w0, budget, U, x, z, y):
    """Cold state: ``x`` = ``w0`` (NaN read as 0) projected onto the box and budget
    (clipped where ``budget`` is NaN or the projection does not exist), ``z = [x; U x]``,
    ``y = 0``."""
    n = x.shape[1]
    start = np.empty(n)
    for k in range(x.shape[0]):
        ku = k if U.shape[0] > 1 else 0
        for i in range(n):
            start[i] = w0[k, i] if np.isfinite(w0[k, i]) else 0.0
        if budget[k] == budget[k]:
            project_box_budget_nb(start, lo[k], hi[k], budget[k], x[k])
        else:
            for i in range(n):
                x[k, i] = clip_nb(start[i], lo[k, i], hi[k, i])
        for i in range(n):
            if not np.isfinite(x[k, i]):
                x[k, i] = 0.0
            z[k, i] = x[k, i]
        for j in range(U.shape[1]):
            v = _dot_nb(U[ku, j], x[k])
            z[k, n + j] = v if np.isfinite(v) else 0.0
        y[k] = 0.0


# --------------------------------------------------------------------------- wrapper


@dataclass(frozen=True)
class ADMMSettings:
    """Knobs of the ADMM solver (OSQP's names; defaults tuned for portfolio QPs).

    ``eps_abs``/``eps_rel`` are the stopping tolerances (dual side on the cost-normalized
    problem), ``eps_pinf``/``eps_dinf`` the infeasibility tolerances, ``check_every`` the
    iterations between residual checks (and rho updates), ``rho`` the cold-start penalty
    (raised on problems with a strong linear term, see the module docstring), ``rho_tol``
    the factor rho must move by before a refactorization, ``alpha`` the
    over-relaxation, ``sigma`` the x-regularization, ``delta`` and ``polish_refine`` the
    polish regularization and its refinement steps.
    """

    eps_abs: float = 1e-7
    eps_rel: float = 1e-7
    eps_pinf: float = 1e-5
    eps_dinf: float = 1e-5
    max_iter: int = 4000
    check_every: int = 10
    alpha: float = 1.6
    sigma: float = 1e-6
    rho: float = 3.0
    adaptive_rho: bool = True
    rho_tol: float = 5.0
    polish: bool = True
    polish_refine: int = 3
    delta: float = 1e-7

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("adaptive_rho", "polish"):
                continue
            ok = np.isfinite(v) and (v >= 0 if f.name in ("max_iter", "polish_refine") else v > 0)
            if not ok:
                raise ValueError(f"ADMMSettings.{f.name} must be a positive finite number; got {v!r}")
        if not 0.0 < self.alpha < 2.0:
            raise ValueError(f"ADMMSettings.alpha must be in (0, 2); got {self.alpha!r}")
        if self.rho_tol <= 1.0:
            raise ValueError(f"ADMMSettings.rho_tol must be > 1; got {self.rho_tol!r}")

    def as_array(self) -> np.ndarray:
        """The ``opts`` vector the kernels read (positions ``O_*``)."""
        return np.array([self.eps_abs, self.eps_rel, self.eps_pinf, self.eps_dinf, self.max_iter,
                         self.check_every, self.alpha, self.sigma, float(self.adaptive_rho),
                         self.rho_tol, float(self.polish), self.polish_refine, self.delta])


@dataclass(frozen=True, eq=False)
class QPState:
    """ADMM state to warm-start the next solve: x (K, N), z and y (K, N + m), rho (K,).

    ``z`` and ``y`` follow the rows ``[w (N); budget (1, if any); G (m_g); F (m_f)]``; ``y``
    is in the caller's cost units. A state fits a later call with the same K, N and rows.
    """

    x: np.ndarray
    z: np.ndarray
    y: np.ndarray
    rho: np.ndarray

    def subset(self, rows) -> QPState:
        """The state of the problems ``rows`` (an index or mask over K)."""
        return QPState(self.x[rows], self.z[rows], self.y[rows], self.rho[rows])


@dataclass(frozen=True, eq=False)
class QPResult:
    """Outcome of :func:`solve_qp` for K problems.

    Attributes
    ----------
    w : (K, N) weights; never NaN (the hold point ``w0`` where status >= 2).
    status : (K,) int64 codes, names in ``STATUS_NAMES`` (0 solved, 1 max_iter,
        2 primal infeasible, 3 dual infeasible, 4 non-finite input, 5 non-convex).
    iterations, factorizations : (K,) int64 ADMM iterations and KKT factorizations.
    objective : (K,) ``0.5 w'Pw + q'w + kappa'|w - w0|`` (+inf infeasible, -inf unbounded).
    primal_residual : (K,) ``||Aw - z||_inf`` in the units of the constraints.
    dual_residual : (K,) ``||cPw + cq + A'y||_inf`` on the cost-normalized problem.
    polished : (K,) bool, the polish step was accepted.
    cost_scale : (K,) the ``c`` of the cost normalization.
    state : QPState to pass as ``state=`` to the next call.
    backend : the backend that ran; ``note`` says why when it is not the one asked for.
    """

    w: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    objective: np.ndarray
    primal_residual: np.ndarray
    dual_residual: np.ndarray
    polished: np.ndarray
    factorizations: np.ndarray
    cost_scale: np.ndarray
    state: QPState
    backend: str = "numba"
    note: str = ""

    @property
    def solved(self) -> np.ndarray:
        """(K,) bool, status == 0."""
        return self.status == SOLVED


def solve_qp(P, q=None, *, lo=-np.inf, hi=np.inf, budget=1.0, G=None, g=None, F=None, a=None, b=None,
             w0=None, kappa=0.0, state: QPState | None = None, settings: ADMMSettings | None = None,
             backend: str = "numba", threads: int = 1) -> QPResult:
    """Solve K portfolio QPs ``min 0.5 w'Pw + q'w + kappa |w - w0|_1`` in one call.

    Subject to ``sum(w) = budget`` (no budget row when ``budget`` is None), ``lo <= w <=
    hi``, ``G w <= g`` and ``a <= F w <= b``. See the module docstring for the algorithm.

    Parameters
    ----------
    P : (K, N, N) or (N, N) covariance-type matrices, symmetric PSD (symmetrized here).
    q : (K, N) or (N,) linear term, e.g. ``-lambda * mu``; None for zeros.
    lo, hi : scalar, (N,) or (K, N) bounds; +-inf for none.
    budget : scalar or (K,), or None.
    G, g : (m_g, N) or (K, m_g, N) group rows and their caps, scalar, (m_g,) or (K, m_g).
    F, a, b : (m_f, N) or (K, m_f, N) linear rows and lower/upper bounds (default -+inf).
    w0 : (K, N) or (N,) anchor of the L1 term (the current weights); None for zeros.
    kappa : scalar or (K,) per problem, or (K, N)/(1, N) per asset; >= 0.
    state : QPState from a previous call (warm start) or None (cold start from ``w0``
        projected onto the box and budget).
    settings : ADMMSettings or None for the defaults.
    backend : "numba", "numpy" or "cupy" (the xp twin), or "auto".
    threads : split the K problems over this many threads (numba backend; the kernel
        releases the GIL). Results do not depend on it.

    Returns
    -------
    QPResult. Infeasible, unbounded and invalid problems are reported by ``status``, not
    raised; a ValueError is raised only for inconsistent shapes or arguments.
    """
    settings = ADMMSettings() if settings is None else settings
    P = _as_matrices(P)
    K, N = P.shape[0], P.shape[1]
    q = _per_asset("q", 0.0 if q is None else q, K, N)
    lo, hi = _per_asset("lo", lo, K, N), _per_asset("hi", hi, K, N)
    w0 = _per_asset("w0", 0.0 if w0 is None else w0, K, N)
    kappa = _kappa(kappa, K, N)
    U, l, u, bud = _dense_rows(K, N, budget, G, g, F, a, b)
    x, z, y, rho = _initial_state(state, settings, P, q, lo, hi, w0, bud, U)
    opts = settings.as_array()
    support = resolve_backend(backend)
    if support.backend == "numba":
        out = _run_numba(threads, P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho)
    else:
        from simlab.kernels.qp_xp import admm_solve_xp

        xp = cupy_module() if support.backend == "cupy" else np
        with _single_threaded_blas():
            res = admm_solve_xp(*(xp.asarray(v) for v in (P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho)),
                                xp=xp)
        out = tuple(to_numpy(v) for v in res)
    w, status, iters, obj, rp, rd, pol, nf, cs, x, z, y, rho = out
    return QPResult(w, status, iters, obj, rp, rd, pol, nf, cs, QPState(x, z, y, rho),
                    backend=support.backend, note=support.reason)


def _run_numba(threads, P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho):
    """Call :func:`admm_solve_nb`, on ``threads`` contiguous slices of K at once."""
    K, N = q.shape
    w = np.empty((K, N))
    status, iters, nf = (np.zeros(K, np.int64) for _ in range(3))
    obj, rp, rd, cs = (np.zeros(K) for _ in range(4))
    pol = np.zeros(K, np.bool_)
    arrays = (P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho, w, status, iters, obj, rp, rd, pol, nf, cs)

    def run(sl):
        admm_solve_nb(*(a if (a is opts or (a is U and U.shape[0] == 1)) else a[sl] for a in arrays))

    bounds = np.linspace(0, K, min(max(int(threads), 1), K) + 1).astype(int)
    slices = [slice(a, b) for a, b in pairwise(bounds)]
    with _single_threaded_blas():
        if len(slices) <= 1:
            for sl in slices:
                run(sl)
        else:
            with ThreadPoolExecutor(len(slices)) as pool:
                list(pool.map(run, slices))
    return w, status, iters, obj, rp, rd, pol, nf, cs, x, z, y, rho


_BLAS_CONTROLLER: list = []


def _single_threaded_blas():
    """A context holding BLAS/LAPACK to one thread while the kernel factors many small
    matrices (a threaded factorization of a 100-500 matrix only adds synchronization,
    and on a busy machine its spinning threads slow it down many times); a no-op
    without threadpoolctl."""
    if not _BLAS_CONTROLLER:
        try:
            import scipy.linalg.cython_lapack  # noqa: F401 - load the LAPACK numba calls
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS_CONTROLLER.append(None)
        else:
            _BLAS_CONTROLLER.append(ThreadpoolController())
    controller = _BLAS_CONTROLLER[0]
    return nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def _as_matrices(P) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim == 2:
        P = P[None]
    if P.ndim != 3 or P.shape[1] != P.shape[2] or P.shape[1] == 0:
        raise ValueError(f"P must be (K, N, N) or (N, N) with N >= 1; got shape {P.shape}")
    return np.require(P, np.float64, ["C", "W"])  # symmetrized in the kernel


def _broadcast(name, value, shape, accepted) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    try:
        return np.array(np.broadcast_to(arr, shape), dtype=np.float64, order="C")
    except ValueError:
        raise ValueError(f"{name} must be {accepted}; got shape {arr.shape} for K={shape[0]}") from None


def _per_asset(name, value, K, N) -> np.ndarray:
    return _broadcast(name, value, (K, N), f"a scalar, (N,) or (K, N) with N={N}")


def _kappa(kappa, K, N) -> np.ndarray:
    arr = np.asarray(kappa, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    out = _broadcast("kappa", arr, (K, N), "a scalar, (K,), (1, N) or (K, N)")
    if np.any(out < 0):
        raise ValueError("kappa must be >= 0 (a turnover penalty); got a negative value")
    return out


def _rows(name, rows, K, N) -> np.ndarray:
    arr = np.asarray(rows, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] != N or arr.shape[0] not in (1, K):
        raise ValueError(f"{name} must be (m, N) or (K, m, N) with N={N}, K={K}; got shape {np.shape(rows)}")
    return arr


def _dense_rows(K, N, budget, G, g, F, a, b):
    """Stack ``[1'; G; F]`` into U (Ku, m, N) and their bounds l, u (K, m); budget (K,) or NaN."""
    blocks, lows, ups = [], [], []
    bud = np.full(K, np.nan)
    if budget is not None:
        bud = _broadcast("budget", budget, (K,), "a scalar or (K,)")
        blocks.append(np.ones((1, 1, N)))
        lows.append(bud[:, None])
        ups.append(bud[:, None])
    if G is not None:
        G = _rows("G", G, K, N)
        if g is None:
            raise ValueError("G was given without its caps g")
        blocks.append(G)
        ups.append(_broadcast("g", g, (K, G.shape[1]), "a scalar, (m_g,) or (K, m_g)"))
        lows.append(np.full((K, G.shape[1]), -np.inf))
    if F is not None:
        F = _rows("F", F, K, N)
        mf = F.shape[1]
        blocks.append(F)
        lows.append(_broadcast("a", -np.inf if a is None else a, (K, mf), "a scalar, (m_f,) or (K, m_f)"))
        ups.append(_broadcast("b", np.inf if b is None else b, (K, mf), "a scalar, (m_f,) or (K, m_f)"))
    if not blocks:
        return np.zeros((1, 0, N)), np.zeros((K, 0)), np.zeros((K, 0)), bud
    ku = max(blk.shape[0] for blk in blocks)
    U = np.concatenate([np.broadcast_to(blk, (ku, blk.shape[1], N)) for blk in blocks], axis=1)
    return np.ascontiguousarray(U), np.concatenate(lows, axis=1), np.concatenate(ups, axis=1), bud


def _initial_state(state, settings, P, q, lo, hi, w0, bud, U):
    K, N = lo.shape
    M = N + U.shape[1]
    if state is None:
        x, z, y = np.empty((K, N)), np.empty((K, M)), np.empty((K, M))
        cold_start_nb(lo, hi, w0, bud, U, x, z, y)
        curvature = np.abs(np.diagonal(P, axis1=1, axis2=2)).mean(axis=1)
        pull = np.divide(np.abs(q).max(axis=1), curvature, out=np.zeros(K), where=curvature > 0)
        return x, z, y, settings.rho * np.maximum(1.0, np.nan_to_num(pull, posinf=1.0))
    expect = {"x": (K, N), "z": (K, M), "y": (K, M), "rho": (K,)}
    got = {name: np.shape(getattr(state, name)) for name in expect}
    if got != expect:
        raise ValueError(f"state does not fit these problems: expected shapes {expect}, got {got}")
    x, z, y, rho = (np.array(getattr(state, name), dtype=np.float64) for name in expect)
    fresh = ~(rho > 0.0)  # a problem the state holds no solve for (rho 0) starts cold
    if fresh.any():
        cold = _initial_state(None, settings, P[fresh], q[fresh], lo[fresh], hi[fresh], w0[fresh],
                              bud[fresh], U if len(U) == 1 else U[fresh])
        for arr, start in zip((x, z, y, rho), cold):
            arr[fresh] = start
    return x, z, y, rho
