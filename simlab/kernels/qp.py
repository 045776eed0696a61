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
- **Polish** (:mod:`simlab.kernels.qp_polish`): the equality QP of the active set read
  from ``z + y / rho``, scored with the same residuals. Inside the loop it is kept only if
  it meets the stopping test, so a warm start whose active set still holds ends after 0
  iterations; after the loop it is kept if it lowers the residuals (OSQP's rule). A right
  guess gives ~1e-15.

Status codes (``STATUS_NAMES`` in :mod:`simlab.kernels.qp_codes`): 0 solved, 1 max_iter
(the ADMM point, not certified), 2 primal infeasible, 3 dual infeasible (unbounded),
4 non-finite input, 5 non-convex (``P`` not positive semidefinite: the KKT factorization
failed, or the polish met negative curvature on the free weights; P is otherwise assumed
PSD). For codes 2-5 the
weights are the hold point ``w0`` (NaN read as 0), never NaN, the objective is ``+inf``
(2), ``-inf`` (3) or NaN (4, 5), and the returned state is a cold one.

The warm-start state is ``(x, z, y, rho)``: x (K, N), z and y (K, N + m), rho (K,), with
``y`` in the caller's cost units (the next problem rescales it). :func:`admm_solve_nb`
releases the GIL, so disjoint slices of K may run on several threads. The public entry,
which validates and broadcasts the inputs and chooses between these kernels and their
array-namespace twin (:mod:`simlab.kernels.qp_xp`), is :func:`simlab.kernels.qp_solve.solve_qp`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.projections import clip_nb, project_box_budget_nb, prox_box_l1_nb
from simlab.kernels.qp_codes import (
    DIV_TOL,
    DUAL_INFEASIBLE,
    EQ_SCALE,
    MAX_ITER,
    NON_CONVEX,
    NON_FINITE,
    O_ADAPTIVE,
    O_ALPHA,
    O_CHECK,
    O_DELTA,
    O_EPS_ABS,
    O_EPS_DINF,
    O_EPS_PINF,
    O_EPS_REL,
    O_MAX_ITER,
    O_POLISH,
    O_REFINE,
    O_RHO_TOL,
    O_SIGMA,
    PRIMAL_INFEASIBLE,
    RHO_MAX,
    RHO_MIN,
    SOLVED,
)
from simlab.kernels.qp_linalg import (
    chol_inplace_nb,
    chol_solve_nb,
    converged_nb,
    copy_nb,
    diff_nb,
    dot_nb,
    norm_inf_nb,
    residuals_nb,
    same_nb,
    symv_nb,
)
from simlab.kernels.qp_polish import active_set_nb, improves_nb, polish_nb

# --------------------------------------------------------------------------- iteration


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _factor_nb(cP, U, rho_vec, sigma):
    """Cholesky ``L`` of ``cP + diag(sigma + R_I) + U' R_U U``; returns (L, ok).

    ``L`` is in the lower triangle only (the upper one holds the matrix), which is all
    :func:`~simlab.kernels.qp_linalg.chol_solve_nb` reads.
    """
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
    return M, chol_inplace_nb(M)  # L in the lower triangle (the upper one is left as it was)


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
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


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _admm_step_nb(L, cq, ckap, U, rho_vec, sigma, alpha, lo, hi, w0, l, u, x, z, y, rhs, xt, Uxt):
    """One OSQP iteration: x-update by the factor, relaxed z-update by prox/clip, y-update."""
    n, m = x.shape[0], U.shape[0]
    for i in range(n):
        rhs[i] = sigma * x[i] - cq[i] + rho_vec[i] * z[i] - y[i]
    for j in range(m):
        s = rho_vec[n + j] * z[n + j] - y[n + j]
        for i in range(n):
            rhs[i] += s * U[j, i]
    chol_solve_nb(L, rhs, xt)
    for j in range(m):
        Uxt[j] = dot_nb(U[j], xt)
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


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _rho_estimate_nb(rho, res):
    """OSQP's rho update from row-scaled residuals, clipped to [RHO_MIN, RHO_MAX]."""
    rd, npx, naty, nq, rps, naxs, nzs = res[1], res[4], res[5], res[6], res[7], res[8], res[9]
    prim = rps / max(naxs, nzs, DIV_TOL)
    dual = rd / max(npx, naty, nq, DIV_TOL)
    new = rho * np.sqrt(prim / max(dual, DIV_TOL))
    return min(max(new, RHO_MIN), RHO_MAX)


# --------------------------------------------------------------------------- certificates


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
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


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _primal_infeasible_nb(U, lo, hi, l, u, dy, eps):
    """OSQP's primal infeasibility certificate on ``dy = y_k - y_{k-1}``."""
    n, m = lo.shape[0], l.shape[0]
    norm = norm_inf_nb(dy)
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
    return norm_inf_nb(aty) <= tol


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _in_recession_nb(d, lo, hi, tol):
    return not ((lo > -np.inf and d < -tol) or (hi < np.inf and d > tol))


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _dual_infeasible_nb(cP, cq, ckap, U, lo, hi, l, u, dx, eps, work):
    """OSQP's dual infeasibility (unboundedness) certificate on ``dx = x_k - x_{k-1}``."""
    n, m = lo.shape[0], l.shape[0]
    norm = norm_inf_nb(dx)
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
        if not _in_recession_nb(dot_nb(U[j], dx), l[j], u[j], tol):
            return False
    symv_nb(cP, dx, work)
    return norm_inf_nb(work) <= tol


# --------------------------------------------------------------------------- one problem


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
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


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _hold_nb(status, U, w0, x, z, y, w):
    """Failure exit: weights and state at the hold point ``w0`` (NaN read as 0), zero duals."""
    n = w.shape[0]
    for i in range(n):
        v = w0[i]
        w[i] = v if np.isfinite(v) else 0.0
        x[i] = w[i]
        z[i] = w[i]
    for j in range(U.shape[0]):
        z[n + j] = dot_nb(U[j], w)
        if not np.isfinite(z[n + j]):
            z[n + j] = 0.0
    y[:] = 0.0
    return np.inf if status == PRIMAL_INFEASIBLE else (-np.inf if status == DUAL_INFEASIBLE else np.nan)


@njit(cache=True, inline="always")
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
    cq, ckap = np.empty(n), np.empty(n)
    for i in range(n):
        cq[i] = c * q[i]
        ckap[i] = c * kap[i]
    e = np.ones(m)
    for j in range(m):
        nrm = np.sqrt(dot_nb(U[j], U[j]))
        e[j] = 1.0 / nrm if nrm > 0.0 else 1.0
    for r in range(n + m):
        y[r] *= c
    for i in range(n):  # the starting z inside its set, so that a check at once is honest
        z[i] = clip_nb(z[i], lo[i], hi[i])
    for j in range(m):
        z[n + j] = clip_nb(z[n + j], l[j], u[j])
    rho_vec = np.empty(n + m)
    _rho_vector_nb(rho, lo, hi, ckap, l, u, e, rho_vec)
    L, ok = _factor_nb(cP, U, rho_vec, sigma)
    if not ok:
        return NON_CONVEX, 0, _hold_nb(np.int64(NON_CONVEX), U, w0, x, z, y, w), nan, nan, False, rho, 1, c
    rhs, xt, Uxt, g, aty = np.empty(n), np.empty(n), np.empty(m), np.empty(n), np.empty(n)
    x_prev, y_prev = np.empty(n), np.empty(n + m)
    wp, zp, yp = np.empty(n), np.empty(n + m), np.empty(n + m)
    code, tried = np.zeros(n + m, np.int64), np.full(n + m, -1)
    status, it, n_fact, polished = MAX_ITER, 0, 1, False
    inf = np.inf
    res = (inf, inf, inf, inf, inf, inf, inf, inf, inf, inf)
    while True:
        if it == 0 or it % check == 0 or it == max_iter:  # a check after `it` iterations
            res = residuals_nb(cP, cq, U, e, x, z, y, g, aty)
            if converged_nb(res, opts[O_EPS_ABS], opts[O_EPS_REL]):
                status = SOLVED
                break
            if it > 0 and _primal_infeasible_nb(U, lo, hi, l, u, diff_nb(y, y_prev), opts[O_EPS_PINF]):
                status = PRIMAL_INFEASIBLE
                break
            if it > 0 and _dual_infeasible_nb(cP, cq, ckap, U, lo, hi, l, u, diff_nb(x, x_prev), opts[O_EPS_DINF], g):
                status = DUAL_INFEASIBLE
                break
            if polish:  # early polish, each time the active-set guess changes (at once on a warm start)
                active_set_nb(z, y, rho_vec, lo, hi, w0, ckap, l, u, code)
                if not same_nb(code, tried):
                    for r in range(n + m):
                        tried[r] = code[r]
                    failed, pres = polish_nb(cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, refine, y,
                                              wp, zp, yp, g, aty)
                    if failed == 1:
                        status = NON_CONVEX
                        break
                    if not failed and converged_nb(pres, opts[O_EPS_ABS], opts[O_EPS_REL]) and improves_nb(pres, res):
                        copy_nb(x, wp)
                        copy_nb(z, zp)
                        copy_nb(y, yp)
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
                        return NON_CONVEX, it, _hold_nb(np.int64(NON_CONVEX), U, w0, x, z, y, w), nan, nan, False, rho, n_fact, c
        if (it + 1) % check == 0 or it + 1 == max_iter:
            copy_nb(x_prev, x)
            copy_nb(y_prev, y)
        _admm_step_nb(L, cq, ckap, U, rho_vec, sigma, alpha, lo, hi, w0, l, u, x, z, y, rhs, xt, Uxt)
        it += 1
    if polish and not polished and (status == SOLVED or status == MAX_ITER):
        active_set_nb(z, y, rho_vec, lo, hi, w0, ckap, l, u, code)
        failed, pres = polish_nb(cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, refine, y, wp, zp, yp, g, aty)
        if failed == 1:
            status = NON_CONVEX
        elif not failed and improves_nb(pres, res):
            copy_nb(x, wp)
            copy_nb(z, zp)
            copy_nb(y, yp)
            polished, res = True, pres
            if converged_nb(res, opts[O_EPS_ABS], opts[O_EPS_REL]):
                status = SOLVED
    if status >= PRIMAL_INFEASIBLE:
        rp, rd = (nan, nan) if status == NON_CONVEX else (res[0], res[1])
        return status, it, _hold_nb(status, U, w0, x, z, y, w), rp, rd, False, rho, n_fact, c
    copy_nb(w, x)
    for r in range(n + m):
        y[r] /= c
    symv_nb(cP, w, g)
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
    :meth:`simlab.kernels.qp_solve.ADMMSettings.as_array`. State, read and written in
    place: x (K, N), z, y (K, N + m), rho (K,). Outputs, written: w (K, N); status,
    iterations, n_factor (K,) int64; objective, r_prim, r_dual, cost_scale (K,) float64;
    polished (K,) bool.
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
            v = dot_nb(U[ku, j], x[k])
            z[k, n + j] = v if np.isfinite(v) else 0.0
        y[k] = 0.0
