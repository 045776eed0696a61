"""The composite cost model: a sum of sub-models, each validated through the registry."""

from __future__ import annotations

import numpy as np
import pytest

import simlab
from simlab.config import registry
from simlab.contract.cost import CostContext
from simlab.costs.borrow import BorrowFee
from simlab.costs.composite import CompositeCost
from simlab.costs.flat import FlatCost
from simlab.costs.spread import SpreadCost
from simlab.costs.sqrt_impact import SqrtImpact
from simlab.errors import ConfigError
from simlab.testing.builders import csv_experiment, price_frame

PRICE = np.array([50.0, 200.0])
CTX = CostContext(row=0, adv=np.array([1e6, 5e6]), volatility=np.array([0.02, 0.01]))


def build(entry):
    return registry.build("cost", registry.resolve("cost", entry, "costs"))


def test_composite_is_the_sum_of_its_parts():
    model = build({"type": "composite", "models": [
        {"type": "spread", "half_spread_bps": 3}, {"type": "sqrt_impact", "eta": 0.2}, {"type": "borrow"}]})
    shares = np.array([[1000.0, -300.0], [0.0, 10.0]])
    value = shares * PRICE
    parts = [SpreadCost(half_spread_bps=3), SqrtImpact(eta=0.2), BorrowFee()]
    expected = sum(p(value, shares, PRICE, CTX) for p in parts)
    np.testing.assert_allclose(model(value, shares, PRICE, CTX), expected)
    assert model.requires == frozenset({"adv", "volatility"})
    assert model.linear_rate(2) is None
    assert model.accrues
    holdings = np.array([[-10.0, 5.0]])
    np.testing.assert_allclose(model.accrual(holdings, PRICE), BorrowFee().accrual(holdings, PRICE))
    np.testing.assert_allclose(model.daily_rate(1, None, 2), BorrowFee().daily_rate(1, None, 2))


def test_linear_parts_make_a_linear_composite():
    linear_spread = {"type": "spread", "half_spread_bps": 6, "commission_per_share": 0, "min_commission": 0}
    model = CompositeCost(models=[{"type": "flat", "bps": 4}, linear_spread])
    np.testing.assert_allclose(model.linear_rate(3), np.full(3, 10e-4))
    assert model.requires == frozenset() and not model.accrues
    shares = np.array([[100.0, -1.0]])
    np.testing.assert_allclose(model(shares * PRICE, shares, PRICE), FlatCost(bps=10)(shares * PRICE, shares, PRICE))


def test_resolved_config_fills_the_sub_models_defaults():
    entry = {"type": "composite", "models": [{"type": "flat"}, {"type": "sqrt_impact"}]}
    resolved = registry.resolve("cost", entry, "costs")
    assert resolved["models"][0] == {"type": "flat", "bps": 10.0}
    assert resolved["models"][1]["beta"] == 0.5 and resolved["models"][1]["tier_adv"] == {1: 1e9, 2: 2e8, 3: 5e7}


@pytest.mark.parametrize("models, match", [
    ([{"type": "spread"}, {"type": "sqrt_impact", "eta": -1}], r"costs\.models\[1\]\.eta: Input should be greater"),
    ([{"type": "spred"}], r"costs\.models\[0\]\.type: unknown cost 'spred'\. Did you mean 'spread'\?"),
    ([{"type": "flat", "bsp": 3}], r"costs\.models\[0\]\.bsp: unknown key for 'flat'\. Valid keys: bps"),
    ([{"bps": 3}], r"costs\.models\[0\]: expected a mapping with a 'type' key"),
    ([], r"costs\.models: List should have at least 1 item"),
    ([{"type": "composite", "models": [{"type": "flat", "bps": -1}]}], r"costs\.models\[0\]\.models\[0\]\.bps"),
])
def test_sub_entry_errors_name_their_path(models, match):
    with pytest.raises(ConfigError, match=match):
        registry.resolve("cost", {"type": "composite", "models": models}, "costs")


def test_a_grid_can_vary_a_sub_model(tmp_path):
    close = price_frame(60, 3, seed=4)
    spread = {"type": "spread", "half_spread_bps": 0, "commission_per_share": 0, "min_commission": 0}
    cfg = csv_experiment(close, tmp_path, costs={"type": "composite", "models": [{"type": "flat", "bps": 5}, spread]},
                         scenarios={"grid": {"costs.models.1.half_spread_bps": [0, 20]}})
    res = simlab.run(cfg)
    first = res.trades[res.trades["date"] == res.trades["date"].min()]
    cost = first.groupby("scenario")["cost"].sum()
    value = first.groupby("scenario")["value"].apply(lambda v: v.abs().sum())
    np.testing.assert_allclose(cost / value, [5e-4, 25e-4], rtol=1e-9)
