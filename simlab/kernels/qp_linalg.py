"""Dense linear algebra of the numba QP kernels: vector helpers, the Cholesky solve, the residuals.

Shared by the ADMM iteration (:mod:`simlab.kernels.qp`) and the polish
(:mod:`simlab.kernels.qp_polish`). Plain loops throughout: numba re-optimizes a callee
inside every caller, so the kernels avoid numpy's heavier generic implementations.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

try:  # LAPACK's dpotrf as numba binds it for np.linalg.cholesky (needs scipy, as that does)
    from numba.np.linalg import _LAPACK, ensure_lapack

    ensure_lapack()
    _POTRF = _LAPACK().numba_xxpotrf(types.float64)
except Exception:  # noqa: BLE001 - a numba without the binding: np.linalg.cholesky below
    _POTRF = None
_KIND, _UPPER = ord("d"), ord("U")

# --------------------------------------------------------------------------- vectors


@njit(cache=True)
def dot_nb(a, b):
    """``a @ b`` for two vectors."""
    acc = 0.0
    for i in range(a.shape[0]):
        acc += a[i] * b[i]
    return acc


@njit(cache=True)
def symv_nb(A, x, out):
    """``out = A @ x`` for a symmetric ``A``, by rows of A (contiguous, vectorized)."""
    out[:] = 0.0
    for j in range(x.shape[0]):
        xj = x[j]
        if xj != 0.0:
            for i in range(x.shape[0]):
                out[i] += xj * A[j, i]


@njit(cache=True)
def copy_nb(dst, src):
    """``dst[:] = src`` for two float vectors of one length, as a loop (numba's array-to-slice
    assignment compiles a shape-mismatch message formatter into every caller)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(cache=True)
def norm_inf_nb(a):
    """``max(abs(a))``, 0 for an empty vector."""
    acc = 0.0
    for i in range(a.shape[0]):
        acc = max(acc, abs(a[i]))
    return acc


@njit(cache=True)
def diff_nb(a, b):
    """``a - b`` as a new vector."""
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = a[i] - b[i]
    return out


@njit(cache=True)
def same_nb(a, b):
    """True when the vectors are equal element by element."""
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True


# --------------------------------------------------------------------------- Cholesky


if _POTRF is not None:

    @njit(cache=True)
    def chol_inplace_nb(M):
        """Overwrite the lower triangle of the symmetric ``M`` (C order) with its Cholesky
        factor ``L``; returns False when ``M`` is not positive definite.

        The LAPACK call ``np.linalg.cholesky`` makes (dpotrf on the C-order matrix read as
        its Fortran transpose, upper), so ``L`` has the same bits, without its two costs
        at N in the hundreds: a copy of the matrix and a column-order pass zeroing the
        upper triangle (here left as it was: :func:`chol_solve_nb` reads the lower one).
        """
        n = M.shape[0]
        return n == 0 or _POTRF(_KIND, _UPPER, n, M.ctypes, n) == 0

else:

    @njit(cache=True)
    def chol_inplace_nb(M):
        """Overwrite ``M`` with its Cholesky factor ``L``; False when not positive definite."""
        try:
            M[:] = np.linalg.cholesky(M)
        except Exception:  # noqa: BLE001 - numba raises LinAlgError for an indefinite matrix
            return False
        return True


# --------------------------------------------------------------------------- triangular solve


@njit(cache=True, fastmath={"reassoc", "contract"})
def chol_solve_nb(L, b, x):
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


# --------------------------------------------------------------------------- residuals


@njit(cache=True)
def residuals_nb(cP, cq, U, e, x, z, y, Px, Aty):
    """OSQP residuals and norms (inf-norms); fills ``Px = cP x`` and ``Aty = A'y`` (N,).

    Returns (r_prim, r_dual, |Ax|, |z|, |cPx|, |A'y|, |cq|, r_prim_s, |Ax|_s, |z|_s); the
    ``_s`` ones are row-scaled by ``e``, for the rho update.
    """
    n, m = x.shape[0], U.shape[0]
    symv_nb(cP, x, Px)
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
        ux, zj = dot_nb(U[j], x), z[n + j]
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
def converged_nb(res, eps_abs, eps_rel):
    """OSQP's stopping test on the residuals of :func:`residuals_nb`."""
    rp, rd, nax, nz, npx, naty, nq = res[0], res[1], res[2], res[3], res[4], res[5], res[6]
    return rp <= eps_abs + eps_rel * max(nax, nz) and rd <= eps_abs + eps_rel * max(npx, naty, nq)

