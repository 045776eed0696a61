"""The compiled linear-cost fill equals the numpy fill it stands in for."""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.config.schema import ExecutionConfig
from simlab.costs.flat import FlatCost
from simlab.execution.fills import fill_linear, plan_fill


@dataclass(frozen=True)
class _NumpyFlat(FlatCost):
    """The same flat cost, hiding its linear rate so plan_fill takes the numpy path."""

    def linear_rate(self, n_scenarios):
        return None

    def __call__(self, value, shares, price, ctx=None):
        return super().__call__(value, shares, price, ctx)


def _book(rng, n_scen, n_assets):
    price = rng.uniform(1, 200, n_assets)
    price[rng.random(n_assets) < 0.15] = np.nan
    holdings = np.where(rng.random((n_scen, n_assets)) < 0.5, rng.uniform(0, 500, (n_scen, n_assets)), 0.0)
    cash = rng.uniform(-1000, 50_000, n_scen)
    value_price = np.nan_to_num(price)
    nav = cash + holdings @ value_price
    target = rng.dirichlet(np.ones(n_assets), n_scen) * rng.uniform(0.5, 1.3, (n_scen, 1))
    return holdings, cash, nav, price, target


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), fractional=st.booleans(), lot=st.sampled_from([1.0, 10.0]),
       min_value=st.sampled_from([0.0, 500.0]), leverage=st.sampled_from([1.0, 1.5]), capped=st.booleans())
def test_fill_linear_equals_plan_fill(seed, fractional, lot, min_value, leverage, capped):
    rng = np.random.default_rng(seed)
    holdings, cash, nav, price, target = _book(rng, 4, 7)
    bps = rng.uniform(0, 50, 4)
    exe = ExecutionConfig(fractional=fractional, lot_size=lot, min_trade_value=min_value, leverage=leverage)
    max_shares = np.where(rng.random(7) < 0.5, rng.uniform(0, 300, 7), np.inf) if capped else None
    ref = plan_fill(holdings, cash, nav, price, target, _NumpyFlat(bps=bps), exe, max_shares=max_shares)
    tradeable = np.isfinite(price)
    got = fill_linear(holdings, cash, nav, np.nan_to_num(price), tradeable, target, bps * 1e-4, exe, max_shares)
    scale = np.abs(holdings).max() + 1.0
    np.testing.assert_allclose(got.shares, ref.shares, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(got.cost, ref.cost, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(got.buy_scale, ref.buy_scale, rtol=1e-10)
    np.testing.assert_array_equal(got.blocked, ref.blocked)
    np.testing.assert_allclose(got.unfilled, ref.unfilled, rtol=1e-10, atol=1e-10 * scale)
    if max_shares is not None:
        assert (np.abs(got.shares) <= max_shares + 1e-9).all()


def test_engine_paths_agree_on_a_real_run():
    import simlab

    base = {"data": {"source": "synthetic", "n_assets": 12, "n_days": 600, "seed": 3, "benchmark": None},
            "strategy": {"type": "momentum", "lookback": 60, "skip": 5},
            "pipeline": [{"type": "equal_weight_top_n", "top_n": 4}],
            "execution": {"fractional": False, "lot_size": 5}}
    flat = simlab.run({**base, "costs": {"type": "flat", "bps": 25}}).nav
    from simlab.config import registry

    registry._REGISTRIES["cost"].setdefault("_numpy_flat_test", _NumpyFlat)
    try:
        numpy_path = simlab.run({**base, "costs": {"type": "_numpy_flat_test", "bps": 25}}).nav
    finally:
        registry._REGISTRIES["cost"].pop("_numpy_flat_test", None)
    np.testing.assert_allclose(flat.to_numpy(), numpy_path.to_numpy(), rtol=1e-11)
    assert not np.isnan(flat.to_numpy()).any()
    pytest.importorskip("numba")
