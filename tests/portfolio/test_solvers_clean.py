"""An accepted solution whose clipping moves the sum off the budget is projected, not rejected."""

from __future__ import annotations

import numpy as np

from simlab.portfolio import solvers


def test_round_off_below_zero_on_many_assets_is_projected():
    n = 400
    problem = solvers.make_problem("utility", np.ones((1, n), bool), cov=np.eye(n)[None], lower=0.0, upper=0.1,
                                   budget=1.0)
    w = np.zeros((1, n))
    w[0, :10] = 0.1 + 2e-8  # the ADMM point: 10 names at the cap, the rest just below zero
    w[0, 10:] = -2e-8 * 10 / (n - 10)
    w[0, 10:200] -= 1e-8
    w[0, 200:] += 1e-8 * 190 / 200
    assert abs(w.sum() - 1.0) < 1e-12
    assert abs(np.clip(w, 0.0, 0.1).sum() - 1.0) > solvers.TOL  # plain clipping would be rejected
    rows = np.array([0])
    out = solvers._clean(w, problem, rows)
    assert solvers.check_weights(out, problem, rows).all()
    assert np.abs(out - w).max() < 1e-6


def test_clipping_that_keeps_the_budget_is_unchanged():
    n = 5
    problem = solvers.make_problem("utility", np.ones((1, n), bool), cov=np.eye(n)[None], lower=0.0, upper=1.0)
    w = np.array([[0.5, 0.5 + 1e-12, -1e-12, 0.0, 0.0]])
    assert np.array_equal(solvers._clean(w, problem, np.array([0])), np.clip(w, 0.0, 1.0))
