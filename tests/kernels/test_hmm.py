"""HMM kernels: the forward filter against a brute-force sum over state paths, the EM fit."""

from __future__ import annotations

import itertools

import numpy as np

from simlab.kernels.hmm import HmmParams, fit_hmm, forward_nb, log_density


def brute_force_filter(x, p: HmmParams):
    """P(state_t | x_0..t) by summing over every state path (tiny T only)."""
    b = np.exp(log_density(x, p))
    out = np.zeros((len(x), 2))
    for t in range(len(x)):
        for path in itertools.product([0, 1], repeat=t + 1):
            pr = p.pi[path[0]] * b[0, path[0]]
            for s in range(1, t + 1):
                pr *= p.transition[path[s - 1], path[s]] * b[s, path[s]]
            out[t, path[t]] += pr
    return out / out.sum(axis=1, keepdims=True)


def test_forward_filter_equals_brute_force_and_skips_missing_days():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.01, 9)
    x[4] = np.nan
    p = HmmParams(np.array([0.6, 0.4]), np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0.0, -0.001]),
                  np.array([5e-5, 4e-4]))
    alpha, loglik = forward_nb(log_density(x, p), p.pi, p.transition)
    np.testing.assert_allclose(alpha, brute_force_filter(x, p), rtol=1e-10)
    assert np.isfinite(loglik)


def test_em_finds_the_high_variance_state_and_does_not_lose_likelihood():
    n = 1500
    states = (np.arange(n) // 150) % 2 == 1  # alternating calm / stress blocks
    rng = np.random.default_rng(5)
    x = rng.normal(0, np.where(states, 0.03, 0.008))
    one = fit_hmm(x, None, max_iter=1)
    fit = fit_hmm(x, None, max_iter=50, tol=1e-10)
    assert fit.loglik >= one.loglik
    assert fit.var[1] > fit.var[0]
    np.testing.assert_allclose(np.sqrt(fit.var), [0.008, 0.03], rtol=0.15)
    alpha, _ = forward_nb(log_density(x, fit), fit.pi, fit.transition)
    assert ((alpha[:, 1] > 0.5) == states).mean() > 0.9
