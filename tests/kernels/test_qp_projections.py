"""The projections and proximal maps the QP solver uses, against brute-force numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.kernels.projections import (
    clip_nb,
    project_box_budget_nb,
    project_l1_ball_nb,
    prox_box_l1_nb,
)

FAST = settings(max_examples=60, deadline=None)
finite = st.floats(-3.0, 3.0, allow_nan=False)


@FAST
@given(v=finite, center=finite, lo=finite, width=st.floats(0.0, 3.0), t=st.floats(0.0, 2.0))
def test_prox_box_l1_minimizes_on_a_grid(v, center, lo, width, t):
    hi = lo + width
    x = prox_box_l1_nb(v, center, lo, hi, t)
    grid = np.linspace(lo, hi, 4001)
    f = t * np.abs(grid - center) + 0.5 * (grid - v) ** 2
    fx = t * abs(x - center) + 0.5 * (x - v) ** 2
    assert lo <= x <= hi
    assert fx <= f.min() + 1e-12
    if t == 0.0:
        assert x == np.clip(v, lo, hi) == clip_nb(v, lo, hi)


def _box_budget_reference(v, lo, hi, budget):
    """Bisection on tau with numpy, to 1e-14."""
    a, b = np.min(v - hi), np.max(v - lo)
    for _ in range(200):
        mid = 0.5 * (a + b)
        if np.clip(v - mid, lo, hi).sum() >= budget:
            a = mid
        else:
            b = mid
    return np.clip(v - 0.5 * (a + b), lo, hi)


@FAST
@given(seed=st.integers(0, 2**31), n=st.integers(1, 12))
def test_project_box_budget_is_the_euclidean_projection(seed, n):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=n)
    lo = rng.uniform(-0.5, 0.1, n)
    hi = lo + rng.uniform(0.0, 1.0, n)
    budget = rng.uniform(lo.sum(), hi.sum())
    out = np.empty(n)
    assert project_box_budget_nb(v, lo, hi, budget, out)
    np.testing.assert_allclose(out, _box_budget_reference(v, lo, hi, budget), atol=1e-10)
    assert out.sum() == pytest.approx(budget, abs=1e-10)
    # optimality: no feasible direction inside the set reduces the distance
    other = _box_budget_reference(rng.normal(size=n), lo, hi, budget)
    assert np.sum((out - v) ** 2) <= np.sum((other - v) ** 2) + 1e-12


def test_project_box_budget_reports_an_empty_set():
    out = np.empty(3)
    assert not project_box_budget_nb(np.zeros(3), np.zeros(3), np.full(3, 0.2), 1.0, out)
    np.testing.assert_array_equal(out, 0.0)


@FAST
@given(seed=st.integers(0, 2**31), n=st.integers(1, 10), radius=st.floats(0.0, 2.0))
def test_project_l1_ball_matches_the_sorting_reference(seed, n, radius):
    rng = np.random.default_rng(seed)
    v, center = rng.normal(size=n), rng.normal(size=n)
    out = np.empty(n)
    project_l1_ball_nb(v, center, radius, out)
    d = v - center
    if np.abs(d).sum() <= radius:
        np.testing.assert_array_equal(out, v)
        return
    # the projection is a soft threshold of d at the theta that meets the radius exactly
    lo_t, hi_t = 0.0, np.abs(d).max()
    for _ in range(200):
        mid = 0.5 * (lo_t + hi_t)
        lo_t, hi_t = (mid, hi_t) if np.maximum(np.abs(d) - mid, 0).sum() > radius else (lo_t, mid)
    ref = center + np.sign(d) * np.maximum(np.abs(d) - 0.5 * (lo_t + hi_t), 0.0)
    np.testing.assert_allclose(out, ref, atol=1e-9)
    assert np.abs(out - center).sum() == pytest.approx(radius, abs=1e-9)
