"""The production config with the design documents' own parameters: it loads, says what it
substitutes, and runs with the rules as written."""

from __future__ import annotations

import numpy as np

import simlab

AS_WRITTEN = "configs/experiments/production_value_momentum_as_written.yaml"


def test_as_written_config_holds_the_documents_parameters():
    cfg = simlab.load_config(AS_WRITTEN)
    exp = cfg.experiment
    assert exp.strategy["value_lookback"] == 252 and exp.strategy["value_skip"] == 0
    steps = {e["type"]: e for e in exp.pipeline}
    assert (steps["volatility_target"]["min_scale"], steps["volatility_target"]["max_scale"]) == (0.25, 1.5)
    assert steps["drawdown_breaker"]["hysteresis"] == 0.0
    assert list(steps["vix_regime"]["assets"]) == ["AGG", "TLT", "GLD", "USMV", "SPLV"]
    assert exp.execution.leverage == 1.5
    assert [m for m, _ in exp.claims.items()] == ["sharpe", "active_return"]


def test_as_written_config_runs_and_reports_the_missing_defensive_assets():
    d = simlab.load_config(AS_WRITTEN).to_dict()
    d["data"] = dict(d["data"], start="2018-06-01", end="2019-03-29")
    res = simlab.run(d)
    diag = res.diagnostics
    absent = diag[diag["key"].str.startswith("absent_defensive.")]["key"].unique()
    assert sorted(k.split(".", 1)[1] for k in absent) == ["AGG", "GLD", "SPLV", "TLT", "USMV"]
    assert np.isfinite(res.nav.to_numpy()).all()
