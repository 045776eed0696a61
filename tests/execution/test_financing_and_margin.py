"""Financing of cash, the margin requirement and restricted shorts, with hand-checked numbers.

The engine cases run on constant prices (every asset at 100), where NAV is cash plus a
long and a short that offset exactly, so each number follows from the rules by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.contract.step import Step
from simlab.errors import ConfigError
from simlab.execution.margin import margin_targets, restricted_targets
from simlab.kernels.accounting import mark_to_market_financed_nb, mark_to_market_nb
from simlab.testing.builders import csv_experiment

# --------------------------------------------------------------------------- the kernel


def test_kernel_accrues_interest_on_the_cash_held_since_the_previous_close():
    """Scenario 0: cash 2000 earning 0.05% a day, short 10 shares at 100 paying 0.02% a day;
    scenario 1: cash -500 paying 0.1% a day, long 10 shares. The book opened at row 0's
    close (``accrue_from`` 1)."""
    holdings = np.array([[-10.0], [10.0]])
    cash = np.array([2000.0, -500.0])
    price = np.full((3, 1), 100.0)
    nav, fees, financing = np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2))
    rates = np.array([[0.001, 0.0005], [0.001, 0.0005]])
    borrow = np.array([[0.0002], [0.0002]])
    mark_to_market_financed_nb(holdings, cash, price, np.array([-1]), 0, 3, nav, np.zeros(2), np.zeros((2, 1)),
                               borrow, fees, rates, financing, 1)
    # scenario 0, by hand: row 0 fee 0.2 -> 1999.8; row 1 interest 0.9999, fee 0.2 -> 2000.5999;
    # row 2 interest 2000.5999 * 0.0005 = 1.00029995, fee 0.2 -> 2001.40019995
    np.testing.assert_allclose(financing[:, 0], [0.0, 0.9999, 1.00029995], rtol=1e-12)
    np.testing.assert_allclose(fees[:, 0], [0.2, 0.2, 0.2], rtol=1e-12)
    np.testing.assert_allclose(nav[:, 0], [999.8, 1000.5999, 1001.40019995], rtol=1e-12)
    # scenario 1: -500 -> -500.5 -> -501.0005 (interest -0.5, -0.5005); a long pays no borrow fee
    np.testing.assert_allclose(financing[:, 1], [0.0, -0.5, -0.5005], rtol=1e-12)
    np.testing.assert_allclose(nav[:, 1], [500.0, 499.5, 498.9995], rtol=1e-12)
    assert cash[1] == pytest.approx(-501.0005, rel=1e-12)


def test_kernel_without_rates_is_the_unfinanced_kernel_bit_for_bit():
    rng = np.random.default_rng(3)
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (30, 4)), axis=0))
    args = lambda: (rng_h.copy(), rng_c.copy())  # noqa: E731
    rng_h, rng_c = rng.uniform(-5, 5, (2, 4)), rng.uniform(-100, 100, 2)
    outs = []
    for financed in (False, True):
        h, c = args()
        nav, fees = np.zeros((30, 2)), np.zeros((30, 2))
        common = (h, c, price, np.full(4, -1), 0, 30, nav, np.zeros(2), np.zeros((2, 4)), np.full((2, 4), 1e-4), fees)
        if financed:
            mark_to_market_financed_nb(*common, np.zeros((0, 2)), np.zeros((30, 2)), 0)
        else:
            mark_to_market_nb(*common)
        outs.append((nav, fees, c))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- the rules


def test_margin_scale_brings_the_target_to_its_limit():
    targets = np.array([[1.5, -1.5], [0.5, -0.5]])
    out, trade, diag = margin_targets(targets, np.zeros((2, 2)), 0.5, "scale")
    np.testing.assert_allclose(out, [[1.0, -1.0], [0.5, -0.5]])
    np.testing.assert_array_equal(trade, [True, True])
    np.testing.assert_allclose(diag["gross_margin_scale"], [2 / 3, 1.0])
    np.testing.assert_allclose(diag["gross_margin_used"], [1.0, 0.5])


def test_margin_block_stops_a_levering_order_but_not_a_derisking_one():
    targets = np.array([[1.5, -1.5], [1.5, -1.5]])
    current = np.array([[0.5, -0.5], [2.0, -2.0]])  # the second book is already past its limit
    out, trade, diag = margin_targets(targets, current, 0.5, "block")
    np.testing.assert_array_equal(trade, [False, True])
    np.testing.assert_array_equal(diag["gross_margin_blocked"], [1.0, 0.0])
    np.testing.assert_array_equal(out, targets)


def test_restricted_name_keeps_or_covers_its_short_but_never_adds_to_it():
    targets = np.array([[0.5, -0.3, -0.2], [0.5, -0.3, -0.2], [0.5, -0.05, -0.2]])
    current = np.array([[0.0, 0.1, 0.0], [0.0, -0.1, 0.0], [0.0, -0.1, 0.0]])
    out, diag = restricted_targets(targets, current, np.array([False, True, False]))
    np.testing.assert_allclose(out[:, 1], [0.0, -0.1, -0.05])  # sold to 0; kept at -0.1; covered
    np.testing.assert_array_equal(diag["short_blocked"], [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(out[:, [0, 2]], targets[:, [0, 2]])  # other names untouched


# --------------------------------------------------------------------------- the engine


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """Three assets at 100 every day for 30 business days, and a folder."""
    folder = tmp_path_factory.mktemp("financing")
    close = pd.DataFrame(100.0, index=pd.bdate_range("2021-01-04", periods=30, name="date"),
                         columns=pd.Index(["A0", "A1", "A2"]))
    return close, folder


@dataclass(frozen=True)
class FixedLongShort(Step):
    """Test Step: long A0 and short A1 by ``size`` each, every decision."""

    size: float = 0.5

    def __call__(self, weights, ctx):
        w = np.zeros(weights.shape)
        w[:, 0], w[:, 1] = self.size, -self.size
        return w, {}


def run_flat(flat, register_temporarily, execution, size=0.5, universe=None, name="flat.csv"):
    close, folder = flat
    register_temporarily("step", "test_fixed_long_short")(FixedLongShort)
    keys = {"execution": {"lag": 1, "init_cash": 1_000_000, **execution},
            "pipeline": [{"type": "test_fixed_long_short", "size": size}], "schedule": {"frequency": "monthly"}}
    if universe is not None:
        keys["universe"] = universe
    return simlab.run(csv_experiment(close, folder, name=name, **keys))


def test_dollar_neutral_book_earns_the_credit_rate_on_all_its_cash(flat, register_temporarily):
    """Long 50%, short 50% at 100: cash stays at 1,000,000 (short proceeds fund the long) and
    compounds at 2% / 252 a day from the second day on."""
    res = run_flat(flat, register_temporarily, {"cash_credit_rate": 0.02, "cash_borrow_rate": 0.05})
    days = np.arange(30)
    np.testing.assert_allclose(res.nav.iloc[:, 0].to_numpy(), 1e6 * (1 + 0.02 / 252) ** days, rtol=1e-13)
    financing = res.daily_financing().iloc[:, 0]
    assert financing.iloc[0] == 0.0
    assert financing.iloc[1] == pytest.approx(1e6 * 0.02 / 252, rel=1e-13)
    assert res.metrics()["total_financing"].iloc[0] == pytest.approx(1e6 * ((1 + 0.02 / 252) ** 29 - 1), rel=1e-12)
    held = res.weights.isel(date=-1).sel(asset=["A0", "A1"]).values[0]
    assert held[0] > 0.49 and held[1] < -0.49


def test_margin_scales_a_3x_order_to_2x(flat, register_temporarily):
    res = run_flat(flat, register_temporarily, {"margin": 0.5}, size=1.5, name="margin.csv")
    shares = res.trades.groupby("asset")["shares"].sum()
    assert shares["A0"] == pytest.approx(10_000) and shares["A1"] == pytest.approx(-10_000)
    diag = res.diagnostics
    scale = diag[(diag.key == "gross_margin_scale")]["value"]
    assert scale.iloc[0] == pytest.approx(2 / 3, rel=1e-12)
    problems = " ".join(res.health().problems())
    assert "margin requirement scaled the order down" in problems


def test_margin_block_keeps_the_book_in_cash(flat, register_temporarily):
    res = run_flat(flat, register_temporarily, {"margin": 0.5, "margin_action": "block"}, size=1.5, name="block.csv")
    assert len(res.trades) == 0
    assert (res.nav.iloc[:, 0] == 1e6).all()
    blocked = res.diagnostics.query("key == 'gross_margin_blocked'")["value"]
    assert (blocked == 1.0).all() and len(blocked) > 0


def test_restricted_name_is_not_shorted_at_the_fill(flat, register_temporarily, tmp_path):
    universe = tmp_path / "universe.yaml"
    universe.write_text("name: three\nassets:\n  A0: {}\n  A1: {restricted: true}\n  A2: {}\n")
    res = run_flat(flat, register_temporarily, {}, universe=str(universe), name="restricted.csv")
    assert "A1" not in set(res.trades["asset"])
    assert (res.diagnostics.query("key == 'short_blocked'")["value"] >= 1).any()


def test_maintenance_margin_above_the_initial_one_is_refused(flat, register_temporarily):
    with pytest.raises(ConfigError, match="maintenance_margin"):
        run_flat(flat, register_temporarily, {"margin": 0.3, "maintenance_margin": 0.5}, name="bad.csv")
