"""The active-set solver of box- and budget-constrained QPs with a turnover term, against
cvxpy/Clarabel on random problems, and its place in ``min_variance``'s solver chain."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.kernels.active_set import active_set_nb
from simlab.portfolio import solvers
from simlab.portfolio.problem import make_problem

cp = pytest.importorskip("cvxpy")


def shrunk_cov(n, t, rng):
    x = rng.normal(size=(t, n)) @ rng.normal(size=(n, n)) * 0.02 / np.sqrt(n) + rng.normal(size=(t, n)) * 0.01
    s = np.cov(x.T) * 252
    return 0.8 * s + 0.2 * np.trace(s) / n * np.eye(n)


def reference(cov, ra, mu, lo, hi, budget, w0, kappa):
    """Clarabel at tight tolerances."""
    w = cp.Variable(len(lo))
    objective = 0.5 * ra * cp.quad_form(w, cp.psd_wrap(cov)) - mu @ w + kappa * cp.norm1(w - w0)
    prob = cp.Problem(cp.Minimize(objective), [cp.sum(w) == budget, w >= lo, w <= hi])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return w.value, prob.value


def objective(cov, ra, mu, w, w0, kappa):
    return 0.5 * ra * w @ cov @ w - mu @ w + kappa * np.abs(w - w0).sum()


CASES = [  # n, cap, kappa, risk aversion, budget, book
    (5, 1.0, 0.0, 1.0, 1.0, "cash"),
    (8, 0.3, 0.01, 2.0, 1.0, "feasible"),
    (30, 0.1, 0.001, 2.0, 1.0, "feasible"),
    (30, 0.1, 0.001, 5.0, 0.9, "off_budget"),
    (60, 0.05, 0.002, 2.0, 1.0, "outside_box"),
    (60, 0.2, 0.05, 1.0, 1.0, "feasible"),
    (120, 0.1, 0.001, 2.0, 1.0, "cash"),
    (40, 0.1, 0.0005, 3.0, 0.95, "with_mu"),
]


@pytest.mark.parametrize("n,cap,kappa,ra,budget,book", CASES)
def test_active_set_matches_clarabel(n, cap, kappa, ra, budget, book):
    rng = np.random.default_rng(n + int(1000 * kappa))
    cov = shrunk_cov(n, 3 * n + 20, rng)
    lo, hi = np.zeros(n), np.full(n, cap)
    lo[0], hi[1] = 0.01, 0.0  # a floor, and an asset that cannot be held
    mu = rng.normal(0, 0.05, n) if book == "with_mu" else np.zeros(n)
    w0 = np.zeros(n)
    if book != "cash":
        held = rng.choice(np.arange(2, n), size=min(n - 2, int(1.5 / cap) + 2), replace=False)
        w0[held] = rng.uniform(0.5, 1.0, len(held))
        w0 *= budget / w0.sum()
        w0 = np.minimum(w0, hi)
        if book == "off_budget":
            w0 *= 1.07
        if book == "outside_box":
            w0[held[0]] = 2 * cap
    w, status, steps = active_set_nb(cov[None], np.array([ra]), -mu[None], lo[None], hi[None], np.array([budget]),
                                     w0[None], np.array([kappa]), 2000, 1e-10)
    assert status[0] == 0, steps
    w = w[0]
    assert abs(w.sum() - budget) < 1e-12 and (w >= lo).all() and (w <= hi).all()
    w_ref, _ = reference(cov, ra, mu, lo, hi, budget, w0, kappa)
    f, f_ref = objective(cov, ra, mu, w, w0, kappa), objective(cov, ra, mu, w_ref, w0, kappa)
    assert f <= f_ref + 1e-10 * abs(f_ref)  # never worse than Clarabel at tight tolerances
    np.testing.assert_allclose(w, w_ref, atol=2e-6)


def test_active_set_weights_sit_exactly_on_the_breakpoints():
    """Assets that do not trade keep their weight to the bit; unheld ones are exactly zero."""
    rng = np.random.default_rng(3)
    n = 50
    cov = shrunk_cov(n, 200, rng)
    lo, hi = np.zeros(n), np.full(n, 0.1)
    first, _, _ = active_set_nb(cov[None], np.array([2.0]), np.zeros((1, n)), lo[None], hi[None], np.ones(1),
                                np.zeros((1, n)), np.array([0.001]), 2000, 1e-10)
    w0 = first[0]
    cov2 = 0.99 * cov + 0.01 * shrunk_cov(n, 200, rng)  # the next day's estimate
    w, status, _ = active_set_nb(cov2[None], np.array([2.0]), np.zeros((1, n)), lo[None], hi[None], np.ones(1),
                                 w0[None], np.array([0.001]), 2000, 1e-10)
    w = w[0]
    assert status[0] == 0
    on_kink = np.abs(w - w0) < 1e-9
    assert on_kink.sum() > n // 2 and (w[on_kink] == w0[on_kink]).all()
    assert ((w == 0.0) | (w > 1e-9)).all()
    w_ref, _ = reference(cov2, 2.0, np.zeros(n), lo, hi, 1.0, w0, 0.001)
    np.testing.assert_allclose(w, w_ref, atol=2e-6)


def test_active_set_reports_an_indefinite_problem_and_the_chain_moves_on():
    cov = np.array([[[1.0, -2.0], [-2.0, 1.0]]])  # not positive definite: the free block fails its Cholesky
    p = make_problem("utility", np.ones((1, 2), dtype=bool), cov=cov, upper=1.0, w0=np.zeros((1, 2)))
    w, status = solvers.ACTIVE_SET.solve(p, np.arange(1))
    assert status[0] == solvers.FAILED and np.isnan(w).all()
    res = solvers.solve(p, None, np.zeros((1, 2)), (solvers.ACTIVE_SET, solvers.NATIVE))
    assert res.diagnostics["attempt.active_set"][0] == solvers.FAILED
    assert res.diagnostics["attempt.native"][0] != solvers.NOT_TRIED


def test_active_set_covers_plain_utility_problems_only():
    p = make_problem("utility", np.ones((1, 3), dtype=bool), cov=np.eye(3)[None], gross=1.5, lower=-0.5)
    assert not solvers.ACTIVE_SET.covers(p)
    assert solvers.ACTIVE_SET.covers(make_problem("utility", np.ones((1, 3), dtype=bool), cov=np.eye(3)[None]))
    assert not solvers.ACTIVE_SET.covers(make_problem("max_sharpe", np.ones((1, 3), dtype=bool), cov=np.eye(3)[None]))


def test_min_variance_active_set_matches_the_admm_chain_end_to_end():
    import simlab
    from simlab.data import generate_market
    from simlab.lab import run as lab_run

    md = generate_market(40, 420, seed=11)

    def run(solver):
        cfg = {"name": f"mv_{solver}", "data": {"source": "synthetic", "benchmark": None,
                                                "start": str(md.dates[300].date())},
               "schedule": {"frequency": "daily"}, "execution": {"lag": 1}, "costs": {"type": "flat", "bps": 5},
               "pipeline": [{"type": "min_variance", "estimator": "ledoit_wolf", "window": 252, "max_weight": 0.1,
                             "turnover_penalty": 0.001, "solver": solver}]}
        original = lab_run.load
        lab_run.load = lambda *a, **k: md
        try:
            return simlab.run(cfg)
        finally:
            lab_run.load = original

    fast, admm = run("active_set"), run("native")
    solved = fast.diagnostics.query("key == 'attempt.active_set'").value
    assert len(solved) > 100 and (solved == solvers.SOLVED).all()
    assert np.abs(fast.weights.to_numpy() - admm.weights.to_numpy()).max() < 1e-5
