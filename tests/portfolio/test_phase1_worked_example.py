"""The phase-1 rules on a worked example, checked by hand.

Signals AAPL 0.8, MSFT 0.5, GOOGL 0.3, TSLA -0.6, AMZN 0.0; keep signals strictly above
0.3, top 10, cash buffer 10%, cap 20%. Proportional weights would be AAPL 0.554 and
MSFT 0.346; both exceed the cap and no uncapped name can take the excess, so the book is
AAPL 0.20, MSFT 0.20 and cash 0.60.

The book: NAV 100,000 = MSFT 10,000 + TSLA 5,000 + cash 85,000 at prices AAPL 150,
MSFT 350, GOOGL 140, TSLA 250 (AMZN has no price). Whole shares, minimum trade 100:
AAPL 20,000 / 150 = 133.3 -> buy 133; MSFT 20,000 / 350 - 10,000 / 350 = 28.6 -> buy 28;
TSLA holds 20 shares, target 0 -> sell 20.
"""

import numpy as np
import pytest
import pandas as pd

from simlab.config.schema import ExecutionConfig
from simlab.costs.base import NoCost
from simlab.data.market import PointInTimeView
from simlab.portfolio.allocators import SignalWeighted
from simlab.execution.fills import fill_linear, plan_fill
from simlab.contract.step import StepContext

ASSETS = ("AAPL", "MSFT", "GOOGL", "TSLA", "AMZN")
PRICE = np.array([150.0, 350.0, 140.0, 250.0, np.nan])


def _ctx(weights):
    dates = pd.DatetimeIndex(["2024-01-02"])
    view = PointInTimeView({"close": PRICE[None, :]}, dates, 0)
    return StepContext(
        t=0, date=dates[0], view=view, assets=ASSETS, tradeable=np.isfinite(PRICE),
        signal=np.array([[0.8, 0.5, 0.3, -0.6, 0.0]]), weights=weights, nav=np.array([100_000.0]),
        peak_nav=np.array([100_000.0]), meta=None, scenarios=("example",), rng=np.random.default_rng(0),
    )


def test_weights_follow_the_phase1_rules():
    holdings = np.array([[0.0, 10_000 / 350, 0.0, 20.0, 0.0]])
    current = holdings * np.nan_to_num(PRICE) / 100_000
    step = SignalWeighted(threshold=0.3, top_n=10, cash_buffer=0.10, max_weight=0.20)
    weights, diag = step(current, _ctx(current))
    np.testing.assert_allclose(weights, [[0.20, 0.20, 0.0, 0.0, 0.0]], atol=1e-15)
    assert diag["cash"][0] == pytest.approx(0.60, abs=1e-15)
    assert diag["n_selected"][0] == 2 and diag["n_capped"][0] == 2


def test_orders_follow_the_phase1_rules():
    holdings = np.array([[0.0, 10_000 / 350, 0.0, 20.0, 0.0]])
    cash, nav = np.array([85_000.0]), np.array([100_000.0])
    target = np.array([[0.20, 0.20, 0.0, 0.0, 0.0]])
    exe = ExecutionConfig(fractional=False, lot_size=1, min_trade_value=100)
    fill = plan_fill(holdings, cash, nav, PRICE, target, NoCost(), exe)
    np.testing.assert_array_equal(fill.shares, [[133.0, 28.0, 0.0, -20.0, 0.0]])
    compiled = fill_linear(holdings, cash, nav, np.nan_to_num(PRICE), np.isfinite(PRICE), target, np.zeros(1), exe)
    np.testing.assert_array_equal(compiled.shares, fill.shares)
