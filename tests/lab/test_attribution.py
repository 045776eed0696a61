"""Result.attribution(), attribution by pipeline stage, and ``simlab attribute``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.cli import main as cli_main
from simlab.lab.stage_attribution import stage_attribution, stage_scenarios

CONFIG = {
    "name": "attribution_small",
    "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index", "start": "2014-06-01",
             "end": "2018-12-28"},
    "universe": str(Path(__file__).resolve().parents[2] / "configs/universes/sp500_20.yaml"),
    "costs": {"type": "flat", "bps": 10},
    "strategy": {"type": "momentum", "lookback": 252, "skip": 21},
    "pipeline": [{"type": "equal_weight"}],
    "scenarios": {"list": [
        {"name": "ew", "pipeline": [{"type": "equal_weight"}]},
        {"name": "top5_capped", "pipeline": [{"type": "signal_weighted", "top_n": 8},
                                             {"type": "position_limit", "max_weight": 0.15}]},
    ]},
}


@pytest.fixture(scope="module")
def result():
    return simlab.run(CONFIG)


@pytest.fixture(scope="module")
def attribution(result):
    return result.attribution()


def test_factor_tables_cover_every_set_and_scenario(attribution):
    assert set(attribution.factors) == {"market", "ff3", "etf"}
    for table in attribution.factors.values():
        assert list(table.index) == ["ew", "top5_capped"]
        assert np.isfinite(table.drop(columns=["nobs", "lags"]).to_numpy(float)).all()
    assert attribution.factors["market"].loc["ew", "beta:MKT"] == pytest.approx(1.0, abs=0.25)
    assert (attribution.factors["ff3"]["nobs"] >= 40).all()  # 2014-07 .. 2018-11


def test_rolling_beta_per_scenario(attribution):
    beta = attribution.rolling_beta
    assert list(beta.columns) == ["ew", "top5_capped"]
    assert beta["ew"].dropna().between(0.5, 1.5).all()


def test_risk_components_add_to_the_total_by_asset_and_by_sector(attribution):
    risk = attribution.risk
    for scen, rows in risk.groupby("scenario"):
        total = rows[rows["level"] == "total"].iloc[0]
        for level in ("asset", "sector"):
            part = rows[rows["level"] == level]
            for measure in ("volatility", "var", "cvar"):
                assert abs(part[measure].sum() - total[measure]) <= 1e-12 * abs(total[measure])


def test_brinson_effects_add_to_active_and_residual_is_small(attribution):
    b = attribution.brinson
    np.testing.assert_allclose(b["sum_of_effects"], b["active"], atol=1e-12)
    # The equal-weight book is the benchmark, up to drift between rebalances and costs.
    assert abs(b.loc["ew", "active"]) < 0.01
    assert (b["trading_and_costs"].abs() < 0.05).all()


def test_holdings_exposures_at_every_rebalance(result, attribution):
    h = attribution.holdings
    ew = h[(h["scenario"] == "ew")]
    sectors = ew[ew["key"].str.startswith("sector:")].groupby("date")["value"].sum()
    cash = ew[ew["key"] == "cash"].set_index("date")["value"]
    np.testing.assert_allclose(sectors + cash.reindex(sectors.index), 1.0, atol=1e-12)
    assert {"beta", "volatility"} <= set(h["key"])
    trade_dates = set(result.trades.loc[result.trades["scenario"] == "ew", "date"])
    assert set(ew["date"]) <= trade_dates


def test_stages_telescope_to_the_full_pipeline_and_match_the_run(result, attribution):
    stages = attribution.stages
    metrics = result.metrics()
    top = stages.loc["top5_capped"]
    assert list(top.index) == ["1/N", "signal", "0:signal_weighted", "1:position_limit"]
    assert top.loc["1/N", "cagr"] + top["d_cagr"].iloc[1:].sum() == pytest.approx(top["cagr"].iloc[-1], abs=1e-12)
    # The last stage is the scenario itself, run in another batch: same numbers.
    assert top["cagr"].iloc[-1] == pytest.approx(metrics.loc["top5_capped", "cagr"], abs=1e-12)
    assert stages.loc[("ew", "0:equal_weight"), "cagr"] == pytest.approx(metrics.loc["ew", "cagr"], abs=1e-12)
    # ew has no signal stage (equal_weight ignores the signal) and its only Step is 1/N: zero contribution.
    assert list(stages.loc["ew"].index) == ["1/N", "0:equal_weight"]
    assert stages.loc[("ew", "0:equal_weight"), "d_cagr"] == 0.0


def test_identical_prefixes_run_once(result):
    prefixes, plan = stage_scenarios(result.config.scenarios)
    assert len(prefixes) == 4  # 1/N (shared), signal, signal_weighted, + position_limit
    assert plan["ew"][0][1] == plan["top5_capped"][0][1]


def test_stage_attribution_without_strategy_starts_at_one_over_n():
    res = simlab.run({"name": "s", "data": {"source": "synthetic", "n_assets": 5, "n_days": 300, "seed": 2},
                      "pipeline": [{"type": "inverse_volatility", "window": 20}]})
    table = stage_attribution(res.config, res.market)
    assert table["cagr"].iloc[-1] == pytest.approx(res.metrics()["cagr"].iloc[0], abs=1e-12)
    assert list(table.index.get_level_values("stage")) == ["1/N", "0:inverse_volatility"]


def test_cli_attribute_prints_exposures_and_stages(capsys, tmp_path, monkeypatch):
    import yaml

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    code = cli_main(["attribute", str(config), "--factors", "market", "--out", str(tmp_path / "att")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Factor exposures (market" in out and "Attribution by pipeline stage" in out and "Brinson" in out
    assert (tmp_path / "att" / "stages.csv").is_file()
    assert pd.read_csv(tmp_path / "att" / "factors_market.csv")["scenario"].tolist() == ["ew", "top5_capped"]


def test_cli_attribute_names_a_bad_factor_set(capsys):
    assert cli_main(["attribute", "whatever.yaml", "--factors", "market,ff5"]) == 1
    assert "unknown set(s) ff5" in capsys.readouterr().err


def test_report_shows_the_given_attribution_with_its_stages(result, attribution):
    from simlab.analysis.report import build_report

    html = build_report(result, attribution=attribution, draws=50)
    assert '<section id="attribution">' in html
    assert "Attribution by pipeline stage" in html and "top5_capped | 1:position_limit" in html
    assert "Fama-French 3, monthly excess" in html
