"""The design documents' allocation rules, as written: each one quoted and worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.config import registry
from simlab.portfolio.allocators_opt import MeanVariance
from simlab.testing import component_checks
from simlab.testing.builders import context_with_features, daily_cov, make_context

nan = np.nan


def build(**fields):
    return registry.build("step", registry.resolve("step", fields, "pipeline[0]"))


def test_equal_weight_over_signals_above_a_threshold():
    """"equal weight over signals above a threshold": strictly above; none above is all cash."""
    signal = np.array([[0.5, -0.1, 0.2, 0.0, nan], [-1.0, -2.0, -0.5, -0.1, nan]])
    step = build(type="equal_weight_above", threshold=0.0)
    w, diag = step(np.zeros((2, 5)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0.5, 0.0, 0.5, 0.0, 0.0], [0.0] * 5])
    np.testing.assert_array_equal(diag["all_cash"], [False, True])
    w, _ = build(type="equal_weight_above", threshold=-0.6)(np.zeros((2, 5)), make_context(signal=signal))
    np.testing.assert_allclose(w[1], [0.0, 0.0, 0.5, 0.5, 0.0])
    w, diag = build(type="equal_weight_above", threshold=-1.0, max_names=1)(np.zeros((2, 5)),
                                                                             make_context(signal=signal))
    np.testing.assert_allclose(w, [[1.0, 0, 0, 0, 0], [0, 0, 0, 1.0, 0]])
    np.testing.assert_array_equal(diag["n_above"], [4, 2])


def test_volatility_dependent_cash_buffer():
    """"a volatility-dependent cash buffer": 5% at 15% volatility, +1 point per 2 points of volatility.

    Two uncorrelated names at 50/50 with daily variance s2: annual book variance
    252 * 0.5 * s2. At 25% volatility the buffer is 0.05 + 0.5 * 0.10 = 10%: scale 0.9.
    """
    s2 = 0.25 ** 2 / (252 * 0.5)
    w = np.array([[0.5, 0.5], [0.3, 0.3]])
    cov = np.broadcast_to(np.eye(2) * s2, (2, 2, 2))
    ctx = context_with_features({"covariance": cov}, weights=w)
    out, diag = build(type="volatility_cash_buffer")(w, ctx)
    np.testing.assert_allclose(diag["volatility"], [0.25, 0.25 * 0.6])
    np.testing.assert_allclose(diag["buffer"], [0.10, 0.05 + 0.5 * (0.15 - 0.15)])
    np.testing.assert_allclose(out, [[0.45, 0.45], [0.3, 0.3]])  # 60% invested already holds 40% cash
    calm = context_with_features({"covariance": cov / 100}, weights=w)
    _, diag = build(type="volatility_cash_buffer")(w, calm)
    assert diag["volatility"][0] == pytest.approx(0.025)
    assert diag["buffer"][0] == 0.0  # 0.05 + 0.5 * (0.025 - 0.15) < 0, clipped at min_buffer
    unknown = context_with_features({"covariance": np.full((2, 2, 2), nan)}, weights=w)
    _, diag = build(type="volatility_cash_buffer")(w, unknown)
    assert diag["vol_missing"].all() and (diag["buffer"] == 0.05).all()


def markowitz(target, max_weight=1.0):
    cov = np.diag([0.01, 0.04]) / 252
    mean = np.array([[0.05, 0.15]]) / 252
    ctx = context_with_features({"cov": cov[None], "mean": mean}, n_assets=2)
    return MeanVariance(objective="target_return", target_return=target, max_weight=max_weight)(
        np.zeros((1, 2)), ctx)


def test_markowitz_with_a_target_return_by_hand():
    """"Markowitz with a target-return constraint": minimum variance subject to mu'w >= target.

    mu = (5%, 15%), variances (1%, 4%), uncorrelated: the minimum-variance book is (0.8, 0.2)
    earning 7%. A 10% target binds: 0.05 + 0.10 w2 = 0.10, w2 = 0.5. A 5% target does not.
    """
    w, diag = markowitz(0.10)
    np.testing.assert_allclose(w, [[0.5, 0.5]], atol=1e-6)
    assert diag["fallback_level"][0] == 0
    w, _ = markowitz(0.05)
    np.testing.assert_allclose(w, [[0.8, 0.2]], atol=1e-6)
    w, diag = markowitz(0.20)  # beyond the best asset: infeasible, the fallback chain answers
    assert diag["fallback_level"][0] > 0 and np.isfinite(w).all()


def test_markowitz_target_return_matches_pyportfolioopt():
    pypfopt = pytest.importorskip("pypfopt")
    cov = daily_cov(5, 4) * 252
    mu = np.array([0.04, 0.08, 0.12, 0.06, 0.10])
    ctx = context_with_features({"cov": cov[None] / 252, "mean": mu[None] / 252}, n_assets=5)
    w, _ = MeanVariance(objective="target_return", target_return=0.09, max_weight=0.5)(np.zeros((1, 5)), ctx)
    ef = pypfopt.EfficientFrontier(pd.Series(mu), pd.DataFrame(cov), weight_bounds=(0, 0.5))
    ref = pd.Series(ef.efficient_return(0.09)).to_numpy()
    np.testing.assert_allclose(w[0], ref, atol=1e-4)
    assert mu @ w[0] == pytest.approx(0.09, abs=1e-6)


@pytest.mark.parametrize(("key", "params"), [
    ("mean_variance", {"objective": "target_return", "target_return": 0.05}),
    ("vol_target_size", {"rules": "as_written"}),
    ("equal_weight_above", {"threshold": 0.0}),
])
def test_new_rules_conform(key, params):
    cls = registry.registry("step")[key]
    for _, check in component_checks("step", cls, key, params):
        check()
