"""``plan_fill``: from target weights to shares, on one fill day, for a batch of scenarios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simlab.config.schema import ExecutionConfig
from simlab.costs.base import NoCost
from simlab.costs.flat import FlatCost
from simlab.kernels.accounting import DUST
from simlab.execution.fills import plan_fill
from simlab.testing.strategies import target_weights

FAST = settings(max_examples=50, deadline=None)


def cash_after(cash, price, fill):
    safe = np.where(np.isfinite(price), price, 0.0)
    return cash - (fill.shares * safe).sum(axis=1) - fill.cost.sum(axis=1)


def nav_of(holdings, cash, price):
    return cash + holdings @ np.nan_to_num(price)


# --------------------------------------------------------------------------- sells first


def test_sell_proceeds_fund_buys():
    """All in A, no cash, switch to B: the sale of A pays for B (sells fill first)."""
    price = np.array([10.0, 25.0])
    holdings = np.array([[100.0, 0.0]])
    cash = np.array([0.0])
    nav = nav_of(holdings, cash, price)
    fill = plan_fill(holdings, cash, nav, price, np.array([[0.0, 1.0]]), NoCost(), ExecutionConfig())
    np.testing.assert_array_equal(fill.shares, [[-100.0, 40.0]])
    assert fill.buy_scale[0] == 1.0
    assert cash_after(cash, price, fill)[0] == pytest.approx(0.0, abs=1e-9)


def test_sell_proceeds_net_of_costs_fund_scaled_buys():
    price = np.array([10.0, 25.0])
    holdings = np.array([[100.0, 0.0]])
    cash = np.array([0.0])
    nav = nav_of(holdings, cash, price)
    fill = plan_fill(holdings, cash, nav, price, np.array([[0.0, 1.0]]), FlatCost(bps=10.0), ExecutionConfig())
    assert fill.shares[0, 0] == -100.0  # the sell is never scaled
    proceeds = 1000.0 * (1 - 1e-3)
    assert fill.shares[0, 1] * 25.0 == pytest.approx(proceeds / (1 + 1e-3), rel=1e-12)
    assert fill.buy_scale[0] < 1.0
    assert cash_after(cash, price, fill)[0] == pytest.approx(0.0, abs=1e-9 * nav[0])


# --------------------------------------------------------------------------- cash


@st.composite
def books(draw, max_scenarios=3, max_assets=5):
    b = draw(st.integers(1, max_scenarios))
    n = draw(st.integers(1, max_assets))
    price = draw(hnp.arrays(np.float64, n, elements=st.floats(0.5, 500.0)))
    holdings = draw(hnp.arrays(np.float64, (b, n), elements=st.one_of(st.just(0.0), st.floats(0.0, 5_000.0, allow_subnormal=False))))
    cash = draw(hnp.arrays(np.float64, b, elements=st.floats(0.0, 1e6, allow_subnormal=False)))
    gross = draw(st.sampled_from([0.5, 1.0, 1.3]))
    target = draw(target_weights(b, n, gross=gross))
    return holdings, cash, price, target


@FAST
@given(book=books(), bps=st.floats(0.0, 200.0))
def test_buys_scaled_to_cash_with_flat_costs(book, bps):
    holdings, cash, price, target = book
    nav = nav_of(holdings, cash, price)
    cost_model = FlatCost(bps=bps)
    fill = plan_fill(holdings, cash, nav, price, target, cost_model, ExecutionConfig())
    left = cash_after(cash, price, fill)
    assert (left >= -1e-9 * np.maximum(nav, 1.0)).all()
    assert (fill.cost >= 0).all()
    np.testing.assert_allclose(fill.cost, np.abs(fill.shares * price) * bps * 1e-4, rtol=1e-12, atol=1e-12)
    assert ((fill.buy_scale >= 0) & (fill.buy_scale <= 1)).all()
    assert not fill.blocked.any()
    wanted = target * nav[:, None] / price - holdings
    wanted = np.where(np.abs(wanted * price) <= DUST * np.abs(nav)[:, None], 0.0, wanted)  # rounding dust
    sells = np.minimum(wanted, 0.0)
    np.testing.assert_allclose(np.minimum(fill.shares, 0.0), sells, rtol=1e-12, atol=1e-9)
    # a scaled buy is scaled by one factor per scenario, and only when cash ran out
    wanted_buys = np.maximum(wanted, 0.0)
    np.testing.assert_allclose(np.maximum(fill.shares, 0.0), wanted_buys * fill.buy_scale[:, None], rtol=1e-12, atol=1e-9)
    scaled = fill.buy_scale < 1.0
    np.testing.assert_allclose(left[scaled], 0.0, atol=1e-9 * max(1.0, nav.max()))


@FAST
@given(book=books())
def test_without_costs_and_enough_cash_targets_are_hit(book):
    holdings, cash, price, target = book
    target = target / max(1.0, target.sum(axis=1).max())  # at most fully invested
    nav = nav_of(holdings, cash, price)
    fill = plan_fill(holdings, cash, nav, price, target, NoCost(), ExecutionConfig())
    after = holdings + fill.shares
    weights = np.divide(after * price, nav[:, None], out=np.zeros_like(after), where=nav[:, None] > 0)
    expected = np.where(nav[:, None] > 0, target, 0.0)
    np.testing.assert_allclose(weights, expected, atol=1e-9)


# --------------------------------------------------------------------------- lots


@FAST
@given(book=books(), lot=st.sampled_from([1.0, 10.0, 100.0, 0.5]), bps=st.sampled_from([0.0, 10.0, 50.0]))
def test_lots_rounding(book, lot, bps):
    """Each trade is a whole number of lots, rounded toward zero (never past the target)."""
    holdings, cash, price, target = book
    nav = nav_of(holdings, cash, price)
    exe = ExecutionConfig(fractional=False, lot_size=lot)
    fill = plan_fill(holdings, cash, nav, price, target, FlatCost(bps=bps), exe)
    lots = fill.shares / lot
    np.testing.assert_allclose(lots, np.round(lots), atol=1e-6)
    wanted = target * nav[:, None] / price - holdings
    tol = 1e-9 * np.maximum(np.abs(wanted), 1.0)
    assert (np.abs(fill.shares) <= np.abs(wanted) + tol).all()
    assert (fill.shares * wanted >= 0).all()  # same direction as wanted
    unscaled = np.where((fill.buy_scale == 1.0)[:, None] | (wanted < 0), True, False)
    assert (np.abs(wanted - fill.shares)[unscaled] < lot + tol[unscaled]).all()
    assert (cash_after(cash, price, fill) >= -1e-9 * np.maximum(nav, 1.0)).all()


def test_lots_handmade():
    price = np.array([7.0])
    exe = ExecutionConfig(fractional=False, lot_size=10.0)
    fill = plan_fill(np.zeros((1, 1)), np.array([1000.0]), np.array([1000.0]), price, np.array([[1.0]]), NoCost(), exe)
    assert fill.shares[0, 0] == 140.0  # 142.86 shares wanted -> 14 whole lots
    scaled = plan_fill(
        np.zeros((1, 1)), np.array([1000.0]), np.array([1000.0]), price, np.array([[1.0]]), FlatCost(bps=200.0), exe
    )
    # 140 shares + 2% cost = 999.6 fits; no scaling needed
    assert scaled.shares[0, 0] == 140.0
    tight = plan_fill(
        np.zeros((1, 1)), np.array([985.0]), np.array([985.0]), np.array([7.0]), np.array([[1.0]]), FlatCost(bps=200.0), exe
    )
    # wants 140 (980 + 19.6 > 985): scaled, then rounded down to 130
    assert tight.shares[0, 0] == 130.0


def test_lots_round_the_trade_not_the_target():
    """The documented example: holding 28.57 shares with a target of 57.14 buys 28."""
    price = np.array([35.0])
    holdings = np.array([[1000.0 / 35.0]])  # 28.57 shares
    cash = np.array([1000.0])
    nav = nav_of(holdings, cash, price)  # 2000 -> target 57.14 shares
    fill = plan_fill(holdings, cash, nav, price, np.array([[1.0]]), NoCost(), ExecutionConfig(fractional=False))
    assert fill.shares[0, 0] == 28.0


def test_fractional_ignores_lot_size():
    exe = ExecutionConfig(fractional=True, lot_size=10.0)
    fill = plan_fill(np.zeros((1, 1)), np.array([1000.0]), np.array([1000.0]), np.array([7.0]), np.array([[1.0]]), NoCost(), exe)
    assert fill.shares[0, 0] == pytest.approx(1000.0 / 7.0)


# --------------------------------------------------------------------------- min trade value


def test_min_trade_value_skips_small_trades():
    price = np.array([10.0, 10.0, 10.0])
    holdings = np.array([[50.0, 0.0, 0.0]])
    cash = np.array([500.0])
    nav = nav_of(holdings, cash, price)  # 1000
    target = np.array([[0.495, 0.3, 0.2]])  # -5 (50 value), +30 (300), +20 (200)
    exe = ExecutionConfig(min_trade_value=100.0)
    fill = plan_fill(holdings, cash, nav, price, target, NoCost(), exe)
    np.testing.assert_allclose(fill.shares, [[0.0, 30.0, 20.0]])
    exe = ExecutionConfig(min_trade_value=250.0)
    fill = plan_fill(holdings, cash, nav, price, target, NoCost(), exe)
    np.testing.assert_allclose(fill.shares, [[0.0, 30.0, 0.0]])


@FAST
@given(book=books(), min_value=st.floats(0.0, 50_000.0))
def test_no_trade_below_min_trade_value(book, min_value):
    holdings, cash, price, target = book
    nav = nav_of(holdings, cash, price)
    fill = plan_fill(holdings, cash, nav, price, target, NoCost(), ExecutionConfig(min_trade_value=min_value))
    traded = fill.shares != 0
    wanted = np.abs((target * nav[:, None] / price - holdings) * price)
    assert (wanted[traded] >= min_value * (1 - 1e-12)).all()
    assert (cash_after(cash, price, fill) >= -1e-9 * np.maximum(nav, 1.0)).all()


# --------------------------------------------------------------------------- untradeable


def test_asset_without_price_is_blocked():
    price = np.array([10.0, np.nan])
    holdings = np.array([[0.0, 5.0]])
    cash = np.array([1000.0])
    nav = cash + 5.0 * 20.0  # the untradeable asset marked at its last close (20)
    target = np.array([[0.5, 0.5]])
    fill = plan_fill(holdings, cash, nav, price, target, FlatCost(bps=10.0), ExecutionConfig())
    assert fill.shares[0, 1] == 0.0 and fill.cost[0, 1] == 0.0
    assert fill.blocked.tolist() == [[False, True]]
    assert fill.shares[0, 0] == pytest.approx(0.5 * 1100.0 / 10.0)
    assert np.isfinite(fill.shares).all() and np.isfinite(fill.cost).all()


def test_untradeable_asset_not_wanted_keeps_its_holding():
    price = np.array([10.0, np.nan])
    holdings = np.array([[0.0, 5.0]])
    cash = np.array([1000.0])
    fill = plan_fill(holdings, cash, np.array([1100.0]), price, np.array([[1.0, 0.0]]), NoCost(), ExecutionConfig())
    assert fill.shares[0, 1] == 0.0
    assert fill.shares[0, 0] == pytest.approx(100.0)  # the cash only: 1100 wanted, 1000 there
    assert fill.buy_scale[0] == pytest.approx(1000.0 / 1100.0)


def test_wanted_sell_of_untradeable_holding_is_reported_blocked():
    price = np.array([10.0, np.nan])
    holdings = np.array([[0.0, 5.0]])
    fill = plan_fill(holdings, np.array([1000.0]), np.array([1100.0]), price, np.array([[1.0, 0.0]]), NoCost(), ExecutionConfig())
    assert fill.blocked.tolist() == [[False, True]]


# --------------------------------------------------------------------------- leverage


def test_leverage_allows_borrowing_up_to_the_allowance():
    price = np.array([10.0, 20.0])
    cash = np.array([1000.0])
    nav = cash.copy()
    target = np.array([[0.9, 0.6]])  # 150% gross
    fill = plan_fill(np.zeros((1, 2)), cash, nav, price, target, NoCost(), ExecutionConfig(leverage=2.0))
    assert fill.buy_scale[0] == 1.0
    np.testing.assert_allclose(fill.shares, [[90.0, 30.0]])
    assert cash_after(cash, price, fill)[0] == pytest.approx(-500.0)
    capped = plan_fill(np.zeros((1, 2)), cash, nav, price, target, NoCost(), ExecutionConfig(leverage=1.2))
    assert capped.buy_scale[0] == pytest.approx(1200.0 / 1500.0)
    assert cash_after(cash, price, capped)[0] == pytest.approx(-200.0)  # -(1.2 - 1) * NAV
    unlevered = plan_fill(np.zeros((1, 2)), cash, nav, price, target, NoCost(), ExecutionConfig())
    assert cash_after(cash, price, unlevered)[0] == pytest.approx(0.0, abs=1e-9)


@FAST
@given(book=books(), leverage=st.floats(1.0, 3.0), bps=st.floats(0.0, 100.0))
def test_cash_never_below_borrowing_allowance(book, leverage, bps):
    holdings, cash, price, target = book
    target = target * leverage
    nav = nav_of(holdings, cash, price)
    fill = plan_fill(holdings, cash, nav, price, target, FlatCost(bps=bps), ExecutionConfig(leverage=leverage))
    floor = -(leverage - 1.0) * nav
    assert (cash_after(cash, price, fill) >= floor - 1e-9 * np.maximum(nav, 1.0)).all()


def test_per_scenario_batch_rows_are_independent():
    """Each row of the batch is the fill that scenario would get alone."""
    rng = np.random.default_rng(3)
    price = rng.uniform(5, 50, 4)
    holdings = rng.uniform(0, 100, (3, 4))
    cash = np.array([0.0, 500.0, 5000.0])
    nav = nav_of(holdings, cash, price)
    target = rng.dirichlet(np.ones(4), 3)
    cost = FlatCost(bps=np.array([0.0, 10.0, 30.0]))
    both = plan_fill(holdings, cash, nav, price, target, cost, ExecutionConfig())
    for b, bps in enumerate([0.0, 10.0, 30.0]):
        one = plan_fill(holdings[b : b + 1], cash[b : b + 1], nav[b : b + 1], price, target[b : b + 1], FlatCost(bps=bps), ExecutionConfig())
        np.testing.assert_array_equal(both.shares[b], one.shares[0])
        np.testing.assert_array_equal(both.cost[b], one.cost[0])


def test_scaled_buy_never_below_min_trade_value():
    price = np.array([10.0, 10.0])
    cash = np.array([1000.0])
    target = np.array([[0.9, 0.6]])  # wants 900 and 600, only 1000 in cash -> scaled by 2/3
    fill = plan_fill(np.zeros((1, 2)), cash, cash.copy(), price, target, NoCost(), ExecutionConfig(min_trade_value=500.0))
    traded = fill.shares != 0
    assert (np.abs(fill.shares * price)[traded] >= 500.0).all()  # got a 400 buy


# --------------------------------------------------------------------------- compiled twin


def test_fill_linear_with_rounding_negative_cash_and_nothing_to_buy():
    from simlab.execution.fills import fill_linear

    # fully invested book whose cash ended a rounding error below zero after the last fill
    fill = fill_linear(
        np.array([[10.0]]), np.array([-1e-10]), np.array([1000.0]), np.array([100.0]),
        np.array([True]), np.array([[1.0]]), np.array([0.0]), ExecutionConfig(),
    )
    assert fill.shares[0, 0] == 0.0
