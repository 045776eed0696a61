"""Ledoit-Wolf shrinkage of batched sample covariances, in place.

The inputs are the biased (ddof=0) sample covariances and the fourth-moment sums of
:func:`simlab.kernels.covariance.window_quartics_nb`, one row per decision. The formulas
are those of scikit-learn's ``ledoit_wolf_shrinkage`` (identity target,
:func:`shrink_identity_nb`) and of Ledoit & Wolf (2004), "Honey, I shrunk the sample
covariance matrix", ``covCor.m`` (constant correlation,
:func:`shrink_constant_correlation_nb`), with their O(W N^2) products rewritten as O(W N)
sums.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.covariance import included_index_nb


@njit(cache=True, error_model="numpy")
def shrink_identity_nb(cov, include, n_obs, q):
    """Ledoit-Wolf shrinkage toward ``mu * I``, in place; returns the shrinkage (R,).

    ``cov`` (R, N, N) holds the biased (ddof=0) sample covariance of ``n_obs`` (R,) rows;
    equals ``sklearn.covariance.LedoitWolf(assume_centered=False).fit(x).covariance_`` on
    the included assets (one asset: no shrinkage, as scikit-learn).
    """
    n_dec, n_cols, _ = cov.shape
    shrink = np.zeros(n_dec)
    for r in range(n_dec):
        inc = include[r]
        p = inc.sum()
        n = n_obs[r]
        if p < 2 or n <= 0:
            continue
        c = cov[r]
        tr = 0.0
        fro2 = 0.0
        for i in range(n_cols):
            if not inc[i]:
                continue
            tr += c[i, i]
            ci = c[i]
            for j in range(n_cols):
                v = ci[j] if inc[j] else 0.0
                fro2 += v * v
        mu = tr / p
        beta = (q[r, 0] / n - fro2) / (p * n)
        delta = (fro2 - 2.0 * mu * tr + p * mu * mu) / p
        beta = min(beta, delta)
        s = 0.0 if beta == 0.0 else beta / delta
        shrink[r] = s
        for i in range(n_cols):
            if not inc[i]:
                continue
            ci = c[i]
            for j in range(n_cols):
                ci[j] *= 1.0 - s  # NaN (excluded) stays NaN
            ci[i] += s * mu
    return shrink


@njit(cache=True, error_model="numpy")
def shrink_constant_correlation_nb(cov, include, n_obs, q):
    """Ledoit-Wolf (2004) shrinkage toward constant correlation, in place; returns it (R,).

    ``cov`` holds the biased sample covariance; equals ``covCor.m`` of Ledoit & Wolf:
    target ``F_ij = rbar * sd_i * sd_j`` (``F_ii = var_i``), intensity
    ``clip((phi - rho) / gamma / n, 0, 1)``.
    """
    n_dec = cov.shape[0]
    shrink = np.zeros(n_dec)
    for r in range(n_dec):
        idx = included_index_nb(include[r])
        p = idx.shape[0]
        n = n_obs[r]
        if p < 2 or n <= 0:
            continue
        c = cov[r]
        corr_sum = 0.0
        fro2 = 0.0
        var2 = 0.0
        sss = 0.0
        for i in idx:
            var2 += c[i, i] * c[i, i]
            for j in idx:
                sdij = np.sqrt(c[i, i] * c[j, j])
                corr_sum += c[i, j] / sdij
                fro2 += c[i, j] * c[i, j]
                sss += sdij * c[i, j]
        rbar = (corr_sum - p) / (p * (p - 1))
        gamma = 0.0
        for i in idx:
            for j in idx:
                if i != j:
                    g = c[i, j] - rbar * np.sqrt(c[i, i] * c[j, j])
                    gamma += g * g
        phi = q[r, 0] / n - fro2
        rho = (q[r, 1] / n - var2) + rbar * ((q[r, 2] - q[r, 1]) / n - (sss - var2))
        s = 0.0
        if gamma > 0.0:
            s = min(1.0, max(0.0, (phi - rho) / gamma / n))
        shrink[r] = s
        for i in idx:
            for j in idx:
                if i != j:
                    c[i, j] = s * rbar * np.sqrt(c[i, i] * c[j, j]) + (1.0 - s) * c[i, j]
    return shrink
