"""Benchmark weights, the tracking-error and frontier-point Steps, and the minimum-position cutoff."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.errors import ConfigError
from simlab.portfolio.benchmark import benchmark_weights, raw_benchmark
from simlab.portfolio.benchmark_relative import FrontierPoint, MinPosition, TrackingError
from simlab.testing.builders import context_with_features as ctx_with
from simlab.testing.builders import daily_cov, make_context

nan = np.nan


def test_benchmark_sources_are_point_in_time_and_renormalized():
    close = np.array([[10.0, 20.0, 30.0, 40.0], [10.0, 20.0, 30.0, nan]])
    ctx = make_context(close=close)
    usable = np.array([[True, True, True, False]])
    w, cov = benchmark_weights(raw_benchmark("price", ctx, {}, "step"), usable)
    np.testing.assert_allclose(w, [[1 / 6, 2 / 6, 3 / 6, 0.0]])  # close at t, not earlier or later
    assert cov[0] == 1.0
    w, cov = benchmark_weights(raw_benchmark("equal", ctx, {}, "step"), usable)
    np.testing.assert_allclose(w, [[1 / 3, 1 / 3, 1 / 3, 0.0]])
    w, cov = benchmark_weights(raw_benchmark("weights", ctx, {"A0": 0.5, "A3": 0.5}, "step"), usable)
    np.testing.assert_allclose(w, [[1.0, 0.0, 0.0, 0.0]])
    assert cov[0] == 0.5  # half of the benchmark sits in an asset that cannot be held
    w, cov = benchmark_weights(raw_benchmark("cash", ctx, {}, "step"), usable)
    assert not w.any() and cov[0] == 1.0


def test_benchmark_errors_name_the_key_and_the_assets():
    ctx = make_context(n_assets=3)
    with pytest.raises(ConfigError, match=r"step.benchmark_weights names \['XYZ'\]"):
        raw_benchmark("weights", ctx, {"XYZ": 1.0}, "step")
    with pytest.raises(ConfigError, match="market_cap"):
        raw_benchmark("market_cap", ctx, {}, "step")
    meta = pd.DataFrame({"market_cap": [1.0, nan, 2.0]}, index=list(ctx.assets))
    with pytest.raises(ConfigError, match=r"missing for \['A1'\]"):
        raw_benchmark("market_cap", dataclasses.replace(ctx, meta=meta), {}, "step")
    with pytest.raises(ValueError, match="benchmark: weights"):
        TrackingError(benchmark_weights={"A0": 1.0})


def test_min_tracking_error_without_frictions_holds_the_benchmark():
    cov = daily_cov(5)
    ctx = ctx_with({"cov": cov[None], "mean": np.full((1, 5), 1e-4)}, n_assets=5)
    w, diag = TrackingError(benchmark="equal", solver="native")(np.zeros((1, 5)), ctx)
    np.testing.assert_allclose(w, np.full((1, 5), 0.2), atol=1e-7)
    assert diag["tracking_error"][0] < 1e-6 and diag["fallback_level"][0] == 0


def test_active_bounds_and_the_cap_hold_and_an_infeasible_cap_falls_back_to_the_benchmark():
    cov = daily_cov(6, seed=3)
    mean = np.array([[4e-4, 1e-4, 3e-4, -1e-4, 2e-4, 0.0]])
    ctx = ctx_with({"cov": cov[None], "mean": mean}, n_assets=6)
    step = TrackingError(objective="max_return", max_tracking_error=0.02, active_bounds=(-0.05, 0.05))
    w, diag = step(np.zeros((1, 6)), ctx)
    assert np.all(np.abs(w - 1 / 6) <= 0.05 + 1e-9)
    assert diag["tracking_error"][0] <= 0.02 + 1e-7 and diag["expected_excess"][0] > 0
    # a return floor no portfolio inside the bands reaches: the benchmark answers
    step = TrackingError(min_excess_return=5.0, active_bounds=(-0.01, 0.01))
    w, diag = step(np.zeros((1, 6)), ctx)
    np.testing.assert_allclose(w, np.full((1, 6), 1 / 6))
    assert diag["fallback_level"][0] == 1


def test_costs_keep_the_book_where_trading_does_not_pay():
    cov = daily_cov(4, seed=1)
    current = np.array([[0.3, 0.2, 0.3, 0.2]])
    ctx = ctx_with({"cov": cov[None], "mean": np.zeros((1, 4))}, weights=current)
    free, _ = TrackingError()(current, ctx)
    costly, _ = TrackingError(cost_bps=10_000)(current, ctx)
    np.testing.assert_allclose(free, np.full((1, 4), 0.25), atol=1e-7)
    np.testing.assert_allclose(costly, current, atol=1e-7)


def test_fees_tilt_away_from_expensive_assets():
    cov = np.eye(3) * 1e-4
    ctx = ctx_with({"cov": cov[None], "mean": np.zeros((1, 3))}, n_assets=3)
    w, diag = TrackingError(asset_fee_bps={"A0": 50.0})(np.zeros((1, 3)), ctx)
    assert w[0, 0] < 1 / 3 - 1e-3
    assert diag["fee"][0] == pytest.approx(w[0, 0] * 0.005)


def test_frontier_points_meet_their_targets():
    cov = daily_cov(5, seed=2)
    mean = np.array([[6e-4, 2e-4, 4e-4, 1e-4, 3e-4]])
    ctx = ctx_with({"cov": cov[None], "mean": mean}, n_assets=5)
    w, diag = FrontierPoint(target="volatility", target_volatility=0.12)(np.zeros((1, 5)), ctx)
    ann = cov * 252
    assert np.sqrt(w[0] @ ann @ w[0]) == pytest.approx(0.12, abs=1e-7)
    assert diag["volatility"][0] == pytest.approx(0.12, abs=1e-7)
    w, diag = FrontierPoint(target="return", target_return=0.10, solver="native")(np.zeros((1, 5)), ctx)
    assert mean[0] @ w[0] * 252 == pytest.approx(0.10, abs=1e-7)


def test_min_position_drops_small_weights_and_keeps_the_invested_share():
    w = np.array([[0.5, 0.3, 0.005, 0.095, 0.0], [0.004, 0.003, 0.0, 0.0, 0.0]])
    out, diag = MinPosition(threshold=0.01)(w, make_context(n_assets=5, n_scenarios=2))
    np.testing.assert_allclose(out[0], np.array([0.5, 0.3, 0.0, 0.095, 0.0]) * 0.9 / 0.895)
    np.testing.assert_array_equal(out[1], w[1])  # everything under the cutoff: left as it is, and said
    assert list(diag["n_dropped"]) == [1, 0] and list(diag["all_below"]) == [False, True]


def test_tracking_error_book_runs_and_repeats_bit_for_bit():
    cfg = {"name": "te", "data": {"source": "synthetic", "n_assets": 6, "n_days": 400, "seed": 3},
           "pipeline": [{"type": "tracking_error", "window": 120, "mean_window": 120, "objective": "max_return",
                         "max_tracking_error": 0.04, "active_bounds": [-0.1, 0.1], "cost_bps": 5}]}
    a, b = simlab.run(cfg), simlab.run(cfg)
    pd.testing.assert_frame_equal(a.nav, b.nav, check_exact=True)
    te = a.diagnostics.query("key == 'tracking_error'").value
    assert len(te) > 0 and (te <= 0.04 + 1e-6).all()


def test_a_market_cap_benchmark_from_the_universe_file_is_tracked(tmp_path):
    universe = tmp_path / "caps.yaml"
    universe.write_text("assets:\n  KO: {market_cap: 1.0e+11}\n  PEP: {market_cap: 2.0e+11}\n"
                        "  PG: {market_cap: 3.0e+11}\n")
    cfg = {"name": "caps", "universe": str(universe),
           "data": {"source": "builtin:sp500_20", "start": "2015-01-01", "end": "2015-12-31"},
           "pipeline": [{"type": "tracking_error", "benchmark": "market_cap", "window": 60}]}
    res = simlab.run(cfg)
    first_fill = res.trades.date.min()
    w = res.weights.sel(scenario="caps", date=first_fill).to_pandas()
    np.testing.assert_allclose(w[["KO", "PEP", "PG"]].to_numpy(), [1 / 6, 2 / 6, 3 / 6], atol=1e-6)
