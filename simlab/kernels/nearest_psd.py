"""Positive semidefiniteness of covariance estimates: tests, nearest PSD, batched repair.

A pairwise estimate (each pair over the rows both assets have) may be indefinite.
:func:`repair_psd_nb` replaces each indefinite block of a batch by its nearest PSD matrix,
Higham's (2002) alternating projections with Dykstra's correction on the correlation scale
(:func:`nearest_psd_nb`): the result keeps the input's variances exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.covariance import included_index_nb


@njit(cache=True, error_model="numpy")
def _clip_psd(a):
    vals, vecs = np.linalg.eigh(a)
    return (vecs * np.maximum(vals, 0.0)) @ vecs.T


@njit(cache=True, error_model="numpy")
def min_corr_eigenvalue_nb(a):
    """Smallest eigenvalue of the symmetric part of ``a`` on the correlation scale.

    ``eigvalsh(D^-1/2 (a + a.T)/2 D^-1/2)[0]`` with ``D = diag(a)``; on the plain scale when
    a variance is not positive.
    """
    n = a.shape[0]
    s = np.empty(n)
    scaled = True
    for i in range(n):
        if not a[i, i] > 0.0:
            scaled = False
        s[i] = np.sqrt(a[i, i]) if a[i, i] > 0.0 else 1.0
    b = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            v = 0.5 * (a[i, j] + a[j, i])
            b[i, j] = v / (s[i] * s[j]) if scaled else v
    return np.linalg.eigvalsh(b)[0]


@njit(cache=True, error_model="numpy")
def is_psd_nb(a, tol):
    """True when ``(a + a.T) / 2`` is PSD up to ``tol`` on the correlation scale.

    A Cholesky factorization of ``C + tol * I`` (``C`` the correlation-scaled matrix)
    succeeds: a third of the work of the eigenvalues. Non-positive variances: False.
    """
    n = a.shape[0]
    b = np.empty((n, n))
    for i in range(n):
        if not a[i, i] > 0.0:
            return False
    for i in range(n):
        for j in range(n):
            b[i, j] = 0.5 * (a[i, j] + a[j, i]) / np.sqrt(a[i, i] * a[j, j])
        b[i, i] += tol
    try:
        np.linalg.cholesky(b)
    except Exception:  # numpy's LinAlgError: not positive definite
        return False
    return True


@njit(cache=True, error_model="numpy")
def nearest_psd_nb(a, max_iter, tol):
    """Nearest PSD matrix with the same diagonal (Higham 2002, Dykstra-corrected).

    On the correlation scale ``C = D^-1/2 A D^-1/2``: alternate the projection onto PSD
    matrices (eigenvalues clipped at 0) and onto unit-diagonal matrices until successive
    iterates move less than ``tol`` (relative Frobenius), then rescale the PSD iterate to a
    unit diagonal (a congruence, so it stays PSD) and back to ``A``'s variances. Where a
    variance is not positive the answer is the plain eigenvalue clip of ``(A + A.T) / 2``
    (Higham 1988). Returns ``(X, iterations)``.
    """
    n = a.shape[0]
    sym = 0.5 * (a + a.T)
    s = np.empty(n)
    for i in range(n):
        if not sym[i, i] > 0.0:
            return _clip_psd(sym), 0
        s[i] = np.sqrt(sym[i, i])
    y = sym / np.outer(s, s)
    ds = np.zeros((n, n))
    x = y.copy()
    it = 0
    while it < max_iter:
        it += 1
        rr = y - ds
        x = _clip_psd(rr)
        ds = x - rr
        step = 0.0
        norm = 0.0
        for i in range(n):
            for j in range(n):
                v = 1.0 if i == j else x[i, j]
                step += (v - y[i, j]) ** 2
                norm += v * v
                y[i, j] = v
        if np.sqrt(step) <= tol * np.sqrt(norm):
            break
    d = np.empty(n)
    for i in range(n):
        d[i] = s[i] / np.sqrt(x[i, i]) if x[i, i] > 0.0 else 0.0
    return x * np.outer(d, d), it


@njit(cache=True, error_model="numpy")
def repair_psd_nb(cov, include, tol, max_iter, conv_tol):
    """Replace each indefinite included block of ``cov`` (R, N, N) by its nearest PSD, in place.

    A block counts as indefinite when :func:`min_corr_eigenvalue_nb` is below ``-tol``.
    Returns a (R,) bool array, True where a block was repaired.
    """
    n_dec = cov.shape[0]
    repaired = np.zeros(n_dec, np.bool_)
    for r in range(n_dec):
        idx = included_index_nb(include[r])
        p = idx.shape[0]
        if p == 0:
            continue
        sub = np.empty((p, p))
        for a in range(p):
            for b in range(p):
                sub[a, b] = cov[r, idx[a], idx[b]]
        if is_psd_nb(sub, tol):
            continue
        fixed, _ = nearest_psd_nb(sub, max_iter, conv_tol)
        for a in range(p):
            for b in range(p):
                cov[r, idx[a], idx[b]] = fixed[a, b]
        repaired[r] = True
    return repaired
