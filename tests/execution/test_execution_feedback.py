"""Execution feedback: realized against estimated costs, slippage statistics, and an impact
model that recalibrates itself from realized fills, point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.analysis import slippage
from simlab.contract.cost import CostContext, FillHistory
from simlab.costs.adaptive import AdaptiveImpact
from simlab.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore::simlab.errors.SimlabWarning")  # fallback ADV: no volume data

TRUE = {"type": "sqrt_impact", "eta": 0.142, "gamma": 0.0, "default_adv": 2e7}


def experiment(costs, realized=TRUE, noise=0.3):
    out = {"name": "feedback", "data": {"source": "synthetic", "n_assets": 8, "n_days": 1000, "seed": 5},
           "schedule": {"frequency": "weekly"}, "execution": {"init_cash": 1e8},
           "strategy": {"type": "momentum", "lookback": 20, "skip": 0}, "costs": costs,
           "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}]}
    if realized is not None:
        out["realized_costs"] = {"model": realized, "noise": noise, "seed": 11}
    return out


@pytest.fixture(scope="module")
def runs():
    return {
        "true": simlab.run(experiment(TRUE)),
        "off3": simlab.run(experiment(dict(TRUE, eta=3 * 0.142))),
        "adaptive": simlab.run(experiment(dict(TRUE, type="adaptive_impact", eta=3 * 0.142, min_fills=20))),
    }


def test_calibration_from_a_model_three_times_off_converges_to_the_truth(runs):
    diag = runs["adaptive"].diagnostics
    eta = diag[(diag["step"] == "costs") & (diag["key"] == "eta")].set_index("date")["value"]
    assert eta.iloc[0] == pytest.approx(3 * 0.142)  # the prior, before any fill
    assert abs(eta.iloc[-1] / 0.142 - 1.0) < 0.10
    late = eta.iloc[len(eta) // 2:]
    assert (abs(late / 0.142 - 1.0) < 0.10).all()


def test_cost_drag_of_the_adaptive_run_approaches_the_well_specified_run(runs):
    drag = {k: float(r.metrics()["cost_drag"].iloc[0]) for k, r in runs.items()}
    assert abs(drag["adaptive"] - drag["true"]) < 0.1 * abs(drag["off3"] - drag["true"])
    trades = {k: r.trades for k, r in runs.items()}
    late = {k: t[t["date"] >= t["date"].iloc[len(t) // 2]] for k, t in trades.items()}
    ratio = {k: t["estimated_cost"].sum() / t["realized_cost"].sum() for k, t in late.items()}
    assert ratio["off3"] == pytest.approx(3.0, rel=0.1)
    assert ratio["adaptive"] == pytest.approx(1.0, rel=0.1)


def test_book_pays_the_realized_cost_and_trades_show_both(runs):
    t = runs["off3"].trades
    assert {"estimated_cost", "realized_cost"} <= set(t.columns)
    np.testing.assert_array_equal(t["cost"], t["realized_cost"])
    paid = runs["off3"].daily_costs().sum().iloc[0]
    assert paid == pytest.approx(t["realized_cost"].sum(), rel=1e-12)


def test_without_noise_the_true_model_equal_to_the_decisions_changes_nothing():
    plain = simlab.run(experiment(TRUE, realized=None))
    same = simlab.run(experiment(TRUE, realized=TRUE, noise=0.0))
    pd.testing.assert_frame_equal(plain.nav, same.nav)
    assert "estimated_cost" not in plain.trades.columns
    np.testing.assert_array_equal(same.trades["estimated_cost"], same.trades["realized_cost"])


def test_realized_noise_is_seeded_and_reproducible():
    one = simlab.run(experiment(TRUE)).trades["realized_cost"]
    two = simlab.run(experiment(TRUE)).trades["realized_cost"]
    np.testing.assert_array_equal(one, two)


def test_adaptive_model_uses_only_fills_before_the_row():
    model = AdaptiveImpact(eta=0.3, gamma=0.0, default_adv=1e7, min_fills=2)
    k = 6
    hist = FillHistory(row=np.array([10, 11, 12, 20, 21, 22]), scenario=np.zeros(k, dtype=np.int64),
                       asset=np.zeros(k, dtype=np.int64), value=np.full(k, 1e6), adv=np.full(k, 1e7),
                       volatility=np.full(k, 0.02), realized=np.array([1.0, 1.0, 1.0, 1e9, 1e9, 1e9]))
    prior = 1e6 * 0.02 * 0.3 * np.sqrt(0.1)
    at_15 = model.scale(1, CostContext(row=15, assets=("A",), fill_history=hist))
    assert at_15[0] == pytest.approx(1.0 / prior)  # rows 20+ are in the future at row 15
    at_20 = model.scale(1, CostContext(row=20, assets=("A",), fill_history=hist))
    assert at_20[0] == pytest.approx(1.0 / prior)  # row 20's own fills are not yet known
    assert model.scale(1, CostContext(row=11, assets=("A",), fill_history=hist))[0] == 1.0  # 1 < min_fills


def test_realized_costs_model_is_validated_at_load():
    bad = experiment(TRUE, realized={"type": "sqrt_impactt"})
    with pytest.raises(ConfigError, match="realized_costs.model"):
        simlab.load_config(bad)


def test_slippage_statistics_by_side_size_and_time(runs):
    fills = slippage.slippage_fills(runs["off3"].trades)
    assert set(fills["side"]) == {"buy", "sell"}
    np.testing.assert_allclose(fills["slippage_bps"], fills["realized_bps"] - fills["estimated_bps"])
    by_side = slippage.slippage_summary(fills, "side")
    assert by_side["fills"].sum() == len(fills)
    assert (by_side["slippage_mean"] < 0).all()  # the decisions assumed three times the true impact
    by_size = slippage.slippage_summary(fills, "size_bucket")
    assert list(by_size.index) == ["Q1", "Q2", "Q3", "Q4"]
    assert by_size["realized_p50"].is_monotonic_increasing  # square-root impact grows with size
    drift = slippage.slippage_drift(fills)
    assert len(drift) >= 3 and drift["estimated_bps"].notna().all()
    adaptive = slippage.slippage_drift(slippage.slippage_fills(runs["adaptive"].trades))
    assert abs(adaptive["slippage_bps"].iloc[-1]) < abs(adaptive["slippage_bps"].iloc[0])


def test_slippage_without_estimates_says_what_to_do():
    with pytest.raises(DataError, match="realized_costs"):
        slippage.slippage_fills(pd.DataFrame({"value": [1.0], "cost": [0.1]}))


def test_conformance_catches_a_model_that_learns_from_todays_fills(register_temporarily):
    from dataclasses import dataclass, replace

    from simlab.errors import LookaheadError
    from simlab.testing import check_component

    @dataclass(frozen=True)
    class Peeking(AdaptiveImpact):
        def fit(self, n_scenarios, ctx):
            if ctx is None or ctx.fill_history is None:
                return super().fit(n_scenarios, ctx)
            return super().fit(n_scenarios, replace(ctx, row=ctx.row + 10_000))

    register_temporarily("cost", "peeking_impact")(Peeking)
    with pytest.raises(LookaheadError, match="fills of that row or later"):
        check_component("cost", "peeking_impact")
    check_component("cost", "adaptive_impact")


def test_attribution_reports_slippage_when_costs_are_realized(runs):
    from simlab.analysis.attribution import attribution_of

    att = attribution_of(runs["off3"], factor_sets=("market",))
    assert att.slippage.loc["feedback", "fills"] == len(runs["off3"].trades)
    assert "Slippage: realized against estimated cost" in att.format()


def test_spread_and_impact_calibrated_together():
    true = {"type": "composite", "models": [{"type": "spread", "half_spread_bps": 5.0, "commission_per_share": 0.0},
                                            dict(TRUE)]}
    cfg = experiment(dict(TRUE, type="adaptive_impact", eta=3 * 0.142, half_spread_bps=15.0), realized=true)
    cfg["data"]["n_days"] = 2500
    diag = simlab.run(cfg).diagnostics
    costs = diag[diag["step"] == "costs"]
    eta = costs[costs["key"] == "eta"]["value"]
    spread = costs[costs["key"] == "half_spread_bps"]["value"]
    assert eta.iloc[0] == pytest.approx(0.426) and spread.iloc[0] == pytest.approx(15.0)
    assert abs(eta.iloc[-1] / 0.142 - 1.0) < 0.10
    assert abs(spread.iloc[-1] / 5.0 - 1.0) < 0.15
