"""Two-state Gaussian hidden Markov model: scaled forward filter, posteriors, Baum-Welch fit.

Observations are daily log returns (T,), NaN where missing: a missing day contributes a
log density of 0 in both states, so the filter carries the prior over it. State 1 is
always the high-variance one (:func:`fit_hmm` orders the states after fitting).

``forward_nb`` equals, at each day t, the brute-force sum over every state path
``s_0 .. s_t`` ending in each state of ``pi[s_0] b[0, s_0] prod_u A[s_(u-1), s_u] b[u, s_u]``,
normalized (the filtered probabilities ``P(state_t | x_0..t)``); ``posterior_nb`` is the
matching backward pass (smoothed probabilities and expected transition counts), used by
the EM step only. No pandas, no config: :mod:`simlab.risk.regime` wraps them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass(frozen=True)
class HmmParams:
    """Two-state Gaussian HMM; state 1 is the high-variance one."""

    pi: np.ndarray  # (2,) initial state probabilities
    transition: np.ndarray  # (2, 2) rows sum to 1
    mean: np.ndarray  # (2,)
    var: np.ndarray  # (2,)
    loglik: float = np.nan
    n_iter: int = 0


def log_density(x: np.ndarray, p: HmmParams) -> np.ndarray:
    """(T, 2) Gaussian log densities; a missing observation is 0 in both states."""
    z = (x[:, None] - p.mean[None, :]) ** 2 / p.var[None, :]
    out = -0.5 * (z + np.log(2 * np.pi * p.var)[None, :])
    return np.where(np.isfinite(x)[:, None], out, 0.0)


@njit(cache=True)
def forward_nb(logb, pi, a):
    """Scaled forward algorithm, two states: (T, 2) filtered probabilities and the log likelihood."""
    n = logb.shape[0]
    alpha = np.empty((n, 2))
    loglik = 0.0
    p0, p1 = pi[0], pi[1]
    for t in range(n):
        if t > 0:
            p0 = alpha[t - 1, 0] * a[0, 0] + alpha[t - 1, 1] * a[1, 0]
            p1 = alpha[t - 1, 0] * a[0, 1] + alpha[t - 1, 1] * a[1, 1]
        m = max(logb[t, 0], logb[t, 1])
        f0 = p0 * np.exp(logb[t, 0] - m)
        f1 = p1 * np.exp(logb[t, 1] - m)
        total = f0 + f1
        alpha[t, 0] = f0 / total
        alpha[t, 1] = f1 / total
        loglik += np.log(total) + m
    return alpha, loglik


@njit(cache=True)
def posterior_nb(logb, alpha, a):
    """Smoothed state probabilities (T, 2) and expected transition counts (2, 2), for EM only."""
    n = logb.shape[0]
    xi = np.zeros((2, 2))
    gamma = np.empty((n, 2))
    c0, c1 = 1.0, 1.0  # beta at t + 1, normalized
    gamma[n - 1, 0] = alpha[n - 1, 0]
    gamma[n - 1, 1] = alpha[n - 1, 1]
    for t in range(n - 2, -1, -1):
        m = max(logb[t + 1, 0], logb[t + 1, 1])
        e0 = np.exp(logb[t + 1, 0] - m) * c0
        e1 = np.exp(logb[t + 1, 1] - m) * c1
        x00 = alpha[t, 0] * a[0, 0] * e0
        x01 = alpha[t, 0] * a[0, 1] * e1
        x10 = alpha[t, 1] * a[1, 0] * e0
        x11 = alpha[t, 1] * a[1, 1] * e1
        norm = x00 + x01 + x10 + x11
        xi[0, 0] += x00 / norm
        xi[0, 1] += x01 / norm
        xi[1, 0] += x10 / norm
        xi[1, 1] += x11 / norm
        gamma[t, 0] = (x00 + x01) / norm
        gamma[t, 1] = (x10 + x11) / norm
        b0 = a[0, 0] * e0 + a[0, 1] * e1
        b1 = a[1, 0] * e0 + a[1, 1] * e1
        c0, c1 = b0 / (b0 + b1), b1 / (b0 + b1)
    return gamma, xi


def _initial_params(x: np.ndarray, seed: int) -> HmmParams:
    obs = x[np.isfinite(x)]
    var = float(np.var(obs)) if len(obs) > 1 else 1e-4
    jitter = np.random.default_rng(seed).uniform(0.8, 1.25, size=2)
    return HmmParams(
        pi=np.array([0.5, 0.5]), transition=np.array([[0.98, 0.02], [0.05, 0.95]]),
        mean=np.full(2, float(np.mean(obs)) if len(obs) else 0.0), var=np.array([0.5, 2.0]) * var * jitter,
    )


def fit_hmm(x: np.ndarray, init: HmmParams | None, max_iter: int = 25, tol: float = 1e-6, seed: int = 0) -> HmmParams:
    """Baum-Welch (EM) fit of a two-state Gaussian HMM to returns ``x`` (T,), NaN = missing.

    Starts from ``init`` (a previous fit) or a seeded start; stops after ``max_iter``
    iterations or when the log likelihood improves by less than ``tol`` relatively. State
    1 is the one with the larger variance. Variances are floored at 1e-3 of the sample's.
    """
    p = init or _initial_params(x, seed)
    obs = np.isfinite(x)
    xo = np.where(obs, x, 0.0)
    floor = 1e-3 * max(float(np.var(x[obs])) if obs.sum() > 1 else 1e-4, 1e-12)
    last = -np.inf
    for it in range(max_iter):
        logb = log_density(x, p)
        alpha, loglik = forward_nb(logb, p.pi, p.transition)
        gamma, xi = posterior_nb(logb, alpha, p.transition)
        g = gamma * obs[:, None]
        weight = np.maximum(g.sum(axis=0), 1e-300)
        mean = (g * xo[:, None]).sum(axis=0) / weight
        var = np.maximum((g * (xo[:, None] - mean) ** 2).sum(axis=0) / weight, floor)
        trans = xi / np.maximum(xi.sum(axis=1, keepdims=True), 1e-300)
        p = HmmParams(gamma[0], trans, mean, var, loglik, it + 1)
        if np.isfinite(last) and loglik - last <= tol * abs(last):
            break
        last = loglik
    return _ordered(p)


def _ordered(p: HmmParams) -> HmmParams:
    if p.var[1] >= p.var[0]:
        return p
    swap = np.array([1, 0])
    return HmmParams(p.pi[swap], p.transition[np.ix_(swap, swap)], p.mean[swap], p.var[swap], p.loglik, p.n_iter)
