"""The daily accounting kernels against plain-numpy/pandas references."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simlab.kernels.accounting import forward_fill_nb, mark_to_market_nb
from simlab.testing.strategies import price_frames, seeds

FAST = settings(max_examples=40, deadline=None)
NO_BORROW = np.empty((0, 0))


# --------------------------------------------------------------------------- references


def ffill_reference(values: np.ndarray) -> np.ndarray:
    return pd.DataFrame(values).ffill().to_numpy()


def mtm_reference(holdings, cash, price, delist_row, start, stop, nav_out, peak_nav, delisted, borrow_rate, fees_out):
    """The docstring of ``mark_to_market_nb``, written with numpy row operations."""
    for t in range(start, stop):
        closing = delist_row == t
        cash += (holdings[:, closing] * price[t, closing]).sum(axis=1)
        delisted[:, closing] += holdings[:, closing]
        holdings[:, closing] = 0.0
        if borrow_rate.size:
            fee = (borrow_rate * np.maximum(-holdings, 0.0) * np.nan_to_num(price[t])).sum(axis=1)
            cash -= fee
            fees_out[t] += fee
        nav_out[t] = cash + (holdings * np.nan_to_num(price[t])).sum(axis=1)
        np.maximum(peak_nav, nav_out[t], out=peak_nav)


def delist_rows(close: np.ndarray) -> np.ndarray:
    """Row after each asset's last price; -1 when it trades to the end."""
    finite = np.isfinite(close)
    last = close.shape[0] - 1 - np.argmax(finite[::-1], axis=0)
    return np.where(last < close.shape[0] - 1, last + 1, -1).astype(np.int64)


def book_state(close: np.ndarray, n_scenarios: int, seed: int, start: int):
    """Random holdings in assets priced at ``start``, cash, a peak and a delisted log."""
    rng = np.random.default_rng(seed)
    n_assets = close.shape[1]
    held = np.isfinite(close[min(start, close.shape[0] - 1)])
    holdings = rng.uniform(-50, 200, (n_scenarios, n_assets)) * held
    holdings[rng.random(holdings.shape) < 0.2] = 0.0
    cash = rng.uniform(-1_000, 10_000, n_scenarios)
    peak = rng.uniform(0, 40_000, n_scenarios)
    delisted = rng.uniform(0, 3, (n_scenarios, n_assets)).round()
    return holdings, cash, peak, delisted


def run_both(close, n_scenarios, seed, start, stop):
    price = forward_fill_nb(close)
    delist = delist_rows(close)
    holdings, cash, peak, delisted = book_state(close, n_scenarios, seed, start)
    rng = np.random.default_rng(seed + 1)
    holdings = holdings * np.where(rng.random(holdings.shape) < 0.3, -1.0, 1.0)  # some shorts
    borrow = rng.uniform(0, 0.05 / 252, holdings.shape)
    t_rows = close.shape[0]
    states = []
    for fn in (mark_to_market_nb, mtm_reference):
        state = [holdings.copy(), cash.copy(), np.full((t_rows, n_scenarios), np.nan), peak.copy(), delisted.copy(),
                 np.zeros((t_rows, n_scenarios))]
        h, c, nav, p, d, fees = state
        fn(h, c, price, delist, start, stop, nav, p, d, borrow, fees)
        states.append(state)
    return states


# --------------------------------------------------------------------------- forward fill


@FAST
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=12),
        elements=st.one_of(st.just(np.nan), st.floats(allow_nan=False, width=64)),
    )
)
def test_forward_fill_equals_pandas_ffill(values):
    original = values.copy()
    out = forward_fill_nb(values)
    np.testing.assert_array_equal(out, ffill_reference(values))
    np.testing.assert_array_equal(values, original)  # input untouched
    assert out is not values


def test_forward_fill_handmade():
    nan = np.nan
    values = np.array([[nan, 1.0], [2.0, nan], [nan, nan], [3.0, 4.0], [nan, nan]])
    expected = np.array([[nan, 1.0], [2.0, 1.0], [2.0, 1.0], [3.0, 4.0], [3.0, 4.0]])
    np.testing.assert_array_equal(forward_fill_nb(values), expected)


def test_forward_fill_fortran_order_and_all_nan_column():
    values = np.asfortranarray(np.array([[np.nan, 1.0], [np.nan, np.nan], [np.nan, 5.0]]))
    np.testing.assert_array_equal(forward_fill_nb(values), ffill_reference(values))


# --------------------------------------------------------------------------- mark to market


@FAST
@given(
    close=price_frames(min_assets=1, max_assets=5, min_days=2, max_days=40, min_life=1),
    n_scenarios=st.integers(1, 4),
    seed=seeds,
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_mark_to_market_equals_numpy_reference(close, n_scenarios, seed, cut):
    values = close.to_numpy()
    t_rows = len(values)
    start, stop = sorted(int(c * t_rows) for c in cut)
    (h, c, nav, p, d, fees), (rh, rc, rnav, rp, rd, rfees) = run_both(values, n_scenarios, seed, start, stop)
    np.testing.assert_allclose(fees, rfees, rtol=1e-12, atol=1e-12)
    assert (fees >= 0).all()
    np.testing.assert_allclose(nav, rnav, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(c, rc, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(h, rh)
    np.testing.assert_array_equal(d, rd)
    np.testing.assert_allclose(p, rp, rtol=1e-12, atol=1e-9)
    # rows outside the segment are never written
    outside = np.r_[0:start, stop:t_rows]
    assert np.isnan(nav[outside]).all()


def test_delisting_closes_at_last_price_into_cash():
    nan = np.nan
    close = np.array([
        [10.0, 20.0, nan],
        [11.0, 21.0, nan],
        [12.0, nan, 5.0],   # asset 1 delisted here (last price 21 on row 1)
        [13.0, nan, 6.0],
    ])
    price = forward_fill_nb(close)
    delist = np.array([-1, 2, -1], dtype=np.int64)
    holdings = np.array([[1.0, 10.0, 0.0], [0.0, -4.0, 0.0]])
    cash = np.array([100.0, 500.0])
    nav = np.full((4, 2), nan)
    peak = np.array([0.0, 1e9])
    delisted = np.zeros((2, 3))
    mark_to_market_nb(holdings, cash, price, delist, 0, 4, nav, peak, delisted, NO_BORROW, np.zeros((64, 8)))
    np.testing.assert_array_equal(holdings, [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(cash, [100.0 + 10 * 21.0, 500.0 - 4 * 21.0])
    np.testing.assert_array_equal(delisted, [[0.0, 10.0, 0.0], [0.0, -4.0, 0.0]])
    # NAV: before the delisting the position is marked at the close, after it is cash
    np.testing.assert_array_equal(nav[:, 0], [100 + 10 + 200, 100 + 11 + 210, 310 + 12, 310 + 13])
    np.testing.assert_array_equal(nav[:, 1], [500 - 80, 500 - 84, 416, 416])
    # peak: a running maximum, never lowered
    assert peak[0] == 323.0 and peak[1] == 1e9


def test_delisting_on_a_row_outside_the_segment_does_nothing():
    close = np.array([[10.0, 20.0], [11.0, np.nan], [12.0, np.nan]])
    price = forward_fill_nb(close)
    holdings = np.array([[1.0, 2.0]])
    cash = np.array([0.0])
    nav = np.full((3, 1), np.nan)
    delisted = np.zeros((1, 2))
    mark_to_market_nb(holdings, cash, price, np.array([-1, 1]), 2, 3, nav, np.zeros(1), delisted, NO_BORROW, np.zeros((64, 8)))
    assert holdings[0, 1] == 2.0 and delisted.sum() == 0.0
    assert nav[2, 0] == 12.0 + 2 * 20.0


def test_peak_nav_is_running_maximum():
    close = np.array([[100.0], [120.0], [90.0], [130.0], [80.0]])
    holdings = np.array([[1.0]])
    nav = np.full((5, 1), np.nan)
    peak = np.array([0.0])
    seen = []
    for t in range(5):  # one row at a time: the peak after each row
        mark_to_market_nb(holdings, np.zeros(1), close, np.array([-1]), t, t + 1, nav, peak, np.zeros((1, 1)), NO_BORROW, np.zeros((64, 8)))
        seen.append(peak[0])
    assert seen == [100.0, 120.0, 120.0, 130.0, 130.0]


@FAST
@given(
    close=price_frames(min_assets=1, max_assets=5, min_days=3, max_days=40, min_life=1),
    n_scenarios=st.integers(1, 3),
    seed=seeds,
    cuts=st.lists(st.floats(0, 1), min_size=0, max_size=5),
)
def test_streaming_equals_one_pass(close, n_scenarios, seed, cuts):
    """Advancing in several segments gives bit-identical state to one pass."""
    values = close.to_numpy()
    price = forward_fill_nb(values)
    delist = delist_rows(values)
    t_rows = len(values)
    init = book_state(values, n_scenarios, seed, 0)

    def fresh():
        h, c, p, d = (a.copy() for a in init)
        return h, c, np.full((t_rows, n_scenarios), np.nan), p, d

    one = fresh()
    h, c, nav, p, d = one
    mark_to_market_nb(h, c, price, delist, 0, t_rows, nav, p, d, NO_BORROW, np.zeros((64, 8)))
    many = fresh()
    h, c, nav, p, d = many
    bounds = sorted({0, t_rows, *(int(x * t_rows) for x in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        mark_to_market_nb(h, c, price, delist, lo, hi, nav, p, d, NO_BORROW, np.zeros((64, 8)))
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)


def test_nan_price_with_holding_counts_zero_as_documented():
    price = np.array([[np.nan, 10.0]])
    holdings = np.array([[3.0, 1.0]])
    nav = np.full((1, 1), np.nan)
    peak = np.array([5.0])
    mark_to_market_nb(holdings, np.array([0.0]), price, np.array([-1, -1]), 0, 1, nav, peak, np.zeros((1, 2)), NO_BORROW, np.zeros((64, 8)))
    ref_nav = np.full((1, 1), np.nan)
    ref_peak = np.array([5.0])
    mtm_reference(holdings.copy(), np.array([0.0]), price, np.array([-1, -1]), 0, 1, ref_nav, ref_peak, np.zeros((1, 2)), NO_BORROW, np.zeros((1, 1)))
    np.testing.assert_array_equal(nav, ref_nav)  # reference: 0 + 1 * 10 = 10
