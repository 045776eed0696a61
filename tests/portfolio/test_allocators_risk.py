"""Phase-2 allocator Steps and the Features they read (volatility, mean return)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from simlab.config import registry
from simlab.errors import ConfigError
from simlab.features.base import FeatureInputs
from simlab.features.covariance import Covariance
from simlab.features.returns import MeanReturn, mean_return, trailing_moments
from simlab.features.volatility import Volatility, volatility
from simlab.portfolio import optimize
from simlab.portfolio.allocators_risk import (
    HierarchicalRiskParity,
    InverseVolatility,
    MinVariance,
    RiskAdjustedSignal,
    RiskParity,
)
from simlab.contract.step import HOLD
from simlab.testing.builders import context_with_features as ctx_with
from simlab.testing.builders import daily_cov

nan = np.nan



def stack(*covs):
    return np.stack(covs)


# --------------------------------------------------------------------------- features


def inputs_from(returns: np.ndarray) -> FeatureInputs:
    t, n = returns.shape
    return FeatureInputs(dates=pd.bdate_range("2020-01-01", periods=t), assets=tuple(f"A{i}" for i in range(n)),
                         close=np.ones((t, n)), returns=returns, volume=None, benchmark=None, macro={}, meta=None)


def test_volatility_feature_matches_pandas_rolling_and_ewm():
    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.01, (200, 3))
    r[:30, 2] = nan  # listed late
    r[150, 1] = nan  # a missing day
    rows = np.array([40, 100, 199])
    frame = pd.DataFrame(r)
    got = Volatility(window=60).compute(inputs_from(r), rows)
    want = frame.rolling(60, min_periods=60).std().to_numpy()[rows]
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    got = Volatility(window=60, halflife=10, min_periods=20).compute(inputs_from(r), rows)
    for i, t in enumerate(rows):
        want = frame.iloc[max(t - 59, 0) : t + 1].ewm(halflife=10, min_periods=20).std().to_numpy()[-1]
        np.testing.assert_allclose(got[i], want, rtol=1e-10, equal_nan=True)


def test_mean_return_feature_and_functions():
    rng = np.random.default_rng(2)
    r = rng.normal(0.001, 0.01, (120, 2))
    got = MeanReturn(window=50).compute(inputs_from(r), np.array([49, 119]))
    np.testing.assert_allclose(got, pd.DataFrame(r).rolling(50).mean().to_numpy()[[49, 119]], rtol=1e-12)
    assert np.isnan(MeanReturn(window=50).compute(inputs_from(r), np.array([48]))).all()  # 49 returns < 50
    frame = pd.DataFrame(r, columns=["a", "b"])
    np.testing.assert_allclose(mean_return(frame, 30), frame.iloc[-30:].mean(), rtol=1e-12)
    np.testing.assert_allclose(volatility(frame, 30), frame.iloc[-30:].std(), rtol=1e-12)


def test_features_are_point_in_time():
    rng = np.random.default_rng(3)
    r = rng.normal(0, 0.01, (100, 2))
    later = r.copy()
    later[61:] *= 50.0
    for feature in (Volatility(window=20), Volatility(window=20, halflife=5), MeanReturn(window=30)):
        a = feature.compute(inputs_from(r), np.array([30, 60]))
        b = feature.compute(inputs_from(later), np.array([30, 60]))
        np.testing.assert_array_equal(a, b)


def test_feature_arguments_are_checked():
    with pytest.raises(ValueError, match="min_periods must be in"):
        Volatility(window=10, min_periods=20)
    with pytest.raises(ValueError, match="halflife must be > 0"):
        MeanReturn(halflife=0.0)
    _, var, count = trailing_moments(np.array([[0.01], [0.02]]), np.array([1]), window=1)
    assert np.isnan(var[0, 0]) and count[0, 0] == 1  # one return: no variance


# --------------------------------------------------------------------------- inverse volatility


def test_inverse_volatility_weights_and_cap():
    vol = np.array([[0.01, 0.02, 0.04, nan]])
    w, diag = InverseVolatility()(np.zeros((1, 4)), ctx_with({"vol": vol}, n_assets=4))
    np.testing.assert_allclose(w, [[4 / 7, 2 / 7, 1 / 7, 0.0]])
    assert diag["n_without_vol"][0] == 1
    w, diag = InverseVolatility(max_weight=0.5, cash_buffer=0.1)(np.zeros((1, 4)), ctx_with({"vol": vol}, n_assets=4))
    np.testing.assert_allclose(w, [[0.5, 0.4 * 2 / 3, 0.4 / 3, 0.0]])
    assert abs(diag["cash"][0] - 0.1) < 1e-12


def test_inverse_volatility_untradeable_and_per_scenario_caps():
    vol = np.array([[0.01, 0.02, 0.04]] * 2)
    ctx = ctx_with({"vol": vol}, tradeable=np.array([True, False, True]), n_scenarios=2)
    w, _ = InverseVolatility(max_weight=np.array([1.0, 0.6]))(np.zeros((2, 3)), ctx)
    np.testing.assert_allclose(w, [[0.8, 0.0, 0.2], [0.6, 0.0, 0.4]])


def test_inverse_volatility_declares_one_volatility_per_scenario():
    step = InverseVolatility(window=np.array([20.0, 60.0]), halflife=np.array([nan, 10.0]))
    feats = step.features(2)["vol"]
    assert feats == [Volatility(window=20, halflife=None), Volatility(window=60, halflife=10.0)]


# --------------------------------------------------------------------------- risk-adjusted signal


def test_risk_adjusted_signal_ranks_by_signal_over_vol():
    signal = np.array([[0.4, 0.3, 0.2, 0.5, -0.1]])
    vol = np.array([[0.02, 0.01, 0.01, 0.05, 0.01]]) / np.sqrt(252)
    ctx = ctx_with({"vol": vol}, signal=signal)
    w, diag = RiskAdjustedSignal(top_n=2)(np.zeros((1, 5)), ctx)
    score = signal / (vol * np.sqrt(252))  # 20, 30, 20, 10, -10: top two are asset 1, then 0 (tie, asset order)
    np.testing.assert_allclose(w, [[score[0, 0] / (score[0, 0] + score[0, 1]), score[0, 1] / (score[0, 0] + score[0, 1]),
                                    0, 0, 0]])
    assert diag["n_scored"][0] == 4


def test_risk_adjusted_signal_threshold_is_on_the_signal():
    signal = np.array([[0.4, 0.3, 0.2]])
    vol = np.array([[0.02, 0.001, 0.001]])
    w, _ = RiskAdjustedSignal(threshold=0.35)(np.zeros((1, 3)), ctx_with({"vol": vol}, signal=signal))
    np.testing.assert_allclose(w, [[1.0, 0.0, 0.0]])


def test_risk_adjusted_signal_all_nan_is_all_cash():
    signal = np.full((2, 3), nan)
    w, diag = RiskAdjustedSignal()(np.zeros((2, 3)), ctx_with({"vol": np.full((2, 3), 0.01)}, signal=signal))
    np.testing.assert_array_equal(w, 0.0)
    np.testing.assert_array_equal(diag["n_scored"], [0, 0])
    np.testing.assert_array_equal(diag["cash"], [1.0, 1.0])


# --------------------------------------------------------------------------- risk parity and HRP


def test_risk_parity_step_equal_contributions_and_masking():
    cov = daily_cov(5, 1)
    cov_nan = cov.copy()
    cov_nan[3, :] = cov_nan[:, 3] = nan  # no history yet
    ctx = ctx_with({"cov": stack(cov, cov_nan)}, tradeable=np.array([True, True, True, True, False]), n_scenarios=2)
    w, diag = RiskParity(cash_buffer=0.2)(np.zeros((2, 5)), ctx)
    np.testing.assert_array_equal(w[:, 4], 0.0)
    assert w[1, 3] == 0.0
    np.testing.assert_allclose(w.sum(axis=1), 0.8, atol=1e-12)
    rc = optimize.risk_contributions(w[0, :4], cov[:4, :4])
    np.testing.assert_allclose(rc, 0.25, atol=1e-6)
    np.testing.assert_array_equal(diag["attempt.newton"], [1, 1])
    np.testing.assert_array_equal(diag["fallback_level"], [0, 0])


def test_risk_parity_nothing_usable_holds_the_book():
    cov = np.full((1, 3, 3), nan)
    current = np.array([[0.2, 0.3, 0.0]])
    w, diag = RiskParity()(np.zeros((1, 3)), ctx_with({"cov": cov}, weights=current))
    np.testing.assert_array_equal(w, current)
    assert diag[HOLD][0] and diag["fallback_level"][0] == 2 and diag["attempt.newton"][0] == 0


def test_hrp_step_matches_the_functional_form():
    cov = daily_cov(6, 2)
    ctx = ctx_with({"cov": cov[None]}, n_assets=6)
    w, diag = HierarchicalRiskParity(linkage="single", cash_buffer=0.1)(np.zeros((1, 6)), ctx)
    ref = optimize.hrp_weights(cov * 252, "single", True)
    np.testing.assert_allclose(w[0], 0.9 * ref, atol=1e-12)
    assert diag["attempt.hrp"][0] == 1


def test_covariance_steps_declare_their_estimator():
    feats = RiskParity(estimator="ewma", window=np.array([126.0, 252.0]), halflife=30.0).features(2)["cov"]
    assert feats == [Covariance(estimator="ewma", window=126, halflife=30.0),
                     Covariance(estimator="ewma", window=252, halflife=30.0)]


# --------------------------------------------------------------------------- min variance


def test_min_variance_step_bounds_turnover_and_diagnostics():
    cov = daily_cov(5, 3)
    ctx = ctx_with({"cov": stack(cov, cov)}, n_scenarios=2, weights=np.full((2, 5), 0.2))
    step = MinVariance(max_weight=0.3, cash_buffer=np.array([0.0, 0.1]), turnover_penalty=np.array([0.0, 1.0]))
    w, diag = step(np.zeros((2, 5)), ctx)
    np.testing.assert_allclose(w.sum(axis=1), [1.0, 0.9], atol=1e-6)
    assert (w <= 0.3 + 1e-6).all() and (w >= -1e-9).all()
    np.testing.assert_array_equal(diag["fallback_level"], [0, 0])
    assert diag["attempt.native"][0] in (1, 2, 7) and diag["n_active"].tolist() == [5, 5]
    free, _ = optimize.min_variance(pd.DataFrame(cov * 252), bounds=(0, 0.3)), None
    np.testing.assert_allclose(w[0], free, atol=1e-4)


def test_min_variance_asset_bounds_by_name():
    cov = daily_cov(4, 5)
    step = MinVariance(max_weight=1.0, asset_bounds={"A0": (0.4, 0.5)})
    w, _ = step(np.zeros((1, 4)), ctx_with({"cov": cov[None]}, n_assets=4))
    assert 0.4 - 1e-6 <= w[0, 0] <= 0.5 + 1e-6
    bad = MinVariance(asset_bounds={"ZZZ": (0.0, 0.1)})
    with pytest.raises(ConfigError, match="asset_bounds names 'ZZZ'"):
        bad(np.zeros((1, 4)), ctx_with({"cov": cov[None]}, n_assets=4))


def test_min_variance_singular_covariance_is_solved():
    cov = daily_cov(3, 6)
    sing = np.zeros((4, 4))
    sing[:3, :3] = cov
    sing[3, :3] = sing[:3, 3] = cov[1]
    sing[3, 3] = cov[1, 1]  # asset 3 duplicates asset 1: rank 3
    w, diag = MinVariance(max_weight=0.6)(np.zeros((1, 4)), ctx_with({"cov": sing[None]}, n_assets=4))
    assert diag["fallback_level"][0] == 0
    assert np.isfinite(w).all() and abs(w.sum() - 1) < 1e-6


def test_min_variance_infeasible_bounds_fall_back_to_capped_inverse_volatility():
    cov = daily_cov(4, 7)
    w, diag = MinVariance(max_weight=0.2)(np.zeros((1, 4)), ctx_with({"cov": cov[None]}, n_assets=4))
    assert diag["bounds_infeasible"][0] == 1.0 and diag["fallback_level"][0] == 1
    np.testing.assert_array_equal(diag["attempt.native"], [0]) and np.testing.assert_array_equal(
        diag["attempt.cvxpy"], [0])
    np.testing.assert_allclose(w, 0.2)  # every name capped, 20% cash
    assert not diag[HOLD][0]


def test_registry_validates_phase2_fields():
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.estimator"):
        registry.resolve("step", {"type": "risk_parity", "estimator": "shrunk"}, "pipeline[0]")
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.linkage"):
        registry.resolve("step", {"type": "hierarchical_risk_parity", "linkage": "median"}, "pipeline[0]")
    with pytest.raises(ConfigError, match="min_weight .* must not exceed max_weight"):
        registry.resolve("step", {"type": "min_variance", "min_weight": 0.3, "max_weight": 0.2}, "pipeline[0]")
    with pytest.raises(ConfigError, match="asset_bounds.A0: lower 0.3 is above upper 0.1"):
        registry.resolve("step", {"type": "min_variance", "asset_bounds": {"A0": [0.3, 0.1]}}, "pipeline[0]")
    resolved = registry.resolve("step", {"type": "min_variance", "asset_bounds": {"A0": [0, 0.1]}}, "pipeline[0]")
    assert str(registry.build("step", resolved)).startswith("{type: min_variance, estimator: ledoit_wolf")
