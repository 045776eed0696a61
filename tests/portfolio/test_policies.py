"""Rebalancing policies: thresholds exactly at, just below and just above; runs on hand-made markets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.config import registry
from simlab.errors import ConfigError
from simlab.contract.step import HOLD
from simlab.testing.builders import csv_experiment, make_context, price_frame

EPS = 1e-6


def step(entry: dict):
    return registry.build("step", registry.resolve("step", entry, "pipeline[0]"))


def context(current, *, last_rebalance=0, last_targets=None, signal=None, last_signal=None):
    current = np.atleast_2d(np.asarray(current, dtype=float))
    ctx = make_context(weights=current, signal=None if signal is None else np.atleast_2d(signal))
    b = ctx.n_scenarios
    return replace(
        ctx, last_rebalance=np.broadcast_to(np.asarray(last_rebalance), (b,)).copy(),
        last_targets=np.zeros_like(current) if last_targets is None else np.atleast_2d(np.asarray(last_targets, float)),
        last_signal=None if last_signal is None else np.atleast_2d(np.asarray(last_signal, float)),
    )


# ---------------------------------------------------------------------------------------
# drift_band
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "trades"), [(0.05, False), (0.05 - EPS, False), (0.05 + EPS, True)])
def test_absolute_drift_band(gap, trades):
    current = np.array([[0.5 + gap, 0.5 - gap]])
    target = np.array([[0.5, 0.5]])
    out, diag = step({"type": "drift_band"})(target, context(current))
    assert diag[HOLD].tolist() == [not trades] and diag["max_drift"][0] == pytest.approx(gap)
    np.testing.assert_array_equal(out, target if trades else current)


@pytest.mark.parametrize(("gap", "trades"), [(0.05, False), (0.05 - EPS, False), (0.05 + EPS, True)])
def test_relative_drift_band(gap, trades):
    # band 0.2 of the target: 0.05 around 0.25 and 0.15 around 0.75
    current = np.array([[0.25 + gap, 0.75 - gap]])
    target = np.array([[0.25, 0.75]])
    _, diag = step({"type": "drift_band", "band": 0.2, "mode": "relative"})(target, context(current))
    assert diag[HOLD].tolist() == [not trades]


def test_relative_band_around_a_zero_target_is_breached_by_any_holding():
    _, diag = step({"type": "drift_band", "mode": "relative"})(np.array([[1.0, 0.0]]), context([[0.99, 0.01]]))
    assert not diag[HOLD][0]


def test_drift_band_always_builds_the_first_book():
    _, diag = step({"type": "drift_band"})(np.array([[0.5, 0.5]]), context([[0.5, 0.5]], last_rebalance=-1))
    assert not diag[HOLD][0]


# ---------------------------------------------------------------------------------------
# cooldown
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("since", "trades"), [(3, True), (2, False), (4, True)])
def test_cooldown_counts_trading_days(since, trades):
    ctx = context([[0.5, 0.5]])  # decision row t = 4
    ctx = replace(ctx, last_rebalance=np.array([ctx.t - since]))
    target = np.array([[0.6, 0.4]])
    out, diag = step({"type": "cooldown", "days": 3})(target, ctx)
    assert diag[HOLD].tolist() == [not trades] and diag["days_since"][0] == since
    np.testing.assert_array_equal(out, target if trades else ctx.weights)


def test_cooldown_before_the_first_rebalance():
    _, diag = step({"type": "cooldown", "days": 30})(np.array([[0.5, 0.5]]), context([[0.0, 0.0]], last_rebalance=-1))
    assert not diag[HOLD][0] and np.isnan(diag["days_since"][0])


# ---------------------------------------------------------------------------------------
# signal_change
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("move", "trades"), [(0.15, False), (0.15 - EPS, False), (0.15 + EPS, True)])
def test_signal_change_threshold(move, trades):
    ctx = context([[0.5, 0.5]], last_targets=[[0.5, 0.5]], signal=[[0.25 + move, -0.5]], last_signal=[[0.25, -0.5]])
    _, diag = step({"type": "signal_change"})(np.array([[0.6, 0.4]]), ctx)
    assert diag[HOLD].tolist() == [not trades] and diag["signal_trigger"].tolist() == [trades]
    assert diag["max_signal_change"][0] == pytest.approx(move)


@pytest.mark.parametrize(("drift", "trades"), [(0.05, False), (0.05 - EPS, False), (0.05 + EPS, True)])
def test_signal_change_weight_drift_threshold(drift, trades):
    ctx = context([[0.5 + drift, 0.5 - drift]], last_targets=[[0.5, 0.5]],
                  signal=[[0.1, 0.2]], last_signal=[[0.1, 0.2]])
    _, diag = step({"type": "signal_change"})(np.array([[0.6, 0.4]]), ctx)
    assert diag[HOLD].tolist() == [not trades] and diag["drift_trigger"].tolist() == [trades]


def test_signal_change_an_asset_gaining_a_signal_counts_as_moved():
    ctx = context([[0.5, 0.5]], last_targets=[[0.5, 0.5]], signal=[[0.1, 0.2]], last_signal=[[0.1, np.nan]])
    _, diag = step({"type": "signal_change"})(np.array([[0.5, 0.5]]), ctx)
    assert not diag[HOLD][0] and diag["max_signal_change"][0] == np.inf
    ctx = context([[0.5, 0.5]], last_targets=[[0.5, 0.5]], signal=[[0.1, np.nan]], last_signal=[[0.1, np.nan]])
    _, diag = step({"type": "signal_change"})(np.array([[0.5, 0.5]]), ctx)
    assert diag[HOLD][0]


def test_signal_change_needs_a_strategy(tmp_path):
    cfg = csv_experiment(price_frame(10, 2), tmp_path, pipeline=[{"type": "equal_weight"}, {"type": "signal_change"}])
    with pytest.raises(ConfigError, match=r"pipeline\[1\] \(signal_change\) requires signal"):
        simlab.load_config(cfg)


# ---------------------------------------------------------------------------------------
# trade_threshold
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("trade", "skipped"), [(0.005, False), (0.005 - EPS, True), (0.005 + EPS, False)])
def test_trade_threshold(trade, skipped):
    current = np.array([[0.4, 0.3, 0.3]])
    target = np.array([[0.4 + trade, 0.5, 0.1 - trade]])  # A1 and A2 trade well above the threshold
    out, diag = step({"type": "trade_threshold"})(target, context(current))
    assert diag["skipped"].tolist() == [[float(skipped), 0.0, 0.0]]
    assert out[0, 0] == (0.4 if skipped else target[0, 0]) and out[0, 1] == 0.5
    assert not diag[HOLD][0]


def test_trade_threshold_holds_when_every_trade_is_too_small():
    current = np.array([[0.5, 0.5]])
    out, diag = step({"type": "trade_threshold"})(np.array([[0.503, 0.497]]), context(current))
    assert diag[HOLD][0] and diag["n_skipped"][0] == 2
    np.testing.assert_array_equal(out, current)


# ---------------------------------------------------------------------------------------
# Runs: daily schedule, decisions at the close (lag 0), no costs
# ---------------------------------------------------------------------------------------


def trending_market(n_days=60, jump_row=None):
    """A0 rises 1% a day, A1 is flat (and jumps 20% on ``jump_row``)."""
    dates = pd.bdate_range("2021-01-04", periods=n_days, name="date")
    a1 = np.full(n_days, 50.0)
    if jump_row is not None:
        a1[jump_row:] *= 1.2
    return pd.DataFrame({"A0": 100.0 * 1.01 ** np.arange(n_days), "A1": a1}, index=dates)


def trade_rows(res):
    return sorted(res.dates.get_indexer(res.trades.date.unique()).tolist())


def run_daily(tmp_path, close, pipeline, **keys):
    cfg = csv_experiment(close, tmp_path, schedule={"frequency": "daily"}, execution={"lag": 0},
                         pipeline=pipeline, **keys)
    return simlab.run(cfg)


@pytest.mark.parametrize(
    ("band", "rows"),
    [
        # A0's weight passes 0.55 on the 21st day after a rebalance: 1.01**21 / (1.01**21 + 1) > 0.55
        ({"band": 0.05}, [0, 21, 42]),
        # relative 0.2 around 0.5: passes 0.6 on the 41st day (1.01**41 > 1.5)
        ({"band": 0.2, "mode": "relative"}, [0, 41]),
    ],
)
def test_drift_band_rebalances_only_when_breached(tmp_path, band, rows):
    res = run_daily(tmp_path, trending_market(), [{"type": "equal_weight"}, {"type": "drift_band", **band}])
    assert trade_rows(res) == rows
    hold = res.diagnostics.query("key == 'hold'").value.to_numpy()
    assert np.flatnonzero(hold == 0).tolist() == rows


def test_cooldown_spaces_rebalances(tmp_path):
    res = run_daily(tmp_path, price_frame(30, 3, seed=5), [{"type": "equal_weight"}, {"type": "cooldown", "days": 7}])
    assert trade_rows(res) == [0, 7, 14, 21, 28]


def test_signal_change_rebalances_on_signal_moves_and_weight_drift(tmp_path):
    # the signal is yesterday-to-today's return: A0 0.01 every day, A1 0 but 0.2 on row 30
    res = run_daily(tmp_path, trending_market(jump_row=30), [{"type": "equal_weight"}, {"type": "signal_change"}],
                    strategy={"type": "momentum", "lookback": 1, "skip": 0})
    # 0: first book; 1: the signal appears (NaN -> finite); 22: 21 days of drift;
    # 30 and 31: A1's signal jumps to 0.2 and back; 52: drift again
    assert trade_rows(res) == [0, 1, 22, 30, 31, 52]
    d = res.diagnostics.set_index("key")
    assert d.loc["signal_trigger"].value.to_numpy()[[30, 31]].tolist() == [1.0, 1.0]
    assert d.loc["drift_trigger"].value.to_numpy()[[22, 52]].tolist() == [1.0, 1.0]


def test_trade_threshold_skips_small_trades(tmp_path):
    # daily equal weight: the trade back to 0.5 is 0.0025, 0.0050 (just under 0.005) and 0.0075 after 1, 2, 3 days
    res = run_daily(tmp_path, trending_market(20), [{"type": "equal_weight"}, {"type": "trade_threshold"}])
    assert trade_rows(res) == [0, 3, 6, 9, 12, 15, 18]
    w = res.weights.sel(scenario=res.scenarios[0], asset="A0").to_numpy()
    np.testing.assert_allclose(w[[3, 6, 9]], 0.5, atol=1e-12)
    assert w[2] == pytest.approx(1.0201 / 2.0201)
