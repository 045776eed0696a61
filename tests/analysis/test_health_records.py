"""The run's health read from its records equals the health read from its labelled tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.analysis.health import CASH_GROSS, INFEASIBLE_KEYS, RunHealth, ScenarioHealth, run_health
from simlab.analysis.run_series import step_name
from simlab.contract.roles import Role
from simlab.testing.builders import price_frame

BASE = {
    "name": "health",
    "data": {"source": "synthetic", "n_assets": 8, "n_days": 400, "seed": 5, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 42, "skip": 1},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}],
}


def health_from_tables(result) -> RunHealth:
    """The health measured on ``result.diagnostics``, ``result.weights`` and ``result.trades``."""
    diag = result.diagnostics
    steps = diag[diag["step"] != "engine"] if len(diag) else diag
    gross = result.gross_exposure
    cube = np.abs(result.weights.fillna(0.0)).sum("asset").to_numpy()
    assert np.allclose(gross.to_numpy(), cube, rtol=1e-12, atol=1e-15)
    trades = result.trades
    out = []
    for scenario in result.scenarios:
        own = steps[steps["scenario"] == scenario] if len(steps) else steps
        decisions = pd.DatetimeIndex(own["date"].unique()).sort_values().as_unit("ns") if len(own) else pd.DatetimeIndex([])
        fills = trades[trades["scenario"] == scenario] if len(trades) else trades
        fill_days = pd.DatetimeIndex(fills["date"].unique()).sort_values().as_unit("ns") if len(fills) else pd.DatetimeIndex([])
        series = gross[scenario]
        if len(decisions):
            series = series[series.index > decisions[0]]
        without = 0
        for k, day in enumerate(decisions):
            end = decisions[k + 1] if k + 1 < len(decisions) else pd.Timestamp.max
            without += not ((fill_days > day) & (fill_days <= end)).any()
        fallback_rows = own[(own["role"] == Role.FALLBACK.value) & (own["value"] > 0)] if len(own) else own
        fallbacks = {f"{step_name(step)}.{key}": int(part["date"].nunique())
                     for (step, key), part in fallback_rows.groupby(["step", "key"], sort=False)} if len(fallback_rows) else {}
        infeasible = own[own["key"].isin(INFEASIBLE_KEYS) & (own["value"] > 0)] if len(own) else own
        engine = diag[(diag["step"] == "engine") & (diag["scenario"] == scenario)] if len(diag) else diag
        rules = {}
        for key, (name, test) in {"gross_margin_scale": ("margin_scaled", lambda v: v < 1.0),
                                  "gross_margin_blocked": ("margin_blocked", lambda v: v > 0),
                                  "short_blocked": ("shorts_blocked", lambda v: v > 0)}.items():
            rows = engine[engine["key"] == key] if len(engine) else engine
            rules[name] = int(rows.loc[test(rows["value"]), "date"].nunique()) if len(rows) else 0
        exe = result.config.experiment.execution
        margin = exe.margin if exe.maintenance_margin is None else exe.maintenance_margin
        if margin is not None:
            rules["margin_breach_days"] = int((margin * series > 1.0 + 1e-9).sum())
        out.append(ScenarioHealth(
            scenario=str(scenario), days=len(series),
            cash_share=float((series < CASH_GROSS).mean()) if len(series) else 0.0,
            decisions=len(decisions), decisions_without_trade=int(without), trades=len(fills),
            fallbacks=fallbacks, infeasible_days=int(infeasible["date"].nunique()) if len(infeasible) else 0,
            **rules,
        ))
    return RunHealth(tuple(out))


CASES = {
    "grid, lag 1": {**BASE, "execution": {"lag": 1},
                    "scenarios": {"grid": {"pipeline.0.top_n": [1, 3, 8], "costs.bps": [0, 20]}}},
    "never trades": {**BASE, "strategy": {"type": "momentum", "lookback": 399, "skip": 1}},
    "mostly cash": {**BASE, "pipeline": [{"type": "equal_weight_top_n", "top_n": 2},
                                         {"type": "position_limit", "max_weight": 0.1}]},
    "weekly, no strategy": {**BASE, "strategy": None, "schedule": {"frequency": "weekly"},
                            "pipeline": [{"type": "equal_weight"}], "data": {**BASE["data"], "start": "2000-03-01"}},
}


@pytest.mark.parametrize("name", list(CASES))
def test_health_from_records_equals_health_from_tables(name):
    res = simlab.run(CASES[name])
    fast = run_health(res)
    assert fast == health_from_tables(res)
    assert fast.problems() == health_from_tables(res).problems()


def test_fallbacks_and_infeasible_days_from_records_equal_the_tables():
    close = price_frame(300, 6, seed=2)
    close.iloc[:150, 3:] = np.nan  # three assets listed late: a 0.2 cap cannot reach the budget before
    res = simlab.run({**BASE, "data": {"benchmark": None}, "strategy": None,
                      "pipeline": [{"type": "min_variance", "max_weight": 0.2, "window": 21}],
                      "scenarios": {"grid": {"pipeline.0.max_weight": [0.2, 0.6]}}}, data=close)
    fast = run_health(res)
    assert fast == health_from_tables(res)
    assert fast.scenarios[0].infeasible_days > 0 and fast.scenarios[0].fallbacks
    assert fast.scenarios[1].infeasible_days == 0
