"""Position sizing Steps: values by hand, the soft override, per-scenario fields, an engine run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.config import registry
from simlab.errors import ConfigError
from simlab.features.covariance import Covariance
from simlab.features.volatility import Volatility
from simlab.portfolio.sizing import (
    FractionalKelly,
    RiskBudget,
    VolTargetSize,
    component_var,
    conviction,
    risk_budget_solve,
    soft_limit,
)
from simlab.testing.builders import csv_experiment, make_context, price_frame

ROOT = np.sqrt(252.0)
LOOSE = {"max_weight": 10.0, "max_gross": 10.0}  # limits out of the way


def ctx_with(weights, signal=None, **features):
    ctx = make_context(weights=np.atleast_2d(weights), signal=None if signal is None else np.atleast_2d(signal))
    return replace(ctx, features={k: np.atleast_2d(v) if np.ndim(v) < 3 else v for k, v in features.items()})


# ---------------------------------------------------------------- conviction and the soft limit


def test_conviction_is_the_percentile_in_the_position_direction():
    signal = np.array([[0.1, 0.5, 0.3, np.nan, -0.2]])
    longs = conviction(signal, np.full((1, 5), 0.2))
    np.testing.assert_allclose(longs, [[0.5, 1.0, 0.75, 0.0, 0.25]])
    shorts = conviction(signal, np.array([[0.2, 0.2, 0.2, 0.2, -0.2]]))
    assert shorts[0, 4] == 1.0  # the most negative signal is the strongest short
    np.testing.assert_allclose(conviction(np.array([[1.0, 1.0]]), np.ones((1, 2))), [[0.75, 0.75]])  # ties averaged
    np.testing.assert_array_equal(conviction(None, np.ones((2, 3))), np.zeros((2, 3)))


def test_soft_limit_rises_continuously_above_the_threshold():
    w = np.full((1, 5), 0.4)
    conv = np.array([[1.0, 0.9, 0.8, 0.5, 0.8 + 1e-9]])
    out, limit = soft_limit(w, conv, np.array([[0.25]]), np.array([[0.8]]), np.array([[0.2]]))
    np.testing.assert_allclose(limit, [[0.30, 0.275, 0.25, 0.25, 0.25]], atol=1e-8)
    np.testing.assert_allclose(out, limit)
    small, _ = soft_limit(-np.full((1, 5), 0.1), conv, np.array([[0.25]]), np.array([[0.8]]), np.array([[0.2]]))
    np.testing.assert_allclose(small, -0.1)  # under every limit: untouched, sign kept


def test_sizer_lets_the_strongest_name_exceed_the_limit_by_the_margin():
    vol = np.full(5, 0.01)
    signal = [0.5, 0.4, 0.3, 0.2, 0.1]  # percentiles 1.0, 0.8, 0.6, 0.4, 0.2
    step = VolTargetSize(scope="position", target_vol=1.0, max_weight=0.1, max_gross=10.0)
    out, diag = step(np.full((1, 5), 0.2), ctx_with(np.full(5, 0.2), signal, volatility=vol))
    np.testing.assert_allclose(out, [[0.12, 0.10, 0.10, 0.10, 0.10]])
    assert diag["n_override"][0] == 1 and diag["n_limited"][0] == 5


# ---------------------------------------------------------------- vol_target_size


def test_position_scope_sizes_each_name_to_the_target():
    weights = np.array([0.3, -0.1, 0.2, 0.0])
    vol = np.array([0.01, 0.02, np.nan, 0.005])  # daily
    step = VolTargetSize(scope="position", target_vol=0.1, **LOOSE)
    out, diag = step(weights[None], ctx_with(weights, volatility=vol))
    np.testing.assert_allclose(out, [[0.1 / (0.01 * ROOT), -0.1 / (0.02 * ROOT), 0.0, 0.0]])
    assert diag["n_unsized"][0] == 1  # held, but no volatility


def test_portfolio_scope_hits_the_target_with_equal_risk_from_uncorrelated_names():
    weights = np.array([[0.5, 0.5]])
    cov = np.array([[[1e-4, 0.0], [0.0, 4e-4]]])
    out, diag = VolTargetSize(target_vol=0.1, **LOOSE)(weights, ctx_with(weights, covariance=cov))
    # inverse-vol tilt: equal risk per name, each 0.1 / sqrt(2) annualized
    expected = 0.1 / np.sqrt(2) / (np.array([0.01, 0.02]) * ROOT)
    np.testing.assert_allclose(out[0], expected)
    assert diag["ex_ante_vol"][0] == pytest.approx(0.1)
    untilted, _ = VolTargetSize(target_vol=0.1, tilt=False, **LOOSE)(weights, ctx_with(weights, covariance=cov))
    assert untilted[0, 0] == pytest.approx(untilted[0, 1])
    assert np.sqrt(252 * untilted[0] @ cov[0] @ untilted[0]) == pytest.approx(0.1)


def test_gross_cap_scales_everything_down_together():
    weights = np.array([[0.5, 0.5]])
    vol = np.array([0.002, 0.004])
    out, diag = VolTargetSize(scope="position", target_vol=0.2, max_weight=1.0, max_gross=1.0)(
        weights, ctx_with(weights, volatility=vol))
    raw = 0.2 / (np.array([0.002, 0.004]) * ROOT)
    np.testing.assert_allclose(out[0], raw / raw.sum())
    assert diag["gross_scale"][0] == pytest.approx(1 / raw.sum())


def test_vol_floor_bounds_the_size_of_a_flat_price():
    weights = np.array([[1.0]])
    out, _ = VolTargetSize(scope="position", target_vol=0.1, vol_floor=0.05, **LOOSE)(
        weights, ctx_with(weights, volatility=[0.0]))
    assert out[0, 0] == pytest.approx(2.0)


def test_per_scenario_fields_and_features():
    step = VolTargetSize(scope="position", target_vol=np.array([0.1, 0.2]), window=np.array([20.0, 60.0]),
                         max_weight=np.array([10.0, 0.5]), max_gross=10.0)
    assert step.features(2) == {"volatility": [Volatility(window=20), Volatility(window=60)]}
    weights = np.full((2, 2), 0.5)
    ctx = replace(make_context(weights=weights), features={"volatility": np.full((2, 2), 0.01)})
    out, _ = step(weights, ctx)
    np.testing.assert_allclose(out[0], 0.1 / (0.01 * ROOT))
    np.testing.assert_allclose(out[1], 0.5)  # 0.2 / 0.159 = 1.26, limited at 0.5
    assert VolTargetSize(window=60, halflife=10.0).features(1) == {
        "covariance": [Covariance(estimator="ewma", window=60, halflife=10.0)]}


# ---------------------------------------------------------------- fractional_kelly


def test_half_kelly_from_the_signal_by_hand():
    weights = np.array([0.25, 0.25, 0.25, -0.25])
    mu = np.array([0.10, 0.05, -0.02, -0.02])
    vol = np.array([0.2, 0.1, 0.2, 0.2]) / ROOT
    out, diag = FractionalKelly(mu="signal", **LOOSE)(weights[None], ctx_with(weights, mu, volatility=vol))
    # f * mu / sigma^2: 0.5 * 0.1 / 0.04, 0.5 * 0.05 / 0.01; the third points against its long: 0
    np.testing.assert_allclose(out, [[1.25, 2.5, 0.0, -0.25]])
    assert diag["n_against"][0] == 1
    full = FractionalKelly(mu="signal", fraction=1.0, mu_scale=0.5, **LOOSE)
    scaled, _ = full(weights[None], ctx_with(weights, mu, volatility=vol))
    np.testing.assert_allclose(scaled, out)


def test_kelly_from_history_and_unsized_names():
    step = FractionalKelly(mu_window=120, **LOOSE)
    assert [type(f).__name__ for f in step.features(1)["mean_return"]] == ["MeanReturn"]
    weights = np.array([0.5, 0.5])
    ctx = ctx_with(weights, volatility=[0.2 / ROOT, 0.2 / ROOT], mean_return=[0.0004, np.nan])
    out, diag = step(weights[None], ctx)
    np.testing.assert_allclose(out, [[0.5 * 0.0004 * 252 / 0.04, 0.0]])
    assert diag["n_unsized"][0] == 1


def test_kelly_from_the_signal_without_a_strategy_says_so():
    weights = np.array([0.5, 0.5])
    with pytest.raises(ValueError, match="needs a strategy"):
        FractionalKelly(mu="signal")(weights[None], ctx_with(weights, volatility=[0.01, 0.01]))


def test_kelly_limit_and_override():
    weights = np.full(3, 1 / 3)
    ctx = ctx_with(weights, [0.3, 0.2, 0.1], volatility=np.full(3, 0.01))
    out, diag = FractionalKelly(mu="signal", max_weight=0.2)(weights[None], ctx)
    # Kelly 0.5 * mu / (0.01^2 * 252) is levered: the gross cap scales it to (1/2, 1/3, 1/6); then the
    # limit 0.2 with percentiles 1, 2/3, 1/3: only the top name may reach 0.2 * 1.2
    np.testing.assert_allclose(out, [[0.24, 0.2, 1 / 6]])
    assert diag["n_override"][0] == 1


# ---------------------------------------------------------------- risk_budget


def test_equal_budgets_on_uncorrelated_names_are_inverse_volatility():
    weights = np.array([[0.5, 0.5, 0.0]])
    cov = np.array([[[1e-4, 0, 0], [0, 4e-4, 0], [0, 0, 9e-4]]])
    out, diag = RiskBudget(budgets="equal", **LOOSE)(weights, ctx_with(weights, covariance=cov))
    np.testing.assert_allclose(out, [[2 / 3, 1 / 3, 0.0]])  # gross kept at 1
    np.testing.assert_allclose(diag["var_share"], [[0.5, 0.5, 0.0]])
    assert diag["var"][0] == pytest.approx(1.6448536 * np.sqrt((2 / 3) ** 2 * 1e-4 + (1 / 3) ** 2 * 4e-4))


def test_component_var_shares_equal_the_budgets_with_correlation_and_shorts():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 6, 6)) * 0.01
    cov = a @ a.transpose(0, 2, 1) + np.eye(6) * 1e-5
    weights = np.array([[0.3, 0.2, 0.1, 0.25, 0.15, 0.0], [0.1] * 6, [0.4, -0.2, 0.1, 0.1, -0.1, 0.1]])
    out, diag = RiskBudget(**LOOSE)(weights, ctx_with(weights, covariance=cov))
    budgets = np.abs(weights) / np.abs(weights).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(diag["var_share"], budgets, atol=1e-9)
    np.testing.assert_array_equal(np.sign(out), np.sign(weights))
    np.testing.assert_allclose(np.abs(out).sum(axis=1), np.abs(weights).sum(axis=1))


def test_var_target_sets_the_daily_var():
    weights = np.array([[0.5, 0.5]])
    cov = np.array([[[1e-4, 5e-5], [5e-5, 4e-4]]])
    out, diag = RiskBudget(var_target=0.01, confidence=0.99, **LOOSE)(weights, ctx_with(weights, covariance=cov))
    var, _ = component_var(out, cov, np.array([2.3263479]))
    assert var[0] == pytest.approx(0.01, rel=1e-6) and diag["var"][0] == pytest.approx(0.01, rel=1e-6)


def test_risk_budget_skips_names_without_covariance():
    weights = np.array([[0.5, 0.5]])
    cov = np.array([[[1e-4, np.nan], [np.nan, np.nan]]])
    out, diag = RiskBudget(**LOOSE)(weights, ctx_with(weights, covariance=cov))
    np.testing.assert_allclose(out, [[1.0, 0.0]])
    assert diag["n_unsized"][0] == 1


def test_risk_budget_solve_zero_budget_rows():
    y = risk_budget_solve(np.eye(2)[None] * 1e-4, np.zeros((1, 2)))
    np.testing.assert_array_equal(y, 0.0)


# ---------------------------------------------------------------- config and engine


def test_config_validation_names_the_key():
    with pytest.raises(ConfigError, match=r"pipeline\[1\]\.conviction_threshold"):
        registry.resolve("step", {"type": "vol_target_size", "conviction_threshold": 1.0}, "pipeline[1]")
    with pytest.raises(ConfigError, match=r"pipeline\[1\]\.scope"):
        registry.resolve("step", {"type": "vol_target_size", "scope": "book"}, "pipeline[1]")


@pytest.mark.parametrize("sizer", [
    {"type": "vol_target_size", "window": 20},
    {"type": "vol_target_size", "scope": "position", "window": 20},
    {"type": "fractional_kelly", "mu": "history", "mu_window": 40, "window": 20},
    {"type": "risk_budget", "window": 40},
])
def test_sizers_run_batched_in_the_engine(tmp_path, sizer):
    close = price_frame(160, 5, seed=2, listing={4: 70})
    cfg = csv_experiment(close, tmp_path, pipeline=[{"type": "equal_weight"}, sizer],
                         scenarios={"grid": {"pipeline.1.max_weight": [0.15, 0.3]}})
    res = simlab.run(cfg)
    w = res.weights.isel(date=-1).to_pandas()
    assert (w.abs().max(axis=1) <= pd.Series([0.15, 0.3], index=w.index) * 1.2 + 1e-3).all()
    d = res.diagnostics
    assert set(d["key"][d["step"] == "1:" + sizer["type"]]) >= {"n_limited", "gross", "n_unsized"}


@pytest.mark.parametrize("sizer", [
    {"type": "vol_target_size", "window": 20},
    {"type": "fractional_kelly", "mu": "signal", "window": 20},
    {"type": "risk_budget", "window": 40},
])
def test_sizers_never_see_the_future(tmp_path, sizer):
    close = price_frame(160, 5, seed=8)
    t = 110
    shocked = close.copy()
    shocked.iloc[t + 1:] *= np.random.default_rng(1).uniform(0.7, 1.4, shocked.iloc[t + 1:].shape)
    runs = []
    for i, panel in enumerate((close, shocked)):
        folder = tmp_path / str(i)
        folder.mkdir()
        cfg = csv_experiment(panel, folder, strategy={"type": "trend", "window": 20},
                             pipeline=[{"type": "signal_weighted"}, sizer], execution={"lag": 0})
        runs.append(simlab.run(cfg))
    before, after = (r.weights.isel(date=slice(0, t + 1)).values for r in runs)
    np.testing.assert_array_equal(before, after)
    assert not np.array_equal(runs[0].nav.values, runs[1].nav.values)
