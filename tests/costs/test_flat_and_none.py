"""The flat and zero cost models against the cost-model contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import simlab
from simlab.config import registry
from simlab.costs.base import NoCost
from simlab.costs.flat import FlatCost
from simlab.testing.builders import csv_experiment, price_frame

FAST = settings(max_examples=40, deadline=None)


@st.composite
def trades(draw):
    b = draw(st.integers(1, 4))
    n = draw(st.integers(1, 6))
    shares = draw(hnp.arrays(np.float64, (b, n), elements=st.floats(-1e5, 1e5, allow_subnormal=False)))
    price = draw(hnp.arrays(np.float64, n, elements=st.floats(0.01, 1e4, allow_subnormal=False)))
    return shares * price, shares, price


@FAST
@given(trade=trades(), bps=st.floats(0.0, 500.0, allow_subnormal=False), scale=st.floats(0.0, 1.0, allow_subnormal=False))
def test_flat_cost_contract(trade, bps, scale):
    value, shares, price = trade
    model = FlatCost(bps=bps)
    cost = model(value, shares, price)
    assert cost.shape == value.shape
    assert (cost >= 0).all()
    np.testing.assert_allclose(cost, np.abs(value) * bps * 1e-4, rtol=1e-12)
    np.testing.assert_array_equal(cost, model(-value, -shares, price))  # buys and sells alike
    smaller = model(value * scale, shares * scale, price)
    assert (smaller <= cost * scale * (1 + 1e-12) + 1e-300).all()  # no faster than linear
    rate = model.linear_rate(value.shape[0])
    np.testing.assert_allclose(cost, rate[:, None] * np.abs(value), rtol=1e-12)


def test_flat_cost_per_scenario_bps():
    value = np.array([[100.0, -200.0], [100.0, -200.0], [100.0, -200.0]])
    model = FlatCost(bps=np.array([0.0, 10.0, 25.0]))
    np.testing.assert_allclose(model(value, value, np.ones(2)), [[0, 0], [0.1, 0.2], [0.25, 0.5]])
    np.testing.assert_allclose(model.linear_rate(3), [0.0, 1e-3, 2.5e-3])


def test_no_cost_is_zero():
    value = np.array([[5.0, -3.0]])
    np.testing.assert_array_equal(NoCost()(value, value, np.ones(2)), np.zeros((1, 2)))
    np.testing.assert_array_equal(NoCost().linear_rate(3), np.zeros(3))


def test_registered_names():
    assert registry.registry("cost")["flat"] is FlatCost
    assert registry.registry("cost")["none"] is NoCost
    assert registry.resolve("cost", {"type": "flat"}, "costs") == {"type": "flat", "bps": 10.0}


@pytest.mark.parametrize("costs", [None, {"type": "none"}, {"type": "flat", "bps": 0}])
def test_free_trading_three_ways(tmp_path, costs):
    keys = {"schedule": {"frequency": "weekly"}}
    if costs is not None:
        keys["costs"] = costs
    res = simlab.run(csv_experiment(price_frame(40, 3, seed=5), tmp_path, **keys))
    assert (res.trades["cost"] == 0).all()
    assert (res.daily_costs().to_numpy() == 0).all()


def test_flat_costs_charged_on_traded_value(tmp_path):
    res = simlab.run(csv_experiment(price_frame(40, 3, seed=5), tmp_path, schedule={"frequency": "weekly"},
                                    costs={"type": "flat", "bps": 20}))
    t = res.trades
    np.testing.assert_allclose(t["cost"], t["value"].abs() * 20e-4, rtol=1e-12)
    np.testing.assert_allclose(res.daily_costs().sum().iloc[0], t["cost"].sum(), rtol=1e-12)
