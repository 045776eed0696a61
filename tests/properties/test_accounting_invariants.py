"""Accounting invariants of whole runs on random markets (listings, delistings, costs, lots).

Every day and scenario the NAV is the cash plus the holdings at market, both rebuilt from
the trade log alone; costs are never negative; cash never overdraws without leverage.
With no costs and no lag, the NAV equals a plain-numpy book that trades to the same weights.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import simlab
from simlab.portfolio.calendar import schedule_rows
from simlab.testing.assertions import (
    assert_costs_nonnegative,
    assert_nav_identity,
    assert_no_overdraft,
    replay_book,
    valuation_prices,
)
from simlab.testing.builders import csv_experiment
from simlab.testing.strategies import price_frames

RUNS = settings(max_examples=30, deadline=None)


def run_prices(close: pd.DataFrame, **keys):
    with tempfile.TemporaryDirectory() as folder:
        return simlab.run(csv_experiment(close, folder, **keys))


schedules = st.sampled_from([
    {"frequency": "daily"},
    {"frequency": "weekly", "day": "friday"},
    {"frequency": "weekly", "day": "first"},
    {"frequency": "monthly", "day": "first"},
    {"frequency": "monthly", "day": "last"},
])
executions = st.fixed_dictionaries({
    "lag": st.integers(0, 2),
    "fractional": st.booleans(),
    "lot_size": st.sampled_from([1.0, 10.0]),
    "min_trade_value": st.sampled_from([0.0, 0.0, 5_000.0]),
    "init_cash": st.sampled_from([1e5, 1e6]),
})


@RUNS
@given(
    close=price_frames(max_assets=6, min_days=40, max_days=130, gaps=True),
    schedule=schedules,
    execution=executions,
)
def test_book_invariants_every_day(close, schedule, execution):
    res = run_prices(
        close,
        schedule=schedule,
        execution=execution,
        strategy={"type": "momentum", "lookback": 10, "skip": 1},
        costs={"type": "flat", "bps": 10},
        pipeline=[{"type": "equal_weight_top_n", "top_n": 3}, {"type": "position_limit", "max_weight": 0.45}],
        scenarios={"grid": {"costs.bps": [0.0, 30.0], "pipeline.0.top_n": [1, 3]}},
    )
    assert np.isfinite(res.nav.to_numpy()).all()
    assert_nav_identity(res, rtol=1e-9)
    assert_costs_nonnegative(res)
    assert_no_overdraft(res, rtol=1e-9)
    holdings, _ = replay_book(res)
    assert (holdings >= -1e-9).all(), "a long-only book went short"
    w = res.weights.to_numpy()
    assert (w >= -1e-12).all() and (w.sum(axis=2) <= 1 + 1e-9).all()
    # the weights cube is the replayed book valued at the close
    value = holdings * valuation_prices(res)[:, None, :]
    np.testing.assert_allclose(w * res.nav.to_numpy()[:, :, None], value, rtol=1e-9, atol=1e-6)
    trades = res.trades
    if len(trades):
        raw = res.market.close
        rebalance = trades[trades["reason"] != "delisted"]
        prices = raw.to_numpy()[raw.index.get_indexer(rebalance["date"]), raw.columns.get_indexer(rebalance["asset"])]
        # fills happen only at a real close of that day, and at that close
        np.testing.assert_array_equal(rebalance["price"].to_numpy(), prices)
        if not execution["fractional"]:
            lots = rebalance["shares"].to_numpy() / execution["lot_size"]
            np.testing.assert_allclose(lots, np.round(lots), atol=1e-6)
        if execution["min_trade_value"]:  # sells, buys, and buys scaled to the cash alike
            assert (rebalance["value"].abs() >= execution["min_trade_value"] * (1 - 1e-12)).all()
        zero_cost = trades[trades["scenario"].str.contains("bps=0")]
        assert (zero_cost["cost"] == 0).all()


# --------------------------------------------------------------------------- numpy reference


def delist_rows(raw: np.ndarray) -> np.ndarray:
    finite = np.isfinite(raw)
    last = raw.shape[0] - 1 - np.argmax(finite[::-1], axis=0)
    return np.where(last < raw.shape[0] - 1, last + 1, -1)


def reference_nav(close: pd.DataFrame, decisions: np.ndarray, weights_at, init_cash: float) -> np.ndarray:
    """Trade to ``weights_at(t)`` at each decision's close (no lag, no costs); hold between.

    At a decision: value = cash + holdings @ price; holdings = w * value / price; cash is
    the rest. A delisted asset is sold at its last close on the first day without a price.
    """
    raw = close.to_numpy()
    price = close.ffill().to_numpy()
    delist = delist_rows(raw)
    n_days, n_assets = raw.shape
    holdings = np.zeros(n_assets)
    cash = float(init_cash)
    nav = np.empty(n_days)
    decide = set(decisions.tolist())
    for t in range(n_days):
        closing = delist == t
        cash += float(holdings[closing] @ price[t, closing])
        holdings[closing] = 0.0
        value = cash + holdings @ np.nan_to_num(price[t])
        if t in decide:
            w = weights_at(t)
            tradeable = np.isfinite(raw[t])
            assert not (w[~tradeable] > 0).any()
            new = holdings.copy()
            new[tradeable] = w[tradeable] * value / raw[t, tradeable]
            holdings = new
            cash = value - holdings @ np.nan_to_num(price[t])
        nav[t] = cash + holdings @ np.nan_to_num(price[t])
    return nav


def equal_weights(close: pd.DataFrame):
    raw = close.to_numpy()

    def at(t):
        tradeable = np.isfinite(raw[t])
        return tradeable / max(tradeable.sum(), 1)

    return at


def momentum_top_n(close: pd.DataFrame, lookback: int, skip: int, top_n: int):
    raw = close.to_numpy()
    signal = (close.shift(skip) / close.shift(lookback) - 1.0).to_numpy()

    def at(t):
        eligible = np.isfinite(signal[t]) & np.isfinite(raw[t])
        order = sorted(np.flatnonzero(eligible), key=lambda i: (-signal[t, i], i))[:top_n]
        w = np.zeros(raw.shape[1])
        if order:
            w[order] = 1.0 / len(order)
        return w

    return at


@RUNS
@given(
    close=price_frames(max_assets=5, min_days=30, max_days=120),
    schedule=schedules,
    top_n=st.integers(1, 4),
)
def test_nav_equals_numpy_book_without_costs_and_lag(close, schedule, top_n):
    init_cash = 1_000_000.0
    res = run_prices(
        close,
        schedule=schedule,
        execution={"lag": 0, "init_cash": init_cash},
        strategy={"type": "momentum", "lookback": 8, "skip": 2},
        pipeline=[{"type": "equal_weight"}],
        scenarios={"list": [
            {"name": "equal"},
            {"name": "top", "pipeline": [{"type": "equal_weight_top_n", "top_n": top_n}]},
        ]},
    )
    decisions = schedule_rows(close.index, schedule["frequency"], schedule.get("day", "first"))
    expected = {
        "equal": reference_nav(close, decisions, equal_weights(close), init_cash),
        "top": reference_nav(close, decisions, momentum_top_n(close, 8, 2, top_n), init_cash),
    }
    for name, nav in expected.items():
        np.testing.assert_allclose(res.nav[name].to_numpy(), nav, rtol=1e-10, err_msg=name)
    assert res.trades["cost"].eq(0).all()
