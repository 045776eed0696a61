r"""Batched ADMM for portfolio QPs whose covariance is a factor model: low rank plus diagonal.

Each of K problems is the one :mod:`simlab.kernels.qp` solves,

.. math::

    \min_w \; \tfrac12 w' P w + q' w + \sum_i \kappa_i |w_i - w^0_i|
    \quad\text{s.t.}\quad lo \le w \le hi,\;\; l \le U w \le u,

with ``P = X X' + diag(d)`` given by its factors: ``X`` (N, k) the exposures scaled by a
square root of the factor covariance (``X = B F^{1/2}`` for ``Sigma = B F B' + D``) and
``d`` (N,) the specific variances. No N x N matrix is formed.

Algorithm: the OSQP iteration of :mod:`simlab.kernels.qp` (same splitting ``A = [I; U]``,
same L1 prox on the identity rows, per-row rho, over-relaxation, stopping test and adaptive
rho; the cost normalization ``c = 1 / mean diag P`` takes the mean over the assets that are
not fixed, ``lo < hi``, so that padding a problem with fixed assets leaves its solve
bit-identical), with the x-update solved by the Woodbury identity:
``cP + diag(sigma + R_I) + U' R_U U = D_m + V V'`` with ``D_m`` diagonal and
``V = [sqrt(c) X, U' R_U^{1/2}]`` (N, k + m), so

.. math::

    (D_m + V V')^{-1} r = D_m^{-1} r - D_m^{-1} V (I + V' D_m^{-1} V)^{-1} V' D_m^{-1} r .

A factorization is the Cholesky factor of the (k + m) capacitance matrix, O(N (k + m)^2);
an iteration is O(N (k + m)).

Polish (:mod:`simlab.kernels.qp_factor_polish`): at each check where the active set read
from ``z + y / rho`` changed, the equality QP of that active set is solved exactly
(Woodbury on the free block, then the Schur complement of the active rows) and accepted only if it satisfies the KKT conditions:
within the bounds and rows, multipliers of the right sign, reduced gradients pointing out
of the active bounds. An accepted polish ends the solve with the exact optimum (~1e-12);
otherwise ADMM continues to its stopping test. The polish needs ``d > 0`` on the free
assets (a factor model's specific variances are), else only the ADMM point is returned.

Status codes, settings and the warm-start state are those of the dense kernel
(:mod:`simlab.kernels.qp_codes`, :class:`simlab.kernels.qp_solve.ADMMSettings`,
:class:`simlab.kernels.qp_solve.QPState`); ``d < 0`` is ``NON_CONVEX``. Dual
infeasibility cannot occur (``P`` is positive definite where ``d > 0``; with ``d = 0``
and an unbounded direction the solve ends at ``max_iter``). The public entry is
:func:`solve_factor_qp`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.projections import clip_nb, prox_box_l1_nb
from simlab.kernels.qp_codes import (
    DIV_TOL,
    EQ_SCALE,
    MAX_ITER,
    NON_CONVEX,
    NON_FINITE,
    O_ADAPTIVE,
    O_ALPHA,
    O_CHECK,
    O_EPS_ABS,
    O_EPS_PINF,
    O_EPS_REL,
    O_MAX_ITER,
    O_POLISH,
    O_RHO_TOL,
    O_SIGMA,
    PRIMAL_INFEASIBLE,
    RHO_MAX,
    RHO_MIN,
    SOLVED,
)
from simlab.kernels.qp_factor_polish import active_set_nb, p_times_nb, polish_nb
from simlab.kernels.qp_linalg import chol_solve_nb
from simlab.kernels.qp_solve import (
    ADMMSettings,
    QPResult,
    QPState,
    _dense_rows,
    _kappa,
    _per_asset,
    checked_state,
    cold_state,
    run_in_slices,
)

# --------------------------------------------------------------------------- factorization


@njit(cache=True, nogil=True)
def _rho_rows_nb(rho, lo, hi, ckap, l, u, e, out):
    """Per-row rho (N + m,) by the dense kernel's rule: ``EQ_SCALE`` on equality rows,
    ``RHO_MIN`` on free unpenalized rows, dense rows times ``e_j^2``."""
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


@njit(cache=True, nogil=True)
def _woodbury_nb(cX, cd, U, rho_vec, sigma, dinv, V, L):
    """Fill ``dinv`` (N,), ``V`` (N, k + m) and the Cholesky ``L`` of ``I + V' D^-1 V``; ok flag."""
    n, k = cX.shape
    m = U.shape[0]
    for i in range(n):
        dinv[i] = 1.0 / (cd[i] + sigma + rho_vec[i])
        for j in range(k):
            V[i, j] = cX[i, j]
        for j in range(m):
            V[i, k + j] = U[j, i] * np.sqrt(rho_vec[n + j])
    r = k + m
    C = np.eye(r)
    for i in range(n):
        di = dinv[i]
        for a in range(r):
            va = V[i, a] * di
            if va != 0.0:
                for b in range(a + 1):
                    C[a, b] += va * V[i, b]
    for a in range(r):
        for b in range(a):
            C[b, a] = C[a, b]
    try:
        L[:, :] = np.linalg.cholesky(C)
        return True
    except Exception:  # noqa: BLE001 - numba raises LinAlgError
        return False


@njit(cache=True, nogil=True)
def _apply_inverse_nb(dinv, V, L, rhs, out, t, s):
    """``out = (D + V V')^{-1} rhs`` by Woodbury; ``t``, ``s`` (k + m,) are scratch."""
    n, r = V.shape
    for a in range(r):
        t[a] = 0.0
    for i in range(n):
        v = dinv[i] * rhs[i]
        out[i] = v
        if v != 0.0:
            for a in range(r):
                t[a] += V[i, a] * v
    chol_solve_nb(L, t, s)
    for i in range(n):
        acc = 0.0
        for a in range(r):
            acc += V[i, a] * s[a]
        out[i] -= dinv[i] * acc


# --------------------------------------------------------------------------- iteration


@njit(cache=True, nogil=True)
def _support_sum_nb(dy, lo, hi, tol):
    """``sum hi * dy+ + lo * dy-``; NaN where ``dy`` points (beyond ``tol``) to an infinite side."""
    total = 0.0
    for i in range(dy.shape[0]):
        v = dy[i]
        if v > 0.0:
            if hi[i] == np.inf:
                if v > tol:
                    return np.nan
            else:
                total += hi[i] * v
        elif v < 0.0:
            if lo[i] == -np.inf:
                if -v > tol:
                    return np.nan
            else:
                total += lo[i] * v
    return total


@njit(cache=True, nogil=True)
def _objective_nb(X, d, q, kap, w0, w):
    """``0.5 w'(XX' + diag d)w + q'w + kappa'|w - w0|`` in the caller's units."""
    n, k = X.shape
    f = np.zeros(k)
    out = 0.0
    for i in range(n):
        for j in range(k):
            f[j] += X[i, j] * w[i]
        out += 0.5 * d[i] * w[i] * w[i] + q[i] * w[i] + kap[i] * abs(w[i] - w0[i])
    for j in range(k):
        out += 0.5 * f[j] * f[j]
    return out


@njit(cache=True, nogil=True)
def _valid_nb(X, d, q, lo, hi, w0, kap, l, u):
    """0 if the inputs are usable, else ``NON_FINITE`` or ``NON_CONVEX`` (a negative ``d``)."""
    for i in range(lo.shape[0]):
        if not (np.isfinite(d[i]) and np.isfinite(q[i]) and np.isfinite(w0[i]) and np.isfinite(kap[i])):
            return NON_FINITE
        if lo[i] != lo[i] or hi[i] != hi[i] or lo[i] > hi[i]:
            return NON_FINITE
        for j in range(X.shape[1]):
            if not np.isfinite(X[i, j]):
                return NON_FINITE
    for j in range(l.shape[0]):
        if l[j] != l[j] or u[j] != u[j] or l[j] > u[j]:
            return NON_FINITE
    for i in range(lo.shape[0]):
        if d[i] < 0.0:
            return NON_CONVEX
    return 0


@njit(cache=True, nogil=True)
def _curvature_nb(X, d, lo, hi):
    """Mean diagonal of P over the assets not fixed (``lo < hi``; all if none is free), so
    that fixed padding assets leave the cost normalization, and the solve, unchanged."""
    n, k = X.shape
    total, count, total_all = 0.0, 0, 0.0
    for i in range(n):
        acc = d[i]
        for j in range(k):
            acc += X[i, j] * X[i, j]
        total_all += acc
        if lo[i] < hi[i]:
            total += acc
            count += 1
    return total / count if count else total_all / n


@njit(cache=True, nogil=True)
def _hold_nb(U, w0, x, z, y, w):
    """The hold point ``w0`` (NaN read as 0) and a cold state around it."""
    n = w0.shape[0]
    for i in range(n):
        w[i] = w0[i] if np.isfinite(w0[i]) else 0.0
        x[i] = w[i]
        z[i] = w[i]
    for j in range(U.shape[0]):
        acc = 0.0
        for i in range(n):
            acc += U[j, i] * w[i]
        z[n + j] = acc
    y[:] = 0.0


@njit(cache=True, nogil=True)
def solve_one_nb(X, d, q, lo, hi, w0, kap, U, l, u, opts, x, z, y, rho, w):
    """Solve one factor-model QP in place (``x``, ``z``, ``y``, ``w``); returns
    ``(status, iterations, objective, primal_res, dual_res, polished, factorizations,
    cost_scale, rho)``."""
    n, k = X.shape
    m = U.shape[0]
    bad = _valid_nb(X, d, q, lo, hi, w0, kap, l, u)
    if bad:
        _hold_nb(U, w0, x, z, y, w)
        return bad, 0, np.nan, np.nan, np.nan, False, 0, 1.0, 0.0
    eps_abs, eps_rel, eps_pinf = opts[O_EPS_ABS], opts[O_EPS_REL], opts[O_EPS_PINF]
    max_iter, check, alpha, sigma = int(opts[O_MAX_ITER]), max(int(opts[O_CHECK]), 1), opts[O_ALPHA], opts[O_SIGMA]
    adaptive, rho_tol, polish = opts[O_ADAPTIVE] > 0.0, opts[O_RHO_TOL], opts[O_POLISH] > 0.0
    # cost normalization c = 1 / mean diag P over the free assets (1 / max(|q|, kappa) when P = 0)
    diag_mean = _curvature_nb(X, d, lo, hi)
    scale = 0.0
    for i in range(n):
        scale = max(scale, abs(q[i]), kap[i])
    c = 1.0 / diag_mean if diag_mean > DIV_TOL else (1.0 / scale if scale > DIV_TOL else 1.0)
    sc = np.sqrt(c)
    cX = X * sc
    cd, cq, ckap = d * c, q * c, kap * c
    for r in range(n + m):
        y[r] *= c
    e = np.ones(m)
    for j in range(m):
        nrm = 0.0
        for i in range(n):
            nrm += U[j, i] * U[j, i]
        e[j] = 1.0 / np.sqrt(nrm) if nrm > 0.0 else 1.0
    rho_vec = np.empty(n + m)
    dinv, V, L = np.empty(n), np.empty((n, k + m)), np.empty((k + m, k + m))
    _rho_rows_nb(rho, lo, hi, ckap, l, u, e, rho_vec)
    nfact = 1
    if not _woodbury_nb(cX, cd, U, rho_vec, sigma, dinv, V, L):
        _hold_nb(U, w0, x, z, y, w)
        return NON_CONVEX, 0, np.nan, np.nan, np.nan, False, nfact, c, 0.0
    # z within its sets, so that the iteration-0 test cannot pass on a point outside them
    # (a start without a budget row holds ``U x`` as it is)
    for i in range(n):
        z[i] = clip_nb(z[i], lo[i], hi[i])
    for j in range(m):
        z[n + j] = clip_nb(z[n + j], l[j], u[j])
    rhs, xt, Uxt = np.empty(n), np.empty(n), np.empty(m)
    t1, t2, fk = np.empty(k + m), np.empty(k + m), np.empty(k)
    Px, Aty, y_prev = np.empty(n), np.empty(n), y.copy()
    code, rows = np.full(n, -1, np.int64), np.full(m, -1, np.int64)
    code_new, rows_new = np.empty(n, np.int64), np.empty(m, np.int64)
    wp, lam, grad = np.empty(n), np.empty(m), np.empty(n)
    status, it, polished = MAX_ITER, 0, False
    prim = dual = np.inf
    for it in range(max_iter + 1):
        if it % check == 0:
            # residuals of the current iterate
            prim, nax, nz = 0.0, 0.0, 0.0
            for i in range(n):
                prim = max(prim, abs(x[i] - z[i]))
                nax, nz = max(nax, abs(x[i])), max(nz, abs(z[i]))
                Aty[i] = y[i]
            for j in range(m):
                acc = 0.0
                for i in range(n):
                    acc += U[j, i] * x[i]
                    Aty[i] += U[j, i] * y[n + j]
                prim = max(prim, abs(acc - z[n + j]))
                nax, nz = max(nax, abs(acc)), max(nz, abs(z[n + j]))
            p_times_nb(cX, cd, x, Px, fk)
            dual, npx, naty, ncq = 0.0, 0.0, 0.0, 0.0
            for i in range(n):
                dual = max(dual, abs(Px[i] + cq[i] + Aty[i]))
                npx, naty, ncq = max(npx, abs(Px[i])), max(naty, abs(Aty[i])), max(ncq, abs(cq[i]))
            done = (prim <= eps_abs + eps_rel * max(nax, nz)
                    and dual <= eps_abs + eps_rel * max(npx, naty, ncq))
            if polish:
                active_set_nb(lo, hi, w0, ckap, l, u, z, y, rho_vec, code_new, rows_new)
                changed = False
                for i in range(n):
                    changed |= code_new[i] != code[i]
                for j in range(m):
                    changed |= rows_new[j] != rows[j]
                if changed:
                    code[:] = code_new
                    rows[:] = rows_new
                    if polish_nb(cX, cd, cq, ckap, lo, hi, w0, U, l, u, code, rows, eps_abs, wp, lam, grad):
                        polished = True
                        status = SOLVED
                        break
            if done:
                status = SOLVED
                break
            if it > 0:
                # OSQP's primal infeasibility certificate on the change of y
                ndy, dmax = 0.0, 0.0
                for r in range(n + m):
                    y_prev[r] = y[r] - y_prev[r]
                    ndy = max(ndy, abs(y_prev[r]))
                if ndy > DIV_TOL:
                    for i in range(n):
                        acc = y_prev[i]
                        for j in range(m):
                            acc += U[j, i] * y_prev[n + j]
                        dmax = max(dmax, abs(acc))
                    tol = eps_pinf * ndy
                    sup = _support_sum_nb(y_prev[:n], lo, hi, tol) + _support_sum_nb(y_prev[n:], l, u, tol)
                    if dmax <= tol and sup < -tol:
                        status = PRIMAL_INFEASIBLE
                        break
            y_prev[:] = y
            if adaptive and it > 0:
                prim_rel = prim / max(nax, nz, DIV_TOL)
                dual_rel = dual / max(npx, naty, ncq, DIV_TOL)
                new = min(max(rho * np.sqrt(prim_rel / max(dual_rel, DIV_TOL)), RHO_MIN), RHO_MAX)
                if new > rho * rho_tol or new < rho / rho_tol:
                    rho = new
                    _rho_rows_nb(rho, lo, hi, ckap, l, u, e, rho_vec)
                    nfact += 1
                    if not _woodbury_nb(cX, cd, U, rho_vec, sigma, dinv, V, L):
                        status = NON_CONVEX
                        break
        if it == max_iter:
            break
        # x-update by Woodbury, then the relaxed z-update (prox / clip) and the y-update
        for i in range(n):
            rhs[i] = sigma * x[i] - cq[i] + rho_vec[i] * z[i] - y[i]
        for j in range(m):
            s = rho_vec[n + j] * z[n + j] - y[n + j]
            for i in range(n):
                rhs[i] += s * U[j, i]
        _apply_inverse_nb(dinv, V, L, rhs, xt, t1, t2)
        for j in range(m):
            acc = 0.0
            for i in range(n):
                acc += U[j, i] * xt[i]
            Uxt[j] = acc
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
    if status == PRIMAL_INFEASIBLE or status == NON_CONVEX:
        _hold_nb(U, w0, x, z, y, w)
        obj = np.inf if status == PRIMAL_INFEASIBLE else np.nan
        return status, it, obj, prim, dual, False, nfact, c, 0.0
    if polished:
        prim, dual = 0.0, 0.0
        for i in range(n):
            x[i] = wp[i]
            z[i] = clip_nb(wp[i], lo[i], hi[i])
            prim = max(prim, abs(wp[i] - z[i]))
            if code[i] == 0 or code[i] == 5 or code[i] == 6:
                sg = 1.0 if code[i] == 5 else (-1.0 if code[i] == 6 else 0.0)
                dual = max(dual, abs(grad[i] + ckap[i] * sg))
        for j in range(m):
            acc = 0.0
            for i in range(n):
                acc += U[j, i] * wp[i]
            z[n + j] = clip_nb(acc, l[j], u[j])
            prim = max(prim, abs(acc - z[n + j]))
    for i in range(n):
        w[i] = x[i]
    for r in range(n + m):
        y[r] /= c
    return status, it, _objective_nb(X, d, q, kap, w0, w), prim, dual, polished, nfact, c, rho


@njit(cache=True, nogil=True)
def factor_admm_solve_nb(X, d, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho, w, status,
                         iterations, objective, primal_res, dual_res, polished, factorizations, cost_scale):
    """Solve K factor-model QPs (the module docstring); the state arrays are updated in place."""
    for p in range(X.shape[0]):
        up = p if U.shape[0] > 1 else 0
        res = solve_one_nb(X[p], d[p], q[p], lo[p], hi[p], w0[p], kappa[p], U[up], l[p], u[p], opts,
                           x[p], z[p], y[p], rho[p], w[p])
        status[p], iterations[p], objective[p], primal_res[p], dual_res[p] = res[0], res[1], res[2], res[3], res[4]
        polished[p], factorizations[p], cost_scale[p], rho[p] = res[5], res[6], res[7], res[8]


# --------------------------------------------------------------------------- public entry


def factor_exposures(loadings, factor_cov) -> np.ndarray:
    """``X = B F^{1/2}`` (..., N, k) so that ``B F B' = X X'``; F symmetric PSD (..., k, k).

    The square root is from ``eigh`` (negative eigenvalues of rounding size clipped to 0).
    """
    B = np.asarray(loadings, dtype=np.float64)
    F = np.asarray(factor_cov, dtype=np.float64)
    vals, vecs = np.linalg.eigh(0.5 * (F + np.swapaxes(F, -1, -2)))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))[..., None, :]
    return np.matmul(B, root)


def dense_covariance(X, d) -> np.ndarray:
    """``X X' + diag(d)`` (..., N, N): the dense matrix of a factor model (for checks, small N)."""
    X = np.asarray(X, dtype=np.float64)
    out = np.matmul(X, np.swapaxes(X, -1, -2))
    idx = np.arange(X.shape[-2])
    out[..., idx, idx] += np.asarray(d, dtype=np.float64)
    return out


def solve_factor_qp(X, d, q=None, *, lo=-np.inf, hi=np.inf, budget=1.0, G=None, g=None, F=None, a=None,
                    b=None, w0=None, kappa=0.0, state: QPState | None = None,
                    settings: ADMMSettings | None = None, threads: int = 1) -> QPResult:
    """Solve K QPs ``min 0.5 w'(XX' + diag d)w + q'w + kappa |w - w0|_1`` in one call.

    The arguments and the result are those of :func:`simlab.kernels.qp_solve.solve_qp`
    with ``P`` replaced by its factors.

    Parameters
    ----------
    X : (K, N, k) or (N, k) exposures times a square root of the factor covariance
        (:func:`factor_exposures`); k may be 0.
    d : (K, N) or (N,) specific variances, >= 0 (> 0 for the exact polish).
    q, lo, hi, budget, G, g, F, a, b, w0, kappa, state, settings, threads
        As in :func:`~simlab.kernels.qp_solve.solve_qp` (numba only).

    Returns
    -------
    QPResult; ``backend`` is ``"numba"``.
    """
    settings = ADMMSettings() if settings is None else settings
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] == 0:
        raise ValueError(f"X must be (K, N, k) or (N, k) with N >= 1; got shape {X.shape}")
    K, N = X.shape[0], X.shape[1]
    X = np.ascontiguousarray(X)
    d = _per_asset("d", d, K, N)
    q = _per_asset("q", 0.0 if q is None else q, K, N)
    lo, hi = _per_asset("lo", lo, K, N), _per_asset("hi", hi, K, N)
    w0 = _per_asset("w0", 0.0 if w0 is None else w0, K, N)
    kappa = _kappa(kappa, K, N)
    U, l, u, bud = _dense_rows(K, N, budget, G, g, F, a, b)
    x, z, y, rho = _factor_state(state, settings, X, d, q, lo, hi, w0, bud, U)
    out_w = np.empty((K, N))
    status, iters, nf = (np.zeros(K, np.int64) for _ in range(3))
    obj, rp, rd, cs = (np.zeros(K) for _ in range(4))
    pol = np.zeros(K, np.bool_)
    opts = settings.as_array()
    arrays = (X, d, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho, out_w, status, iters, obj, rp, rd, pol, nf, cs)
    run_in_slices(factor_admm_solve_nb, arrays, (opts, U), K, threads)
    return QPResult(out_w, status, iters, obj, rp, rd, pol, nf, cs, QPState(x, z, y, rho))


def _factor_state(state, settings, X, d, q, lo, hi, w0, bud, U):
    """Cold state (``w0`` projected, rho raised by a strong linear term) or a checked warm one."""
    def cold(rows):
        picked = range(lo.shape[0])[rows] if isinstance(rows, slice) else np.flatnonzero(rows)
        curvature = np.array([_curvature_nb(X[p], d[p], lo[p], hi[p]) for p in picked])
        return cold_state(settings, curvature, q[rows], lo[rows], hi[rows], w0[rows], bud[rows],
                          U if len(U) == 1 else U[rows])

    return checked_state(state, lo.shape[0], lo.shape[1], lo.shape[1] + U.shape[1], cold)
