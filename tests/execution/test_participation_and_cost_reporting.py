"""Engine level: the participation cap carries the rest, and costs reach trades and metrics."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import simlab
from simlab.analysis import metrics
from simlab.execution.cost_inputs import trailing_volatility
from simlab.testing.builders import csv_experiment, price_frame

ADV = {"A0": 2e6, "A1": 4e6, "A2": 1e8, "A3": 1e8}  # money per day
CAP = 0.05


def experiment(tmp_path, **keys):
    close = price_frame(80, 4, seed=7)
    universe = tmp_path / "universe.yaml"
    universe.write_text(yaml.safe_dump({"name": "capped", "assets": {a: {"adv": v} for a, v in ADV.items()}}))
    return csv_experiment(close, tmp_path, universe=str(universe),
                          execution={"max_participation": CAP, "init_cash": 1e6}, **keys)


def real(trades):
    return trades[trades["value"].abs() > 1e-6]  # drop float dust from re-planning a carried order


def test_participation_cap_carries_the_rest_until_the_target_is_reached(tmp_path):
    res = simlab.run(experiment(tmp_path))
    trades = real(res.trades)
    first_month = trades[trades["date"] < trades["date"].min() + np.timedelta64(20, "D")]
    per_day = first_month.groupby(["asset", "date"])["value"].sum()
    # never above the cap on any day
    assert (per_day.abs().to_numpy() <= CAP * np.array([ADV[a] for a, _ in per_day.index]) * (1 + 1e-9)).all()
    # A0 needs 250,000 at 100,000 a day: 3 fill days, the last two carried; A1 needs 1 carried day
    days = first_month.groupby("asset")["date"].nunique()
    assert days["A0"] == 3 and days["A1"] == 2 and days["A2"] == 1
    carried = first_month[first_month["reason"] == "carried"]
    assert set(carried["asset"]) == {"A0", "A1"}
    assert carried["date"].min() > first_month["date"].min()
    # the shares filled over those days add up to the first day's target: a quarter of the book
    fill_day = first_month["date"].min()
    row = res.market.close.index.get_loc(fill_day)
    target = 0.25 * 1e6 / res.market.close.iloc[row]
    np.testing.assert_allclose(first_month.groupby("asset")["shares"].sum(), target, rtol=1e-9)
    diag = res.diagnostics
    unfilled = diag[(diag["key"] == "unfilled_orders") & (diag["date"] == fill_day)]
    assert unfilled["value"].iloc[0] == 2


def test_impact_costs_appear_per_trade_and_as_cost_drag(tmp_path):
    res = simlab.run(experiment(tmp_path, costs={"type": "sqrt_impact", "eta": 0.1, "gamma": 0.3}))
    trades = real(res.trades)
    vol = np.nan_to_num(trailing_volatility(res.market), nan=0.02)  # the default before 10 returns
    rows = res.market.close.index.get_indexer(trades["date"])
    cols = res.market.close.columns.get_indexer(trades["asset"])
    adv = np.array([ADV[a] for a in trades["asset"]])
    size = trades["value"].abs().to_numpy()
    x = size / adv
    expected = size * vol[rows, cols] * (0.1 * np.sqrt(x) + 0.15 * x)
    np.testing.assert_allclose(trades["cost"], expected, rtol=1e-9)
    m = res.metrics()
    assert m.loc["test", "total_costs"] == pytest.approx(res.trades["cost"].sum())
    drag = metrics.cost_drag(res.daily_costs(), res.nav)  # counting every day
    invested = metrics.drop_start_day(res.returns)["test"].count()  # the run's metrics count from the first fill
    assert m.loc["test", "cost_drag"] == pytest.approx(drag.iloc[0] * len(res.nav) / invested, rel=1e-9)
    assert drag.iloc[0] > 0
