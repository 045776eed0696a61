"""Cost models: values by hand, zero for no trade, monotone in size, the scaling property."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.config import registry
from simlab.config.schema import ExecutionConfig
from simlab.contract.cost import CostContext
from simlab.costs.borrow import BorrowFee, borrow_accrual
from simlab.costs.flat import FlatCost
from simlab.costs.spread import SpreadCost
from simlab.costs.sqrt_impact import SqrtImpact
from simlab.errors import ConfigError, SimlabWarning
from simlab.execution.fills import plan_fill

PRICE = np.array([50.0, 200.0, 10.0])


def call(model, shares, price=PRICE, ctx=None):
    shares = np.atleast_2d(np.asarray(shares, dtype=float))
    return model(shares * price, shares, price, ctx)


def impact_ctx(adv=(1e6, 4e6, np.nan), vol=(0.02, 0.01, 0.03), tiers=None):
    meta = None if tiers is None else pd.DataFrame({"liquidity_tier": tiers}, index=["A", "B", "C"])
    return CostContext(row=0, adv=np.asarray(adv, dtype=float), volatility=np.asarray(vol, dtype=float), meta=meta)


# ---------------------------------------------------------------- spread


def test_spread_by_hand():
    model = SpreadCost(half_spread_bps=5, commission_per_share=0.005, min_commission=1.0)
    cost = call(model, [[1000, -100, 0]])
    # 1000 x 50: 5 bps of 50,000 = 25 + 5.00 commission; 100 x 200: 10 + max(0.50, 1.00); no trade: 0
    np.testing.assert_allclose(cost, [[30.0, 11.0, 0.0]])


def test_spread_commission_cap_and_per_scenario_fields():
    capped = SpreadCost(half_spread_bps=0, commission_per_share=0.005, min_commission=1.0, max_commission_bps=100)
    np.testing.assert_allclose(call(capped, [[0.5, 1, 20]]), [[0.25, 1.0, 1.0]])  # 1% of $25, $200, $200
    batched = SpreadCost(half_spread_bps=np.array([0.0, 10.0]), commission_per_share=0.0, min_commission=0.0)
    np.testing.assert_allclose(call(batched, [[100, 0, 0], [100, 0, 0]]), [[0.0, 0, 0], [5.0, 0, 0]])
    np.testing.assert_allclose(batched.linear_rate(2), [0.0, 1e-3])
    assert SpreadCost().linear_rate(1) is None


def test_spread_minimum_breaks_the_scaling_property_by_at_most_the_minimum():
    model = SpreadCost(half_spread_bps=5, commission_per_share=0.005, min_commission=1.0)
    x = np.array([[100.0, 1000.0, 10.0]])
    for s in (0.1, 0.5, 0.9):
        excess = call(model, s * x) - s * call(model, x)
        assert (excess <= (1 - s) * 1.0 + 1e-12).all()
    assert (call(model, 0.1 * x) > 0.1 * call(model, x)).any()  # the property does not hold


def test_fit_buys_overshoot_from_the_minimum_is_bounded():
    # three buys that cash cannot cover: scaled by s, cash may end at most (1 - s) * $1 per buy below 0
    model = SpreadCost(half_spread_bps=5, commission_per_share=0.005, min_commission=1.0)
    holdings, cash, nav = np.zeros((1, 3)), np.array([1000.0]), np.array([1000.0])
    fill = plan_fill(holdings, cash, nav, PRICE, np.array([[0.4, 0.4, 0.4]]), model, ExecutionConfig())
    spent = (fill.shares * PRICE).sum() + fill.cost.sum()
    s = fill.buy_scale[0]
    assert s < 1 and spent > cash[0]
    assert spent - cash[0] <= 3 * (1 - s) * 1.0 + 1e-9


# ---------------------------------------------------------------- sqrt impact


def test_sqrt_impact_by_hand():
    model = SqrtImpact(eta=0.1, beta=0.5, gamma=0.2)
    shares = np.array([[2000.0, -2000.0, 0.0]])  # $100,000 in A (ADV 1e6), -$400,000 in B (ADV 4e6)
    cost = call(model, shares, ctx=impact_ctx(adv=(1e6, 4e6, 1e6)))
    # |V| sigma (eta sqrt(x) + gamma/2 x), x = 0.1 in both
    per_dollar = 0.1 * np.sqrt(0.1) + 0.1 * 0.1
    np.testing.assert_allclose(cost, [[1e5 * 0.02 * per_dollar, 4e5 * 0.01 * per_dollar, 0.0]])


def test_sqrt_impact_per_scenario_fields():
    model = SqrtImpact(eta=np.array([0.1, 0.2]), beta=np.array([0.5, 1.0]), gamma=0.0)
    shares = np.array([[2000.0, 0, 0], [2000.0, 0, 0]])  # x = 0.1 of ADV in A
    cost = call(model, shares, ctx=impact_ctx(adv=(1e6, 4e6, 1e6)))
    np.testing.assert_allclose(cost[:, 0], [1e5 * 0.02 * 0.1 * np.sqrt(0.1), 1e5 * 0.02 * 0.2 * 0.1])


def test_sqrt_impact_adv_from_tiers_then_fallback():
    model = SqrtImpact(eta=1.0, gamma=0.0, tier_adv={1: 1e9, 2: 1e8})
    ctx = impact_ctx(adv=(np.nan, 4e6, np.nan), tiers=[2, 1, None])
    with pytest.warns(SimlabWarning, match=r"no ADV for C; .* fallback ADV 100,000,000"):
        adv = model.adv(3, ctx)
    np.testing.assert_allclose(adv, [1e8, 4e6, 1e8])  # tier 2; data wins over tier 1; least liquid tier
    with pytest.warns(SimlabWarning, match="fallback ADV 5,000"):
        np.testing.assert_allclose(SqrtImpact(default_adv=5e3).adv(3, impact_ctx()), [1e6, 4e6, 5e3])


def test_sqrt_impact_missing_volatility_uses_the_default():
    model = SqrtImpact(eta=1.0, gamma=0.0, default_volatility=0.05)
    ctx = impact_ctx(adv=(1e6, 1e6, 1e6), vol=(np.nan, 0.01, 0.01))
    cost = call(model, [[2e4, 0, 0]], ctx=ctx)  # $1e6 = ADV: x = 1
    assert cost[0, 0] == pytest.approx(1e6 * 0.05)


def test_sqrt_impact_needs_some_fallback_adv():
    with pytest.raises(ConfigError, match="tier_adv or default_adv"):
        registry.resolve("cost", {"type": "sqrt_impact", "tier_adv": {}}, "costs")
    assert SqrtImpact.requires == frozenset({"adv", "volatility"})


# ---------------------------------------------------------------- shared properties

MODELS = {
    "flat": (FlatCost(bps=7), None),
    "spread": (SpreadCost(), None),
    "spread_capped": (SpreadCost(max_commission_bps=50), None),
    "sqrt_impact": (SqrtImpact(), impact_ctx(adv=(1e6, 4e6, 2e5))),
    "sqrt_impact_b06": (SqrtImpact(beta=0.6), impact_ctx(adv=(1e6, 4e6, 2e5))),
}
SUPERLINEAR = ("flat", "sqrt_impact", "sqrt_impact_b06")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zero_for_no_trade_non_negative_and_symmetric(name):
    model, ctx = MODELS[name]
    np.testing.assert_array_equal(call(model, np.zeros((2, 3)), ctx=ctx), 0.0)
    x = np.random.default_rng(1).normal(0, 1000, (4, 3))
    assert (call(model, x, ctx=ctx) >= 0).all()
    np.testing.assert_allclose(call(model, x, ctx=ctx), call(model, -x, ctx=ctx))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_monotone_in_trade_size(name):
    model, ctx = MODELS[name]
    sizes = np.linspace(0, 50_000, 201)
    shares = np.stack([sizes, sizes / 4, sizes * 5], axis=1)
    cost = call(model, shares, ctx=ctx)
    assert (np.diff(cost, axis=0) >= -1e-12).all()


@pytest.mark.parametrize("name", SUPERLINEAR)
def test_scaling_a_trade_down_scales_its_cost_at_least_as_much(name):
    model, ctx = MODELS[name]
    x = np.random.default_rng(2).normal(0, 20_000, (5, 3))
    for s in (0.0, 0.01, 0.3, 0.99, 1.0):
        assert (call(model, s * x, ctx=ctx) <= s * call(model, x, ctx=ctx) * (1 + 1e-12) + 1e-12).all()


# ---------------------------------------------------------------- borrow


def test_borrow_charges_nothing_at_a_fill_and_accrues_daily_on_short_value():
    model = BorrowFee(rate=0.01, hard_to_borrow_rate=0.2, periods=250)
    np.testing.assert_array_equal(call(model, [[-100, 50, 0]]), 0.0)
    np.testing.assert_array_equal(model.linear_rate(2), [0.0, 0.0])
    assert BorrowFee.accrues
    holdings = np.array([[-100.0, 50.0, -10.0], [0.0, -1.0, 0.0]])
    meta = pd.DataFrame({"hard_to_borrow": [False, True, None]}, index=["A", "B", "C"])
    fee = model.accrual(holdings, PRICE, meta)
    # A: $5,000 short at 1% / 250; C: $100 short at 1% / 250; B: $200 short, hard to borrow at 20% / 250
    np.testing.assert_allclose(fee, [[5000 * 0.01 / 250, 0.0, 100 * 0.01 / 250], [0.0, 200 * 0.2 / 250, 0.0]])
    no_price = borrow_accrual(holdings, np.array([50.0, np.nan, 10.0]), 0.01)
    np.testing.assert_allclose(no_price, [[50.0, 0, 1.0], [0, 0, 0]])
