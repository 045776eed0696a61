"""The batched ADMM QP solver against cvxpy + Clarabel on random feasible problems.

Every constraint type at once (budget, box, sector caps, two-sided factor bounds) with the
L1 turnover term: the objective within 1e-6 relative of Clarabel's and every constraint
met to 1e-7.
"""

from __future__ import annotations

import numpy as np
import pytest

from simlab.kernels.qp_codes import SOLVED
from simlab.kernels.qp_solve import solve_qp

cp = pytest.importorskip("cvxpy")
pytestmark = pytest.mark.peers

if "CLARABEL" not in cp.installed_solvers():  # pragma: no cover - depends on the install
    pytest.skip("Clarabel is not installed", allow_module_level=True)


def feasible_problem(rng, n, n_groups=4, n_factors=2, daily=False):
    """Random P = A'A + eps I and constraints built around a known feasible point."""
    a = rng.normal(size=(n + 5, n))
    P = a.T @ a / (n + 5) + 1e-4 * np.eye(n)
    if daily:
        P *= 2e-4
    w_feas = rng.dirichlet(np.ones(n))
    lo = np.maximum(w_feas - rng.uniform(0.0, 0.1, n), -0.05)
    hi = w_feas + rng.uniform(0.02, 0.3, n)
    G = np.zeros((n_groups, n))
    G[rng.integers(0, n_groups, n), np.arange(n)] = 1.0
    g = G @ w_feas + rng.uniform(0.0, 0.05, n_groups)
    F = rng.normal(size=(n_factors, n))
    a_f = F @ w_feas - rng.uniform(0.01, 0.2, n_factors)
    b_f = F @ w_feas + rng.uniform(0.01, 0.2, n_factors)
    scale = np.trace(P) / n
    q = -rng.normal(size=n) * scale * rng.choice([0.0, 0.5, 3.0])
    w0 = rng.dirichlet(np.ones(n))
    kappa = scale * rng.choice([0.0, 0.01, 0.1])
    return {"P": P, "q": q, "lo": lo, "hi": hi, "budget": 1.0, "G": G, "g": g, "F": F, "a": a_f, "b": b_f,
            "w0": w0, "kappa": kappa}


def clarabel(p):
    """Clarabel's optimum; the cost is normalized to a unit mean variance first (Clarabel's
    absolute gap tolerance would otherwise swamp objectives of daily variances ~1e-6)."""
    n = len(p["q"])
    s = np.trace(p["P"]) / n
    w = cp.Variable(n)
    objective = (0.5 * cp.quad_form(w, cp.psd_wrap(p["P"] / s)) + (p["q"] / s) @ w
                 + (p["kappa"] / s) * cp.norm1(w - p["w0"]))
    constraints = [cp.sum(w) == p["budget"], w >= p["lo"], w <= p["hi"], p["G"] @ w <= p["g"],
                   p["F"] @ w >= p["a"], p["F"] @ w <= p["b"]]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert problem.status == "optimal"
    return w.value, problem.value * s


def violation(p, w):
    return max(abs(w.sum() - p["budget"]), np.max(p["lo"] - w), np.max(w - p["hi"]), np.max(p["G"] @ w - p["g"]),
               np.max(p["a"] - p["F"] @ w), np.max(p["F"] @ w - p["b"]), 0.0)


@pytest.mark.parametrize("n", [5, 20, 60])
@pytest.mark.parametrize("daily", [False, True])
def test_objective_and_feasibility_match_clarabel(n, daily):
    rng = np.random.default_rng(1000 * n + daily)
    problems = [feasible_problem(rng, n, daily=daily) for _ in range(6)]
    batch = {key: np.stack([p[key] for p in problems]) for key in ("P", "q", "lo", "hi", "g", "a", "b", "w0")}
    batch["kappa"] = np.array([p["kappa"] for p in problems])
    G = np.stack([p["G"] for p in problems])
    F = np.stack([p["F"] for p in problems])
    res = solve_qp(batch.pop("P"), batch.pop("q"), budget=1.0, G=G, F=F, **batch)
    for k, p in enumerate(problems):
        _, ref_obj = clarabel(p)
        assert res.status[k] == SOLVED
        assert violation(p, res.w[k]) < 1e-7
        assert res.objective[k] == pytest.approx(ref_obj, rel=1e-6, abs=1e-12)


def test_min_variance_with_sector_caps_matches_clarabel_weights():
    """The benchmark's problem: long-only, box [0, 0.1], 10 sector caps."""
    rng = np.random.default_rng(7)
    n, T = 100, 252
    loadings = rng.normal(size=(n, 3)) * 0.01
    returns = rng.normal(size=(T, 3)) @ loadings.T + rng.normal(size=(T, n)) * rng.uniform(0.01, 0.03, n)
    cov = np.cov(returns, rowvar=False)
    G = np.zeros((10, n))
    G[np.arange(n) % 10, np.arange(n)] = 1.0
    res = solve_qp(cov, lo=0.0, hi=0.1, G=G, g=0.2)
    p = {"P": cov, "q": np.zeros(n), "lo": np.zeros(n), "hi": np.full(n, 0.1), "budget": 1.0, "G": G,
         "g": np.full(10, 0.2),
             "F": np.zeros((1, n)), "a": np.zeros(1), "b": np.zeros(1), "w0": np.zeros(n), "kappa": 0.0}
    w_ref, ref_obj = clarabel(p)
    assert res.status[0] == SOLVED and violation(p, res.w[0]) < 1e-7
    assert res.objective[0] == pytest.approx(ref_obj, rel=1e-6)
    np.testing.assert_allclose(res.w[0], w_ref, atol=1e-5)
