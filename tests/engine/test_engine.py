"""The simulation loop on hand-made markets: listings, delistings, lag, span, errors, batches."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.errors import StepError
from simlab.portfolio.calendar import schedule_rows
from simlab.contract.step import Step
from simlab.testing.assertions import (
    assert_nav_identity,
    assert_runs_identical,
    replay_book,
)
from simlab.testing.builders import csv_experiment, price_frame

LISTED_ROW = 20  # A3 has no price before this row
DELISTED_ROW = 35  # A1 has no price from this row on (last price on row 34)


@pytest.fixture(scope="module")
def close() -> pd.DataFrame:
    return price_frame(60, 5, seed=11, listing={3: LISTED_ROW}, delisting={1: DELISTED_ROW})


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("engine")


def run(close, folder, **keys):
    return simlab.run(csv_experiment(close, folder, **keys))


@pytest.fixture(scope="module")
def weekly(close, folder):
    return run(close, folder, schedule={"frequency": "weekly"}, costs={"type": "flat", "bps": 10},
               scenarios={"grid": {"costs.bps": [0, 10]}})


# --------------------------------------------------------------------------- delisting


def test_delisted_position_closed_at_its_last_price(close, weekly):
    day = close.index[DELISTED_ROW]
    last_price = close["A1"].iloc[DELISTED_ROW - 1]
    holdings, cash = replay_book(weekly)
    t = weekly.dates.get_loc(day)
    held_before = holdings[t - 1, :, 1]
    assert (held_before > 0).all(), "the test needs A1 held when it is delisted"
    rows = weekly.trades[weekly.trades["reason"] == "delisted"]
    assert set(rows["date"]) == {day}
    assert (rows["asset"] == "A1").all()
    assert list(rows["scenario"]) == list(weekly.scenarios)
    np.testing.assert_array_equal(rows["shares"].to_numpy(), -held_before)
    assert (rows["price"] == last_price).all()
    assert (rows["cost"] == 0).all()
    np.testing.assert_array_equal(rows["value"].to_numpy(), -held_before * last_price)
    # proceeds went to cash and nothing is held afterwards
    assert (holdings[t:, :, 1] == 0).all()
    assert (weekly.weights.sel(asset="A1").to_numpy()[t:] == 0).all()
    # NAV is continuous through the delisting: the position was worth its last price
    nav = weekly.nav.to_numpy()
    prices_t = close.ffill().iloc[DELISTED_ROW].to_numpy()
    np.testing.assert_allclose(nav[t], cash[t] + holdings[t] @ np.nan_to_num(prices_t), rtol=1e-12)


def test_delisting_recorded_in_diagnostics(close, weekly):
    diag = weekly.diagnostics
    rows = diag[diag["key"] == "delisted_positions"]
    assert set(rows["date"]) == {close.index[DELISTED_ROW]}
    assert (rows["step"] == "engine").all()
    assert sorted(rows["scenario"]) == sorted(weekly.scenarios)
    assert (rows["value"] == 1.0).all()


def test_delisted_asset_never_bought_again(close, weekly):
    trades = weekly.trades
    after = trades[(trades["asset"] == "A1") & (trades["date"] > close.index[DELISTED_ROW])]
    assert after.empty


def test_pending_order_into_a_delisted_asset_is_blocked(close, folder):
    """Decide on the last day A1 trades (lag 1): the fill day has no price for it."""
    rows = schedule_rows(close.index, "daily")
    assert DELISTED_ROW - 1 in rows
    res = run(close, folder, name="pending.csv", schedule={"frequency": "daily"})
    diag = res.diagnostics
    blocked = diag[(diag["key"] == "blocked_orders") & (diag["date"] == close.index[DELISTED_ROW])]
    assert blocked["value"].iloc[0] >= 1
    assert_nav_identity(res)


# --------------------------------------------------------------------------- listing


def test_asset_listed_later_is_never_bought_before_its_listing(close, weekly):
    first_day = close.index[LISTED_ROW]
    trades = weekly.trades
    a3 = trades[trades["asset"] == "A3"]
    assert len(a3) > 0, "the test needs A3 bought once listed"
    assert (a3["date"] >= first_day).all()
    w = weekly.weights.sel(asset="A3").to_pandas()
    assert (w.loc[: close.index[LISTED_ROW - 1]] == 0).all().all()


def test_listing_with_a_signal_waits_for_its_history(close, folder):
    res = run(close, folder, name="mom.csv", schedule={"frequency": "daily"},
              strategy={"type": "momentum", "lookback": 10, "skip": 1},
              pipeline=[{"type": "equal_weight_top_n", "top_n": 5}])
    a3 = res.trades[res.trades["asset"] == "A3"]
    # a signal needs 10 days of prices: decided on row 30 at the earliest, filled on row 31
    assert a3["date"].min() == close.index[LISTED_ROW + 10 + 1]


# --------------------------------------------------------------------------- lag


@pytest.mark.parametrize("lag", [0, 1, 2])
@pytest.mark.parametrize("schedule", [{"frequency": "weekly"}, {"frequency": "monthly", "day": "last"}])
def test_fills_happen_lag_rows_after_the_decision_at_that_close(close, folder, lag, schedule):
    res = run(close, folder, name=f"lag{lag}.csv", schedule=schedule, execution={"lag": lag})
    decisions = schedule_rows(close.index, schedule["frequency"], schedule.get("day", "first"))
    fills = decisions + lag
    fills = fills[fills < len(close)]
    rebalance = res.trades[res.trades["reason"] == "rebalance"]
    assert set(rebalance["date"]) == set(close.index[fills])
    raw = close.to_numpy()
    r = close.index.get_indexer(rebalance["date"])
    n = close.columns.get_indexer(rebalance["asset"])
    np.testing.assert_array_equal(rebalance["price"].to_numpy(), raw[r, n])
    diag = res.diagnostics
    steps = diag[diag["step"].str.startswith("0:")]
    assert set(steps["date"]) == set(close.index[decisions])
    engine = diag[diag["key"] == "buy_scale"]
    assert set(engine["date"]) == set(close.index[fills])


def test_lag_one_trades_at_the_next_close_not_the_decision_close(close, folder):
    res = run(close, folder, name="lag1.csv", schedule={"frequency": "monthly"}, execution={"lag": 1})
    first = res.trades.iloc[0]
    assert first["date"] == close.index[1]  # decided on row 0 (the first of the month)
    assert first["price"] == close.loc[close.index[1], first["asset"]]
    # before the first fill the book is all cash
    assert res.nav.iloc[0, 0] == 1_000_000.0


def test_decision_too_close_to_the_end_never_fills(close, folder):
    res = run(close, folder, name="end.csv", schedule={"frequency": "monthly", "day": "last"}, execution={"lag": 2})
    assert res.trades["date"].max() <= close.index[-1]
    last_decision = schedule_rows(close.index, "monthly", "last")[-1]
    assert last_decision == len(close) - 1  # its fill would be after the data
    assert (res.diagnostics["date"] == close.index[-1]).any()  # decided and recorded all the same


# --------------------------------------------------------------------------- span and cash


def test_start_and_end_cut_the_simulated_span(close, folder):
    start, end = "2020-01-18", "2020-03-01"  # a Saturday and a Sunday
    res = run(close, folder, name="span.csv", data={"start": start, "end": end},
              schedule={"frequency": "weekly"}, strategy={"type": "momentum", "lookback": 10, "skip": 1},
              pipeline=[{"type": "equal_weight_top_n", "top_n": 2}])
    expected = close.loc[start:end].index
    assert res.nav.index.equals(expected)
    assert res.dates.equals(expected)
    assert res.weights.sizes["date"] == len(expected)
    assert res.trades["date"].between(expected[0], expected[-1]).all()
    assert res.diagnostics["date"].between(expected[0], expected[-1]).all()
    # the signal warmed up on the data before start: the first decision already trades
    assert res.trades["date"].min() == expected[1]
    assert res.returns.iloc[0, 0] == 0.0 and res.nav.iloc[0, 0] == 1_000_000.0


def test_init_cash(close, folder):
    res = run(close, folder, name="cash.csv", execution={"init_cash": 12_345.0}, costs={"type": "flat", "bps": 10})
    assert res.nav.iloc[0, 0] == 12_345.0
    first = res.trades[res.trades["date"] == res.trades["date"].min()]
    # all in, fees included: 12345 = value * (1 + 10 bps)
    assert first["value"].sum() + first["cost"].sum() == pytest.approx(12_345.0, rel=1e-12)
    assert first["cost"].sum() == pytest.approx(12_345.0 / 1.001 * 1e-3, rel=1e-12)
    _, cash = replay_book(res)
    assert cash[0, 0] == 12_345.0 and abs(cash[1, 0]) < 1e-9 * 12_345.0


def test_returns_start_from_init_cash(close, folder):
    res = run(close, folder, name="ret.csv", execution={"lag": 0, "init_cash": 1000.0}, costs={"type": "flat", "bps": 50})
    assert res.returns.iloc[0, 0] == pytest.approx(res.nav.iloc[0, 0] / 1000.0 - 1.0)
    assert res.returns.iloc[0, 0] < 0  # paid the fees on day one
    np.testing.assert_allclose(res.returns.iloc[1:, 0], res.nav.iloc[:, 0].pct_change().iloc[1:])


# --------------------------------------------------------------------------- bad steps


@dataclass(frozen=True)
class NanStep(Step):
    """Test Step: returns NaN weights."""

    def __call__(self, weights, ctx):
        return np.full(weights.shape, np.nan), {}


@dataclass(frozen=True)
class WrongShapeStep(Step):
    """Test Step: drops an asset."""

    def __call__(self, weights, ctx):
        return weights[:, :-1], {}


def test_step_returning_nan_raises_step_error(close, folder, register_temporarily):
    register_temporarily("step", "engine_test_nan_step")(NanStep)
    with pytest.raises(StepError, match=r"step 1:engine_test_nan_step on 2020-01-01 returned a non-finite weight "
                                        r"for asset 'A0' in scenario 'test'"):
        run(close, folder, name="nan.csv", pipeline=[{"type": "equal_weight"}, {"type": "engine_test_nan_step"}])


def test_step_returning_wrong_shape_raises_step_error(close, folder, register_temporarily):
    register_temporarily("step", "engine_test_shape_step")(WrongShapeStep)
    with pytest.raises(StepError, match=r"step 0:engine_test_shape_step on 2020-01-01 returned shape \(1, 4\); expected \(1, 5\)"):
        run(close, folder, name="shape.csv", pipeline=[{"type": "engine_test_shape_step"}])


# --------------------------------------------------------------------------- determinism and batches


def grid_config(close, folder):
    return csv_experiment(
        close, folder, name="grid.csv",
        schedule={"frequency": "weekly"},
        strategy={"type": "momentum", "lookback": 10, "skip": 1},
        costs={"type": "flat", "bps": 10},
        pipeline=[{"type": "equal_weight_top_n", "top_n": 2}, {"type": "position_limit", "max_weight": 0.45}],
        scenarios={"grid": {"costs.bps": [0, 5, 10, 25, 100]}},
    )


def test_same_config_twice_is_bit_identical(close, folder):
    cfg = grid_config(close, folder)
    a, b = simlab.run(cfg), simlab.run(copy.deepcopy(cfg))
    assert_runs_identical(a, b)
    assert a.nav.to_numpy().tobytes() == b.nav.to_numpy().tobytes()


def separate(cfg, bps):
    alone = copy.deepcopy(cfg)
    alone.pop("scenarios")
    alone["costs"] = {"type": "flat", "bps": bps}
    return simlab.run(alone)


def test_costs_grid_equals_separate_runs(close, folder):
    cfg = grid_config(close, folder)
    batch = simlab.run(cfg)
    fill_days = batch.nav.index.isin(pd.DatetimeIndex(batch.trades["date"].unique()))
    for bps in [0, 5, 10, 25, 100]:
        name = f"bps={bps}"
        alone = separate(cfg, bps)
        got = batch.trades[batch.trades["scenario"] == name].drop(columns="scenario").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone.trades.drop(columns="scenario"), check_exact=True)
        np.testing.assert_allclose(batch.nav[name], alone.nav.iloc[:, 0], rtol=1e-13)
        np.testing.assert_array_equal(batch.nav[name].to_numpy()[~fill_days], alone.nav.iloc[:, 0].to_numpy()[~fill_days])
    # more costs, less money
    assert (np.diff(batch.nav.iloc[-1].to_numpy()) < 0).all()


def test_costs_grid_nav_bit_identical_to_separate_runs(close, folder):
    cfg = grid_config(close, folder)
    batch = simlab.run(cfg)
    for bps in [0, 5, 10, 25, 100]:
        np.testing.assert_array_equal(batch.nav[f"bps={bps}"].to_numpy(), separate(cfg, bps).nav.iloc[:, 0].to_numpy())


def test_daily_no_lag_fully_invested_run_completes(folder):
    close = price_frame(30, 2, seed=16)
    res = simlab.run(csv_experiment(
        close, folder, name="zerodiv.csv", schedule={"frequency": "daily"}, execution={"lag": 0},
        strategy={"type": "momentum", "lookback": 8, "skip": 2},
        pipeline=[{"type": "equal_weight_top_n", "top_n": 1}],
    ))
    assert_nav_identity(res)
