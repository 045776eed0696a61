"""The batched ADMM QP solver of :mod:`simlab.kernels.qp`, written against an array namespace.

Same algorithm, same arguments, same outputs as :func:`simlab.kernels.qp.admm_solve_nb`,
but all K problems advance together, one array operation per step (numpy on the CPU,
cupy on a GPU): batched Cholesky and inverse for the KKT matrices, batched matrix-vector
products for the x-update, masks for the problems that have stopped. Problems stop at
their own iteration, so for the same inputs the iterates, iteration counts and statuses
are those of the numba kernel; only rounding differs (the x-update here multiplies by
an explicit inverse where the numba kernel runs triangular solves), which keeps the two
within ~1e-12 after the same iterations on well-conditioned problems.

The polish solves one fixed-size system per problem (fixed weights and inactive rows
become identity rows) instead of the numba kernel's reduced one; with refinement both
land on the same point.
"""

from __future__ import annotations

import numpy as np

from simlab.kernels.qp_codes import (
    ABOVE,
    AT_HI,
    AT_LO,
    BELOW,
    DIV_TOL,
    DUAL_INFEASIBLE,
    EQ_SCALE,
    FIXED,
    FREE,
    KINK,
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

_RUNNING = -1


def _mv(A, v, xp):
    """Batched ``A @ v``: A (K or 1, r, c), v (K, c) -> (K, r)."""
    return xp.matmul(A, v[..., None])[..., 0]


def _mtv(A, v, xp):
    """Batched ``A' @ v``: A (K or 1, r, c), v (K, r) -> (K, c)."""
    return xp.matmul(xp.swapaxes(A, -1, -2), v[..., None])[..., 0]


def _rows(U, idx):
    """The dense rows of the problems ``idx`` (shared rows stay shared)."""
    return U if U.shape[0] == 1 else U[idx]


def _clip(v, lo, hi, xp):
    return xp.where(v < lo, lo, xp.where(v > hi, hi, v))


def _prox(v, center, lo, hi, t, xp):
    """:func:`simlab.kernels.projections.prox_box_l1_nb`, elementwise."""
    d = v - center
    soft = xp.where(d > t, center + (d - t), xp.where(d < -t, center + (d + t), center))
    return _clip(xp.where(t > 0.0, soft, v), lo, hi, xp)


def _cholesky(M, xp):
    """Batched lower Cholesky factor and a (K,) mask of the matrices that have one."""
    try:
        L = xp.linalg.cholesky(M)
    except np.linalg.LinAlgError:  # numpy fails the whole batch: factor one by one
        L = xp.zeros_like(M)
        ok = xp.zeros(M.shape[0], dtype=bool)
        for k in range(M.shape[0]):
            try:
                L[k] = xp.linalg.cholesky(M[k])
                ok[k] = True
            except np.linalg.LinAlgError:
                pass
        return L, ok
    ok = xp.all(xp.isfinite(L), axis=(1, 2))  # cupy returns NaN instead of raising
    return xp.where(ok[:, None, None], L, 0.0), ok


def _cholesky_inverse(M, xp):
    """``(L^-1, ok)`` for a batch of symmetric matrices ``M = L L'`` (so ``M^-1 v =
    L^-T (L^-1 v)``, two products, better conditioned than an explicit ``M^-1``)."""
    L, ok = _cholesky(M, xp)
    eye = xp.broadcast_to(xp.eye(M.shape[-1]), M.shape)
    return xp.linalg.solve(xp.where(ok[:, None, None], L, eye), eye), ok


def _spd_inverse(M, xp):
    """``(M^-1, ok)`` for a batch of symmetric matrices through their Cholesky factors."""
    Linv, ok = _cholesky_inverse(M, xp)
    return xp.matmul(xp.swapaxes(Linv, -1, -2), Linv), ok


# --------------------------------------------------------------------------- setup


def _setup(P, q, kap, lo, hi, w0, l, u, x, z, y, rho, xp):
    """(status (K,) with -1 for problems that run, cost scale c (K,)); as ``_setup_nb``."""
    finite = (xp.all(xp.isfinite(P), axis=(1, 2)) & xp.all(xp.isfinite(q), axis=1)
              & xp.all(xp.isfinite(w0), axis=1) & xp.all(xp.isfinite(kap), axis=1)
              & xp.all(xp.isfinite(x), axis=1) & xp.all(xp.isfinite(z), axis=1)
              & xp.all(xp.isfinite(y), axis=1) & (rho > 0.0) & (rho < np.inf))
    bad_lower = xp.any(xp.isnan(lo) | (lo == np.inf), axis=1) | xp.any(xp.isnan(l) | (l == np.inf), axis=1)
    bad_upper = xp.any(xp.isnan(hi) | (hi == -np.inf), axis=1) | xp.any(xp.isnan(u) | (u == -np.inf), axis=1)
    valid = finite & ~bad_lower & ~bad_upper & xp.all(kap >= 0.0, axis=1)
    crossed = xp.any(lo > hi, axis=1) | xp.any(l > u, axis=1)
    status = xp.where(~valid, NON_FINITE, xp.where(crossed, PRIMAL_INFEASIBLE, _RUNNING))
    diag = xp.abs(xp.diagonal(xp.where(valid[:, None, None], P, 0.0), axis1=1, axis2=2)).sum(axis=1)
    qmax = xp.max(xp.maximum(xp.abs(xp.where(valid[:, None], q, 0.0)), xp.where(valid[:, None], kap, 0.0)), axis=1)
    s = xp.where(diag > 1e-300, diag / q.shape[1], qmax)
    c = xp.where(s > 1e-300, 1.0 / xp.where(s > 1e-300, s, 1.0), 1.0)
    return status, xp.where(status == _RUNNING, c, 1.0)


def _rho_vector(rho, lo, hi, ckap, l, u, e, xp):
    """(K, N + m) rho per row, as ``_rho_vector_nb``."""
    a = xp.concatenate([lo, l], axis=1)
    b = xp.concatenate([hi, u], axis=1)
    pen = xp.concatenate([ckap > 0.0, xp.zeros(l.shape, dtype=bool)], axis=1)
    s = xp.concatenate([xp.ones(lo.shape), xp.broadcast_to(e * e, l.shape)], axis=1)
    r = rho[:, None]
    loose = (a == -np.inf) & (b == np.inf) & ~pen
    return xp.where(loose, RHO_MIN * s, xp.where(a == b, xp.minimum(EQ_SCALE * r, RHO_MAX) * s, r * s))


def _kkt_inverse(cP, U, rho_vec, sigma, xp):
    """``L^-1`` for ``L L' = cP + diag(sigma + R_I) + U' R_U U`` per problem, and a (K,) ok mask."""
    n = cP.shape[1]
    Ur = U * xp.sqrt(rho_vec[:, n:])[:, :, None]
    M = cP + xp.matmul(xp.swapaxes(Ur, 1, 2), Ur)
    M = M + (sigma + rho_vec[:, :n])[:, :, None] * xp.eye(n)
    return _cholesky_inverse(M, xp)


# --------------------------------------------------------------------------- iteration


def _step(Linv, cq, ckap, U, rho_vec, sigma, alpha, lo, hi, w0, l, u, x, z, y, xp):
    """One OSQP iteration for every problem; returns the new (x, z, y)."""
    n = x.shape[1]
    rw, ru = rho_vec[:, :n], rho_vec[:, n:]
    rhs = sigma * x - cq + rw * z[:, :n] - y[:, :n] + _mtv(U, ru * z[:, n:] - y[:, n:], xp)
    xt = _mtv(Linv, _mv(Linv, rhs, xp), xp)
    uxt = _mv(U, xt, xp)
    x_new = alpha * xt + (1.0 - alpha) * x
    zr_w = alpha * xt + (1.0 - alpha) * z[:, :n]
    zn_w = _prox(zr_w + y[:, :n] / rw, w0, lo, hi, ckap / rw, xp)
    zr_u = alpha * uxt + (1.0 - alpha) * z[:, n:]
    zn_u = _clip(zr_u + y[:, n:] / ru, l, u, xp)
    y_new = y + rho_vec * (xp.concatenate([zr_w, zr_u], axis=1) - xp.concatenate([zn_w, zn_u], axis=1))
    return x_new, xp.concatenate([zn_w, zn_u], axis=1), y_new


def _residuals(cP, cq, U, e, x, z, y, xp):
    """(K, 10) residuals and norms in the order of :func:`simlab.kernels.qp_linalg.residuals_nb`."""
    n = x.shape[1]
    Px = _mv(cP, x, xp)
    Ux = _mv(U, x, xp)
    aty = y[:, :n] + _mtv(U, y[:, n:], xp)
    e = xp.broadcast_to(e, Ux.shape)
    ax = xp.concatenate([x, Ux], axis=1)
    dev = xp.abs(ax - z)
    ones = xp.ones(x.shape)
    scale = xp.concatenate([ones, e], axis=1)
    cols = [dev, xp.abs(Px + cq + aty), xp.abs(ax), xp.abs(z), xp.abs(Px), xp.abs(aty), xp.abs(cq),
            scale * dev, scale * xp.abs(ax), scale * xp.abs(z)]
    return xp.stack([xp.max(v, axis=1) for v in cols], axis=1)


def _converged(res, eps_abs, eps_rel, xp):
    prim = res[:, 0] <= eps_abs + eps_rel * xp.maximum(res[:, 2], res[:, 3])
    dual = res[:, 1] <= eps_abs + eps_rel * xp.maximum(xp.maximum(res[:, 4], res[:, 5]), res[:, 6])
    return prim & dual


def _rho_estimate(rho, res, xp):
    prim = res[:, 7] / xp.maximum(xp.maximum(res[:, 8], res[:, 9]), DIV_TOL)
    dual = res[:, 1] / xp.maximum(xp.maximum(xp.maximum(res[:, 4], res[:, 5]), res[:, 6]), DIV_TOL)
    new = rho * xp.sqrt(prim / xp.maximum(dual, DIV_TOL))
    return xp.minimum(xp.maximum(new, RHO_MIN), RHO_MAX)


def _primal_infeasible(U, lo, hi, l, u, dy, eps, xp):
    """OSQP's primal infeasibility certificate per problem, as ``_primal_infeasible_nb``."""
    n = lo.shape[1]
    a = xp.concatenate([lo, l], axis=1)
    b = xp.concatenate([hi, u], axis=1)
    norm = xp.max(xp.abs(dy), axis=1)
    tol = (eps * norm)[:, None]
    up = xp.where(b == np.inf, xp.where(dy > tol, np.nan, 0.0), xp.where(xp.isfinite(b), b, 0.0) * dy)
    down = xp.where(a == -np.inf, xp.where(-dy > tol, np.nan, 0.0), xp.where(xp.isfinite(a), a, 0.0) * dy)
    s = xp.sum(xp.where(dy > 0.0, up, xp.where(dy < 0.0, down, 0.0)), axis=1)
    aty = dy[:, :n] + _mtv(U, dy[:, n:], xp)
    return (norm >= DIV_TOL) & (s < -tol[:, 0]) & (xp.max(xp.abs(aty), axis=1) <= tol[:, 0])


def _outside_recession(d, lo, hi, tol, xp):
    return xp.any(((lo > -np.inf) & (d < -tol)) | ((hi < np.inf) & (d > tol)), axis=1)


def _dual_infeasible(cP, cq, ckap, U, lo, hi, l, u, dx, eps, xp):
    """OSQP's dual infeasibility certificate per problem, as ``_dual_infeasible_nb``."""
    norm = xp.max(xp.abs(dx), axis=1)
    tol = (eps * norm)[:, None]
    slope = xp.sum(cq * dx + ckap * xp.abs(dx), axis=1)
    cone = ~_outside_recession(dx, lo, hi, tol, xp) & ~_outside_recession(_mv(U, dx, xp), l, u, tol, xp)
    flat = xp.max(xp.abs(_mv(cP, dx, xp)), axis=1) <= tol[:, 0]
    return (norm >= DIV_TOL) & (slope <= -tol[:, 0]) & cone & flat


# --------------------------------------------------------------------------- polish


def _active_set(z, y, rho_vec, lo, hi, w0, ckap, l, u, xp):
    """(K, N + m) active-set codes, as :func:`simlab.kernels.qp_polish.active_set_nb`."""
    n = lo.shape[1]
    v = z + y / rho_vec
    vw, t = v[:, :n], ckap / rho_vec[:, :n]
    d = vw - w0
    code = xp.where(d > t, ABOVE, xp.where(d < -t, BELOW, KINK))
    p = xp.where(d > t, vw - t, xp.where(d < -t, vw + t, w0))
    code = xp.where(t > 0.0, code, FREE)
    p = xp.where(t > 0.0, p, vw)
    code = xp.where(p < lo, AT_LO, xp.where(p > hi, AT_HI, code))
    code = xp.where(lo == hi, FIXED, code)
    vu = v[:, n:]
    rows = xp.where(l == u, 3, xp.where(vu < l, 1, xp.where(vu > u, 2, 0)))
    return xp.concatenate([code, rows], axis=1)


def _subgradient_range(z, lo, hi, center, kap, xp):
    a = xp.where(z > center, kap, -kap)
    b = xp.where(z < center, -kap, kap)
    return xp.where(z <= lo, -np.inf, a), xp.where(z >= hi, np.inf, b)


def _polish(cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, n_refine, y_admm, xp):
    """Batched :func:`simlab.kernels.qp_polish.polish_nb`: returns (failed (K,), w, z, y, residuals (K, 10))."""
    n = cq.shape[1]
    cw, cr = code[:, :n], code[:, n:]
    free = (cw == FREE) | (cw == ABOVE) | (cw == BELOW)
    val = xp.where((cw == AT_LO) | (cw == FIXED), lo, xp.where(cw == AT_HI, hi, xp.where(cw == KINK, w0, 0.0)))
    sgn = xp.where(cw == ABOVE, 1.0, xp.where(cw == BELOW, -1.0, 0.0))
    act = cr > 0
    y_ref = xp.where(cr == 1, xp.minimum(y_admm[:, n:], 0.0),
                     xp.where(cr == 2, xp.maximum(y_admm[:, n:], 0.0), y_admm[:, n:]))
    y_ref = xp.where(act, y_ref, 0.0)
    b1 = xp.where(free, -(cq + ckap * sgn + _mv(cP, val, xp)), 0.0)
    b2 = xp.where(act, xp.where(cr == 2, u, l) - _mv(U, val, xp), 0.0)
    pair = free[:, :, None] & free[:, None, :]
    eye = xp.eye(n)
    H = xp.where(pair, cP, 0.0) + xp.where(free, delta, 1.0)[:, :, None] * eye
    C = xp.where(act[:, :, None] & free[:, None, :], U, 0.0)
    Ct = xp.swapaxes(C, 1, 2)
    Hinv, ok_h = _spd_inverse(H, xp)
    S = xp.matmul(C, xp.matmul(Hinv, Ct)) + xp.where(act, delta, 1.0)[:, :, None] * xp.eye(l.shape[1])
    Sinv, ok_s = _spd_inverse(S, xp)
    h_exact = H - xp.where(free, delta, 0.0)[:, :, None] * eye
    d_exact = xp.where(act, 0.0, 1.0)

    def solve(r1, r2):
        h = _mv(Hinv, r1, xp)
        yv = _mv(Sinv, _mv(C, h, xp) - r2, xp)
        return _mv(Hinv, r1 - _mv(Ct, yv, xp), xp), yv

    wf, yv = solve(b1, b2 - xp.where(act, delta * y_ref, 0.0))
    for _ in range(n_refine):
        dw, dy = solve(b1 - _mv(h_exact, wf, xp) - _mv(Ct, yv, xp), b2 - _mv(C, wf, xp) + d_exact * yv)
        wf, yv = wf + dw, yv + dy
    w = val + wf
    nf = xp.sum(free, axis=1)
    yv = xp.where((nf > 0)[:, None], yv, y_ref)
    y_u = xp.where(cr == 1, xp.minimum(yv, 0.0), xp.where(cr == 2, xp.maximum(yv, 0.0), yv))
    y_u = xp.where(act, y_u, 0.0)
    g = _mv(cP, w, xp) + _mtv(U, y_u, xp) + cq
    z_w = _clip(w, lo, hi, xp)
    a, b = _subgradient_range(z_w, lo, hi, w0, ckap, xp)
    y_u, g = _row_duals(U, cr, act & ~xp.any(C != 0.0, axis=2), g, y_u, a, b, xp)
    y = xp.concatenate([_clip(-g, a, b, xp), y_u], axis=1)
    z_u = xp.where(cr == 0, _clip(_mv(U, w, xp), l, u, xp), xp.where(cr == 2, u, l))
    z = xp.concatenate([z_w, z_u], axis=1)
    failed = xp.where(~ok_h & (nf > 0), 1, xp.where(~ok_s & (nf > 0), 2, 0))
    return failed, w, z, y, _residuals(cP, cq, U, e, w, z, y, xp)


def _row_duals(U, cr, lonely, g, y_u, a, b, xp):
    """Duals of active rows without a free weight, moved into the range their members
    accept (row by row, as ``polish_nb``); returns (y_u, g)."""
    for j in range(cr.shape[1]):
        Uj = xp.broadcast_to(U[:, j, :], g.shape)
        member = Uj != 0.0
        div = xp.where(member, Uj, 1.0)
        rest = g - Uj * y_u[:, j:j + 1]
        r1, r2 = (-b - rest) / div, (-a - rest) / div
        t_lo = xp.max(xp.where(member, xp.minimum(r1, r2), -np.inf), axis=1)
        t_hi = xp.min(xp.where(member, xp.maximum(r1, r2), np.inf), axis=1)
        t_lo = xp.maximum(t_lo, xp.where(cr[:, j] == 2, 0.0, -np.inf))
        t_hi = xp.minimum(t_hi, xp.where(cr[:, j] == 1, 0.0, np.inf))
        t = xp.where(t_lo <= t_hi, _clip(y_u[:, j], t_lo, t_hi, xp), 0.5 * (t_lo + t_hi))
        t = xp.where(lonely[:, j], t, y_u[:, j])
        g = g + Uj * (t - y_u[:, j])[:, None]
        y_u = xp.concatenate([y_u[:, :j], t[:, None], y_u[:, j + 1:]], axis=1)
    return y_u, g


def _improves(new, old, xp):
    rp, rd, prp, prd = old[:, 0], old[:, 1], new[:, 0], new[:, 1]
    return ((prp < rp) & (prd < rd)) | ((prp < rp) & (rd < 1e-10)) | ((prd < rd) & (rp < 1e-10))


# --------------------------------------------------------------------------- driver


def admm_solve_xp(P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho, *, xp=np):
    """Solve K QPs together; arguments as :func:`simlab.kernels.qp.admm_solve_nb`.

    Returns ``(w, status, iterations, objective, r_prim, r_dual, polished, n_factor,
    cost_scale, x, z, y, rho)`` as arrays of namespace ``xp`` (the state is not modified
    in place).
    """
    K, n = q.shape
    o = [float(v) for v in opts]
    max_iter, check, polish = int(o[O_MAX_ITER]), max(1, int(o[O_CHECK])), o[O_POLISH] > 0.0
    sigma, alpha, delta, refine = o[O_SIGMA], o[O_ALPHA], o[O_DELTA], int(o[O_REFINE])
    x, z, y, rho = x.copy(), z.copy(), y.copy(), xp.where((rho > 0) & (rho < np.inf), rho, 0.1)
    status, c = _setup(P, q, kappa, lo, hi, w0, l, u, x, z, y, rho, xp)
    run = status == _RUNNING
    cs = (0.5 * c)[:, None, None]
    cP = xp.where(run[:, None, None], cs * (P + xp.swapaxes(P, 1, 2)), 0.0)
    cq, ckap = xp.where(run[:, None], c[:, None] * q, 0.0), xp.where(run[:, None], c[:, None] * kappa, 0.0)
    nrm = xp.sqrt(xp.sum(U * U, axis=2))
    e = xp.where(nrm > 0.0, 1.0 / xp.where(nrm > 0.0, nrm, 1.0), 1.0)
    y = xp.where(run[:, None], y * c[:, None], y)
    safe = [xp.where(run[:, None], a, 0.0) for a in (lo, hi, w0, l, u)]
    lo_s, hi_s, w0_s, l_s, u_s = safe
    z_in = xp.concatenate([_clip(z[:, :n], lo_s, hi_s, xp), _clip(z[:, n:], l_s, u_s, xp)], axis=1)
    z = xp.where(run[:, None], z_in, z)
    rho_vec = _rho_vector(rho, lo, hi, ckap, l, u, e, xp)
    Linv, ok = _kkt_inverse(cP, U, xp.where(run[:, None], rho_vec, 1.0), sigma, xp)
    status = xp.where(run & ~ok, NON_CONVEX, status)
    n_fact = xp.where(run, 1, 0)
    iters = xp.zeros(K, dtype=xp.int64)
    polished = xp.zeros(K, dtype=bool)
    res = xp.full((K, 10), np.inf)
    tried = xp.full((K, n + l.shape[1]), -1)
    x_prev, y_prev = x, y
    it = 0
    while bool(xp.any(status == _RUNNING)):
        run = status == _RUNNING
        if it == 0 or it % check == 0 or it == max_iter:  # a check after `it` iterations
            res = xp.where(run[:, None], _residuals(cP, cq, U, e, x, z, y, xp), res)
            status = _checks(status, run, res, cP, cq, ckap, U, lo, hi, l, u, x - x_prev, y - y_prev, it > 0, o, xp)
            if polish:
                status, x, z, y, res, polished, tried = _early_polish(
                    status, cP, cq, ckap, U, e, lo_s, hi_s, w0_s, l_s, u_s, rho_vec, delta, refine, o,
                    x, z, y, res, polished, tried, xp)
            if it == max_iter:
                break
            if it > 0 and o[O_ADAPTIVE] > 0.0:
                rho, rho_vec, Linv, n_fact, status = _adapt_rho(status, rho, rho_vec, res, Linv, n_fact, cP, U, lo, hi,
                                                                ckap, l, u, e, sigma, o, xp)
        if (it + 1) % check == 0 or it + 1 == max_iter:
            x_prev, y_prev = x, y
        run = status == _RUNNING
        if not bool(xp.any(run)):
            break
        xn, zn, yn = _step(Linv, cq, ckap, U, xp.where(run[:, None], rho_vec, 1.0), sigma, alpha,
                           lo_s, hi_s, w0_s, l_s, u_s, x, z, y, xp)
        x, z, y = (xp.where(run[:, None], new, old) for new, old in ((xn, x), (zn, z), (yn, y)))
        it += 1
        iters = xp.where(run, it, iters)
    status = xp.where(status == _RUNNING, MAX_ITER, status)
    if polish:
        status, x, z, y, res, polished = _final_polish(
            status, cP, cq, ckap, U, e, lo_s, hi_s, w0_s, l_s, u_s, rho_vec, delta, refine, o,
            x, z, y, res, polished, xp)
    return _finish(status, iters, res, polished, rho, n_fact, c, P, q, kappa, w0, U, x, z, y, cP, xp)


def _checks(status, run, res, cP, cq, ckap, U, lo, hi, l, u, dx, dy, certify, o, xp):
    """Stopping test, then (``certify``: after an iteration) the infeasibility
    certificates, for the running problems."""
    conv = run & _converged(res, o[O_EPS_ABS], o[O_EPS_REL], xp)
    status = xp.where(conv, SOLVED, status)
    run = run & ~conv
    if not certify:
        return status
    pinf = run & _primal_infeasible(U, lo, hi, l, u, dy, o[O_EPS_PINF], xp)
    status = xp.where(pinf, PRIMAL_INFEASIBLE, status)
    run = run & ~pinf
    dinf = run & _dual_infeasible(cP, cq, ckap, U, lo, hi, l, u, dx, o[O_EPS_DINF], xp)
    return xp.where(dinf, DUAL_INFEASIBLE, status)


def _adapt_rho(status, rho, rho_vec, res, Linv, n_fact, cP, U, lo, hi, ckap, l, u, e, sigma, o, xp):
    """OSQP's rho update for the running problems, refactoring where it moved past ``rho_tol``."""
    running = status == _RUNNING
    new = _rho_estimate(rho, xp.where(running[:, None], res, 1.0), xp)
    adapt = running & ((new > rho * o[O_RHO_TOL]) | (new * o[O_RHO_TOL] < rho))
    if not bool(xp.any(adapt)):
        return rho, rho_vec, Linv, n_fact, status
    idx = xp.nonzero(adapt)[0]
    rho = xp.where(adapt, new, rho)
    rho_vec = _rho_vector(rho, lo, hi, ckap, l, u, e, xp)
    Linv_new, ok = _kkt_inverse(cP[idx], _rows(U, idx), rho_vec[idx], sigma, xp)
    Linv[idx] = Linv_new
    status[idx] = xp.where(ok, status[idx], NON_CONVEX)
    return rho, rho_vec, Linv, xp.where(adapt, n_fact + 1, n_fact), status


def _polish_subset(idx, cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, refine, y, xp):
    return _polish(cP[idx], cq[idx], ckap[idx], _rows(U, idx), _rows(e, idx), lo[idx], hi[idx], w0[idx],
                   l[idx], u[idx], code[idx], delta, refine, y[idx], xp)


def _early_polish(status, cP, cq, ckap, U, e, lo, hi, w0, l, u, rho_vec, delta, refine, o,
                  x, z, y, res, polished, tried, xp):
    """Polish the running problems whose active-set guess changed; keep a polished point
    only when it meets the stopping test (as the numba kernel)."""
    run = status == _RUNNING
    code = _active_set(z, y, rho_vec, lo, hi, w0, ckap, l, u, xp)
    changed = run & xp.any(code != tried, axis=1)
    if not bool(xp.any(changed)):
        return status, x, z, y, res, polished, tried
    tried = xp.where(changed[:, None], code, tried)
    idx = xp.nonzero(changed)[0]
    failed, wp, zp, yp, pres = _polish_subset(idx, cP, cq, ckap, U, e, lo, hi, w0, l, u, code, delta, refine, y, xp)
    status[idx] = xp.where(failed == 1, NON_CONVEX, status[idx])
    take = (failed == 0) & _converged(pres, o[O_EPS_ABS], o[O_EPS_REL], xp) & _improves(pres, res[idx], xp)
    sel = idx[take]
    x[sel], z[sel], y[sel], res[sel] = wp[take], zp[take], yp[take], pres[take]
    status[sel] = SOLVED
    polished[sel] = True
    return status, x, z, y, res, polished, tried


def _final_polish(status, cP, cq, ckap, U, e, lo, hi, w0, l, u, rho_vec, delta, refine, o, x, z, y, res,
                  polished, xp):
    """Polish the solved and max_iter problems not yet polished; OSQP's acceptance rule."""
    want = ((status == SOLVED) | (status == MAX_ITER)) & ~polished
    if not bool(xp.any(want)):
        return status, x, z, y, res, polished
    idx = xp.nonzero(want)[0]
    code = _active_set(z[idx], y[idx], rho_vec[idx], lo[idx], hi[idx], w0[idx], ckap[idx], l[idx], u[idx], xp)
    failed, wp, zp, yp, pres = _polish(cP[idx], cq[idx], ckap[idx], _rows(U, idx), _rows(e, idx), lo[idx], hi[idx],
                                       w0[idx], l[idx], u[idx], code, delta, refine, y[idx], xp)
    status[idx] = xp.where(failed == 1, NON_CONVEX, status[idx])
    take = (failed == 0) & _improves(pres, res[idx], xp)
    sel = idx[take]
    x[sel], z[sel], y[sel], res[sel] = wp[take], zp[take], yp[take], pres[take]
    polished[sel] = True
    status[sel] = xp.where(_converged(pres[take], o[O_EPS_ABS], o[O_EPS_REL], xp), SOLVED, status[sel])
    return status, x, z, y, res, polished


def _finish(status, iters, res, polished, rho, n_fact, c, P, q, kappa, w0, U, x, z, y, cP, xp):
    """Outputs; problems with status >= 2 go to the hold point (``_hold_nb``)."""
    failed = status >= PRIMAL_INFEASIBLE
    hold = xp.where(xp.isfinite(w0), w0, 0.0)
    hz = _mv(U, hold, xp)
    hz = xp.where(xp.isfinite(hz), hz, 0.0)
    x = xp.where(failed[:, None], hold, x)
    z = xp.where(failed[:, None], xp.concatenate([hold, hz], axis=1), z)
    y = xp.where(failed[:, None], 0.0, y / c[:, None])
    w = x
    safe_w = xp.where(failed[:, None], 0.0, w)
    quad = xp.sum(safe_w * _mv(cP, safe_w, xp), axis=1) * 0.5 / c
    lin = xp.sum(xp.where(failed[:, None], 0.0, q * w + kappa * xp.abs(w - w0)), axis=1)
    obj = xp.where(status == PRIMAL_INFEASIBLE, np.inf, xp.where(status == DUAL_INFEASIBLE, -np.inf,
                                                                  xp.where(failed, np.nan, quad + lin)))
    setup_failed = failed & (iters == 0) & (n_fact == 0)
    r_prim = xp.where(setup_failed | (status == NON_CONVEX), np.nan, res[:, 0])
    r_dual = xp.where(setup_failed | (status == NON_CONVEX), np.nan, res[:, 1])
    polished = polished & ~failed
    return w, status.astype(xp.int64), iters, obj, r_prim, r_dual, polished, n_fact.astype(xp.int64), c, x, z, y, rho
