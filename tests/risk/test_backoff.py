"""The backoff curve at its breakpoints, and its factors for groups and drivers."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ConfigError
from simlab.risk.backoff import DEFAULT_BREAKPOINTS, BackoffCurve, check_breakpoints, driver_factor, group_factor

CURVE = BackoffCurve.from_pairs(DEFAULT_BREAKPOINTS)
EPS = 1e-6


@pytest.mark.parametrize("u, f", DEFAULT_BREAKPOINTS)
def test_each_breakpoint_exactly_at_just_below_and_just_above(u, f):
    xs, ys = np.array([p[0] for p in DEFAULT_BREAKPOINTS]), np.array([p[1] for p in DEFAULT_BREAKPOINTS])
    i = list(xs).index(u)
    slope_left = 0.0 if i == 0 else (ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1])
    slope_right = 0.0 if i == len(xs) - 1 else (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    assert CURVE(u) == pytest.approx(f, abs=1e-15)
    assert CURVE(u - EPS) == pytest.approx(f - slope_left * EPS, abs=1e-12)
    assert CURVE(u + EPS) == pytest.approx(f + slope_right * EPS, abs=1e-12)
    # continuous: the two sides meet at the breakpoint
    assert abs(CURVE(u - 1e-12) - CURVE(u + 1e-12)) < 1e-10


def test_default_curve_values_between_and_beyond():
    got = CURVE([0.0, 0.5, 0.7, 0.75, 0.85, 0.925, 0.975, 1.0, 1.5, 10.0, np.inf])
    np.testing.assert_allclose(got, [1, 1, 1, 0.95, 0.8, 0.6, 0.375, 0.25, 0.25, 0.25, 0.25])
    assert CURVE(np.nan) == 1.0  # undefined utilization leaves positions alone
    assert CURVE.start == 0.7


@pytest.mark.parametrize("pairs, match", [
    ([], "at least one"),
    ([[0.8, 1.0], [0.7, 0.5]], "strictly increasing"),
    ([[0.7, 1.0], [0.7, 0.5]], "strictly increasing"),
    ([[0.7, 1.0], [0.8, 1.2]], r"in \(0, 1\]"),
    ([[0.7, 0.5], [0.8, 0.9]], "must not rise"),
    ([[-0.1, 1.0]], ">= 0"),
    ([[0.7, 0.0]], r"in \(0, 1\]"),
    ([[0.7]], "pairs"),
    ("steep", "pairs"),
])
def test_bad_breakpoints_are_config_errors(pairs, match):
    with pytest.raises(ConfigError, match=match):
        check_breakpoints(pairs)


def test_group_and_driver_factors():
    util = np.array([[0.5, 0.9]])  # two groups
    members = np.array([[0, 1, 1, -1]])
    np.testing.assert_allclose(group_factor(CURVE, util, members), [[1.0, 0.7, 0.7, 1.0]])
    drivers = np.array([[True, False, True]])
    np.testing.assert_allclose(driver_factor(CURVE, np.array([0.95]), drivers), [[0.5, 1.0, 0.5]])
