"""Properties of the batched QP solver on hypothesis-drawn problems.

P is drawn as ``A'A + eps I``; boxes, budgets, caps and factor bounds are built around a
drawn feasible point, so every problem is feasible: then the solver must say solved, meet
every constraint to 1e-7 and match Clarabel's objective to 1e-6. Drawn bounds that may be
infeasible must give a status, never a NaN.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.kernels.qp_codes import SOLVED, STATUS_NAMES
from simlab.kernels.qp_solve import ADMMSettings, solve_qp

cp = pytest.importorskip("cvxpy")

PROPS = settings(max_examples=30, deadline=None)
# A drawn problem can be degenerate (a vertex with more active rows than free weights, rows
# of width 1e-3): ADMM then needs more than the default 4000 iterations to certify it.
PATIENT = ADMMSettings(max_iter=50_000)


@st.composite
def feasible_problems(draw):
    n = draw(st.integers(2, 15))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    eps = draw(st.sampled_from([1e-6, 1e-3, 1e-1]))
    a = rng.normal(size=(draw(st.integers(1, 2 * n)), n))
    P = a.T @ a / a.shape[0] + eps * np.eye(n)
    w_feas = rng.dirichlet(np.ones(n)) * draw(st.sampled_from([0.5, 1.0]))
    slack = draw(st.sampled_from([0.0, 0.01, 0.2]))
    p = {"P": P, "q": -rng.normal(size=n) * draw(st.sampled_from([0.0, 0.1, 1.0])),
             "lo": w_feas - rng.uniform(0.0, 0.1, n), "hi": w_feas + slack + rng.uniform(0.0, 0.1, n),
             "budget": w_feas.sum(), "w0": rng.dirichlet(np.ones(n)), "kappa": draw(st.sampled_from([0.0, 0.01, 0.3]))}
    if draw(st.booleans()):
        G = (rng.integers(0, 3, n)[None, :] == np.arange(3)[:, None]).astype(float)
        p.update(G=G, g=G @ w_feas + slack)
    if draw(st.booleans()):
        F = rng.normal(size=(2, n))
        p.update(F=F, a=F @ w_feas - slack - 1e-3, b=F @ w_feas + slack + 1e-3)
    return p


def _violation(p, w):
    worst = max(abs(w.sum() - p["budget"]), np.max(p["lo"] - w), np.max(w - p["hi"]), 0.0)
    if "G" in p:
        worst = max(worst, np.max(p["G"] @ w - p["g"]))
    if "F" in p:
        worst = max(worst, np.max(p["a"] - p["F"] @ w), np.max(p["F"] @ w - p["b"]))
    return worst


def _clarabel_objective(p):
    n, s = len(p["q"]), np.trace(p["P"]) / len(p["q"])
    w = cp.Variable(n)
    cons = [cp.sum(w) == p["budget"], w >= p["lo"], w <= p["hi"]]
    if "G" in p:
        cons.append(p["G"] @ w <= p["g"])
    if "F" in p:
        cons += [p["F"] @ w >= p["a"], p["F"] @ w <= p["b"]]
    obj = 0.5 * cp.quad_form(w, cp.psd_wrap(p["P"] / s)) + (p["q"] / s) @ w + p["kappa"] / s * cp.norm1(w - p["w0"])
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return prob.value * s


@PROPS
@given(p=feasible_problems())
def test_feasible_problems_are_solved_to_clarabel_accuracy(p):
    res = solve_qp(**p, settings=PATIENT)
    assert STATUS_NAMES[res.status[0]] == "solved"
    assert _violation(p, res.w[0]) < 1e-7
    assert res.objective[0] == pytest.approx(_clarabel_objective(p), rel=1e-6, abs=1e-9)


@PROPS
@given(p=feasible_problems(), shift=st.floats(-0.5, 0.5))
def test_any_bounds_give_a_status_and_finite_weights(p, shift):
    p = dict(p, lo=p["lo"] + shift, budget=p["budget"] + shift)  # may or may not stay feasible
    res = solve_qp(**p)
    assert 0 <= res.status[0] < len(STATUS_NAMES)
    assert np.all(np.isfinite(res.w)) and np.all(np.isfinite(res.state.y))
    if res.status[0] == SOLVED:
        assert _violation(p, res.w[0]) < 1e-6


@PROPS
@given(p=feasible_problems())
def test_a_warm_start_from_the_solution_changes_nothing(p):
    first = solve_qp(**p, settings=PATIENT)
    again = solve_qp(**p, state=first.state, settings=PATIENT)
    assert again.status[0] == SOLVED and again.iterations[0] <= first.iterations[0]
    assert _violation(p, again.w[0]) < 1e-7  # (w itself need not be unique: P may be singular)
    assert again.objective[0] == pytest.approx(first.objective[0], rel=1e-7, abs=1e-12)
