"""The pieces a fill day is built from: lots, the participation cap, cost inputs, borrow rates, the book."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from simlab.config.schema import ExecutionConfig
from simlab.costs.base import NoCost
from simlab.costs.borrow import BorrowFee
from simlab.costs.flat import FlatCost
from simlab.data.market import MarketData
from simlab.execution.book import Book
from simlab.execution.broker import Broker, Prices
from simlab.execution.cost_inputs import CostInputs, borrow_rates, trailing_adv
from simlab.execution.fills import Fill, fill_diagnostics
from simlab.execution.lots import round_down_lots, round_lots
from simlab.execution.participation import ParticipationCap
from simlab.testing.builders import price_frame


@pytest.fixture
def market():
    close = price_frame(60, 3, seed=3)
    volume = pd.DataFrame(1e4, index=close.index, columns=close.columns)
    return MarketData(close=close, volume=volume)


@dataclass(frozen=True)
class _NumpyFlat(FlatCost):
    """The same flat cost without its linear rate: the broker takes the numpy path."""

    def linear_rate(self, n_scenarios):
        return None


def test_lots_round_trades_toward_zero_and_scaled_buys_down():
    exe = ExecutionConfig(fractional=False, lot_size=10)
    np.testing.assert_array_equal(round_lots(np.array([39.0, -39.0, 5.0]), exe), [30.0, -30.0, 0.0])
    np.testing.assert_array_equal(round_down_lots(np.array([39.0, 40.0]), exe), [30.0, 40.0])
    shares = np.array([1.5, -2.5])
    assert round_lots(shares, ExecutionConfig()) is shares  # fractional: untouched


def test_participation_cap_in_shares(market):
    assert ParticipationCap.build(market, ExecutionConfig()) is None
    cap = ParticipationCap.build(market, ExecutionConfig(max_participation=0.1, adv_window=10))
    price = market.close.to_numpy()
    row = 30
    expected = 0.1 * trailing_adv(market, 10)[row] / price[row]
    np.testing.assert_allclose(cap.max_shares(row, price[row]), expected)
    assert np.isinf(cap.max_shares(0, price[0])).all()  # no ADV before the window: not capped


def test_cost_inputs_hold_only_what_the_models_require(market):
    from simlab.costs.sqrt_impact import SqrtImpact

    plain = CostInputs.build(market, [NoCost(), FlatCost()])
    assert plain.adv is None and plain.volatility is None
    ctx = CostInputs.build(market, [FlatCost(), SqrtImpact()]).context(30)
    assert ctx.row == 30 and ctx.assets == tuple(market.assets)
    assert ctx.adv.shape == (3,) and ctx.volatility.shape == (3,)


def test_borrow_rates_only_where_a_model_accrues():
    assert borrow_rates([NoCost(), FlatCost()], [np.array([0]), np.array([1])], 2, 3, None).shape == (0, 0)
    rate = borrow_rates([FlatCost(), BorrowFee(rate=0.0252)], [np.array([0]), np.array([1, 2])], 3, 2, None)
    assert rate.shape == (3, 2) and (rate[0] == 0).all()
    np.testing.assert_allclose(rate[1:], BorrowFee(rate=0.0252).daily_rate(2, None, 2))


def test_broker_numpy_and_compiled_paths_agree(market):
    close = market.close.to_numpy()
    prices = Prices(close, np.nan_to_num(close), np.isfinite(close))
    exe = ExecutionConfig(max_participation=0.05)
    rows = [np.array([0, 1])]
    compiled = Broker.build(market, exe, prices, [FlatCost(bps=5.0)], rows)
    numpy_path = Broker.build(market, exe, prices, [_NumpyFlat(bps=5.0)], rows)
    assert compiled.linear_rates[0] is not None and numpy_path.linear_rates[0] is None
    book = Book.empty(len(close), 2, 3, 1e6)
    book.nav[30] = 1e6
    target = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.2]])
    a = compiled.fill(0, book, slice(None), 30, target)
    b = numpy_path.fill(0, book, slice(None), 30, target)
    np.testing.assert_allclose(a.shares, b.shares, rtol=1e-12)
    np.testing.assert_allclose(a.cost, b.cost, rtol=1e-12)
    assert a.unfilled.any()  # 50% of 1e6 is more than 5% of the ADV
    assert "unfilled" in fill_diagnostics(a, compiled.capped)


def test_book_takes_a_fill_and_values_it():
    book = Book.empty(2, 1, 2, 1000.0)
    price = np.array([10.0, 20.0])
    fill = Fill(shares=np.array([[10.0, 5.0]]), cost=np.array([[1.0, 0.5]]), buy_scale=np.ones(1),
                blocked=np.zeros((1, 2), dtype=bool), unfilled=np.zeros((1, 2)))
    book.book_fill(slice(None), fill, price)
    np.testing.assert_array_equal(book.holdings, [[10.0, 5.0]])
    assert book.cash[0] == 1000.0 - 200.0 - 1.5
    book.revalue(0, price, np.array([1000.0]))
    assert book.nav[0, 0] == 998.5 and book.peak_nav[0] == 1000.0
