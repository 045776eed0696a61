"""The exact polish of the factor-model QP kernel (:mod:`simlab.kernels.qp_factor`).

From the active set read off the ADMM iterate, the equality QP of that set is solved
exactly on ``P = X X' + diag(d)`` (Woodbury on the free block, then the Schur complement
of the active rows) and accepted only if it satisfies the KKT conditions: within the
bounds and rows, multipliers of the right sign, reduced gradients pointing out of the
active bounds (with the L1 term's subgradient). All in the cost-normalized units of the
kernel; codes of :mod:`simlab.kernels.qp_codes`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.qp_linalg import chol_solve_nb

KKT_TOL = 1e-9  # primal tolerance of an accepted polish (relative to the bound's size)


@njit(cache=True, nogil=True)
def p_times_nb(cX, cd, x, out, f):
    """``out = (cX cX' + diag(cd)) x``; ``f`` (k,) scratch."""
    n, k = cX.shape
    for j in range(k):
        f[j] = 0.0
    for i in range(n):
        for j in range(k):
            f[j] += cX[i, j] * x[i]
    for i in range(n):
        acc = cd[i] * x[i]
        for j in range(k):
            acc += cX[i, j] * f[j]
        out[i] = acc


@njit(cache=True, nogil=True)
def active_set_nb(lo, hi, w0, ckap, l, u, z, y, rho_vec, code, rows):
    """Active set read from ``z + y / rho`` (codes of :mod:`simlab.kernels.qp_codes`:
    0 free, 1 lo, 2 hi, 3 fixed, 4 kink, 5 above w0, 6 below w0; rows 0, 1 at l, 2 at u, 3 eq)."""
    n = lo.shape[0]
    for i in range(n):
        v = z[i] + y[i] / rho_vec[i]
        thr = ckap[i] / rho_vec[i]
        s = v - w0[i]
        soft = v
        if ckap[i] > 0.0:
            soft = w0[i] + (s - thr if s > thr else (s + thr if s < -thr else 0.0))
        if lo[i] == hi[i]:
            code[i] = 3
        elif soft <= lo[i]:
            code[i] = 1
        elif soft >= hi[i]:
            code[i] = 2
        elif ckap[i] > 0.0 and abs(s) <= thr:
            code[i] = 4
        elif ckap[i] > 0.0:
            code[i] = 5 if s > 0.0 else 6
        else:
            code[i] = 0
    for j in range(l.shape[0]):
        v = z[n + j] + y[n + j] / rho_vec[n + j]
        if l[j] == u[j]:
            rows[j] = 3
        elif v >= u[j]:
            rows[j] = 2
        elif v <= l[j]:
            rows[j] = 1
        else:
            rows[j] = 0


@njit(cache=True, nogil=True)
def polish_nb(cX, cd, cq, ckap, lo, hi, w0, U, l, u, code, rows, tol_d, w, lam, grad):
    """Exact solution of the active set's equality QP, KKT-checked; fills ``w``, ``lam``
    (dense-row multipliers), ``grad`` (reduced gradient) and returns True if accepted."""
    n, k = cX.shape
    m = U.shape[0]
    free = np.empty(n, np.int64)
    nf = 0
    sgn = np.zeros(n)
    for i in range(n):
        c = code[i]
        if c == 0 or c == 5 or c == 6:
            free[nf] = i
            nf += 1
            sgn[i] = 1.0 if c == 5 else (-1.0 if c == 6 else 0.0)
            w[i] = 0.0
        elif c == 1:
            w[i] = lo[i]
        elif c == 2 or c == 3:
            w[i] = hi[i] if c == 2 else lo[i]
        else:
            w[i] = w0[i]
        if not np.isfinite(w[i]):
            return False
    act = np.empty(m, np.int64)
    ne = 0
    for j in range(m):
        lam[j] = 0.0
        if rows[j] != 0:
            act[ne] = j
            ne += 1
    # exposures of the fixed part, and the free block's capacitance I + Xf' Df^-1 Xf
    fa = np.zeros(k)
    for i in range(n):
        if w[i] != 0.0:
            for j in range(k):
                fa[j] += cX[i, j] * w[i]
    C = np.eye(k)
    for t in range(nf):
        i = free[t]
        if not cd[i] > 0.0:
            return False
        for a in range(k):
            va = cX[i, a] / cd[i]
            for b in range(a + 1):
                C[a, b] += va * cX[i, b]
    for a in range(k):
        for b in range(a):
            C[b, a] = C[a, b]
    try:
        Lc = np.linalg.cholesky(C)
    except Exception:  # noqa: BLE001
        return False
    # columns: 0 the linear term r, 1.. the active rows' transposes; apply Pff^-1 to each
    rhs = np.zeros((ne + 1, nf))
    for t in range(nf):
        i = free[t]
        acc = cq[i] + ckap[i] * sgn[i]
        for j in range(k):
            acc += cX[i, j] * fa[j]
        rhs[0, t] = -acc
        for e in range(ne):
            rhs[e + 1, t] = U[act[e], i]
    sol = np.empty((ne + 1, nf))
    tk, sk = np.empty(k), np.empty(k)
    for c in range(ne + 1):
        for a in range(k):
            tk[a] = 0.0
        for t in range(nf):
            i = free[t]
            v = rhs[c, t] / cd[i]
            sol[c, t] = v
            for a in range(k):
                tk[a] += cX[i, a] * v
        chol_solve_nb(Lc, tk, sk)
        for t in range(nf):
            i = free[t]
            acc = 0.0
            for a in range(k):
                acc += cX[i, a] * sk[a]
            sol[c, t] -= acc / cd[i]
    if ne > 0:
        S = np.empty((ne, ne))
        g = np.empty(ne)
        for e in range(ne):
            j = act[e]
            bound = u[j] if rows[j] >= 2 else l[j]
            fixed = 0.0
            for i in range(n):
                if w[i] != 0.0:
                    fixed += U[j, i] * w[i]
            acc = 0.0
            for t in range(nf):
                acc += rhs[e + 1, t] * sol[0, t]
            g[e] = acc - (bound - fixed)
            for f in range(ne):
                acc = 0.0
                for t in range(nf):
                    acc += rhs[e + 1, t] * sol[f + 1, t]
                S[e, f] = acc
        try:
            mult = np.linalg.solve(S, g)
        except Exception:  # noqa: BLE001 - redundant active rows
            return False
        if not np.isfinite(mult).all():
            return False
        for e in range(ne):
            lam[act[e]] = mult[e]
    for t in range(nf):
        acc = sol[0, t]
        for e in range(ne):
            acc -= sol[e + 1, t] * lam[act[e]]
        w[free[t]] = acc
    return _kkt_ok_nb(cX, cd, cq, ckap, lo, hi, w0, U, l, u, code, rows, sgn, tol_d, w, lam, grad)


@njit(cache=True, nogil=True)
def _kkt_ok_nb(cX, cd, cq, ckap, lo, hi, w0, U, l, u, code, rows, sgn, tol_d, w, lam, grad):
    """The KKT conditions of the polished point (see the module docstring)."""
    n, k = cX.shape
    f = np.empty(k)
    p_times_nb(cX, cd, w, grad, f)
    for i in range(n):
        if not np.isfinite(w[i]):
            return False
        grad[i] += cq[i]
        for j in range(U.shape[0]):
            grad[i] += U[j, i] * lam[j]
        tol_p = KKT_TOL * (1.0 + abs(w[i]))
        if w[i] < lo[i] - tol_p or w[i] > hi[i] + tol_p:
            return False
        c = code[i]
        # at a bound, some subgradient of kappa |w - w0| must leave the gradient pointing out
        if c == 1 and grad[i] + ckap[i] * (-1.0 if lo[i] < w0[i] else 1.0) < -tol_d:
            return False
        if c == 2 and grad[i] + ckap[i] * (1.0 if hi[i] > w0[i] else -1.0) > tol_d:
            return False
        if c == 4 and abs(grad[i]) > ckap[i] + tol_d:
            return False
        if (c == 5 or c == 6) and (w[i] - w0[i]) * sgn[i] < -tol_p:
            return False
    for j in range(U.shape[0]):
        v = 0.0
        for i in range(n):
            v += U[j, i] * w[i]
        tol_p = KKT_TOL * (1.0 + max(abs(v), 1.0))
        if v < l[j] - tol_p or v > u[j] + tol_p:
            return False
        if rows[j] == 2 and lam[j] < -tol_d:
            return False
        if rows[j] == 1 and lam[j] > tol_d:
            return False
    return True
