"""``simlab validate``: exit codes, the printed verdict table, claims.json and claims.csv."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

import simlab
from simlab.cli import main
from simlab.lab.validate import validate

PRODUCTION = "configs/experiments/production_value_momentum.yaml"


def write_config(folder, claims: dict, name: str = "validate_test"):
    config = {
        "name": name,
        "data": {"source": "synthetic", "n_assets": 10, "n_days": 1500, "seed": 1, "benchmark": None},
        "pipeline": [{"type": "equal_weight"}],
        "seed": 7,
        "claims": claims,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_passing_claims_exit_zero(tmp_path, capsys):
    path = write_config(tmp_path, {"sharpe": {"min": -5.0}, "max_drawdown": {"max": 0.95}})
    assert main(["validate", str(path), "--draws", "200"]) == 0
    out = capsys.readouterr().out
    assert "sharpe >= -5: PASS" in out and "max_drawdown <= 95%: PASS" in out
    assert "verdict: PASS (exit code 0)" in out
    for header in ["claim", "estimate", "95% interval", "PSR", "DSR", "MinTRL", "walk-forward", "verdict"]:
        assert header in out


def test_a_failing_claim_exits_non_zero(tmp_path, capsys):
    path = write_config(tmp_path, {"sharpe": {"min": 3.0}, "max_drawdown": {"max": 0.95}})
    assert main(["validate", str(path), "--draws", "200"]) == 1
    out = capsys.readouterr().out
    assert "sharpe >= 3: FAIL" in out and "below the claimed minimum 3" in out
    assert "verdict: FAIL (exit code 1)" in out


def test_an_inconclusive_claim_fails_only_when_strict(tmp_path, capsys):
    path = write_config(tmp_path, {"sharpe": {"min": 0.0}})
    assert main(["validate", str(path), "--draws", "200"]) == 0
    assert "sharpe >= 0: INCONCLUSIVE" in capsys.readouterr().out
    assert main(["validate", str(path), "--draws", "200", "--strict"]) == 1


def test_out_writes_the_run_folder_with_the_claims(tmp_path):
    path = write_config(tmp_path, {"sharpe": {"min": 3.0}, "annual_volatility": {"max": 0.5}})
    out = tmp_path / "run"
    assert main(["validate", str(path), "--draws", "100", "--out", str(out)]) == 1
    doc = json.loads((out / "claims.json").read_text())
    assert doc["verdicts"] == {"sharpe >= 3": "FAIL", "annual_volatility <= 50%": "PASS"}
    assert doc["seed"] == 7 and doc["draws"] == 100 and doc["exit_code"] == 1
    table = pd.read_csv(out / "claims.csv")
    assert list(zip(table["metric"], table["verdict"])) == [("annual_volatility", "PASS"), ("sharpe", "FAIL")]
    assert (out / "metrics.json").exists() and (out / "config.yaml").exists()


def test_no_claims_is_no_failure(tmp_path, capsys):
    path = write_config(tmp_path, {})
    assert main(["validate", str(path), "--draws", "50"]) == 0
    out = capsys.readouterr().out
    assert "no claims" in out and "verdict: no claims (exit code 0)" in out


def test_a_bad_claim_is_a_config_error(tmp_path, capsys):
    path = write_config(tmp_path, {"sharp": {"min": 1.0}})
    assert main(["validate", str(path)]) == 1
    assert "claims.sharp: unknown key. Did you mean 'sharpe'?" in capsys.readouterr().err


def test_several_scenarios_get_the_pairwise_equal_sharpe_test(tmp_path):
    config = yaml.safe_load(write_config(tmp_path, {"sharpe": {"min": 0.0}}).read_text())
    config["scenarios"] = {"list": [{"name": "ew"}, {"name": "iv", "pipeline": [{"type": "inverse_volatility"}]}]}
    v = validate(config, draws=100, pair_draws=99)
    assert len(v.table) == 2 and len(v.pairs) == 1
    assert "equal Sharpe ratios (Ledoit-Wolf 2008)" in v.to_text()


def test_production_config_states_its_claims():
    cfg = simlab.load_config(PRODUCTION)
    assert {k: (s.min, s.max) for k, s in cfg.experiment.claims.items()} == {
        "sharpe": (2.85, None), "active_return": (1.06, None)}
    steps = [step["type"] for step in cfg.experiment.pipeline]
    assert steps == ["equal_weight_top_n", "volatility_target", "drawdown_breaker", "vix_regime", "position_limit"]
    assert cfg.experiment.strategy["type"] == "value_momentum"


@pytest.mark.slow
def test_production_sharpe_claim_fails():
    v = validate(PRODUCTION, draws=200, pair_draws=99)
    verdicts = v.verdicts()
    assert verdicts["sharpe >= 2.85"] == "FAIL" and v.exit_code() == 1
    sharpe = v.table.set_index("metric").loc["sharpe"]
    assert sharpe["ci_high"] < 2.85 and sharpe["min_trl_years"] == float("inf")
