"""The README's main job: the quickstart experiment through the command line."""

import json

import pandas as pd
import pytest

import simlab
from simlab.cli import main

QUICKSTART = "configs/experiments/quickstart.yaml"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "quickstart"
    assert main(["run", QUICKSTART, "--out", str(out)]) == 0
    return out


def test_run_folder_holds_everything(run_folder):
    for name in ["config.yaml", "run.json", "metrics.json", "nav.parquet", "returns.parquet", "weights.parquet",
                 "trades.parquet", "diagnostics.parquet", "equity.png", "drawdown.png", "report.md"]:
        assert (run_folder / name).stat().st_size > 0, name


def test_saved_tables_match_the_result(run_folder):
    res = simlab.run(QUICKSTART)
    nav = pd.read_parquet(run_folder / "nav.parquet")
    pd.testing.assert_frame_equal(nav, res.nav, check_names=False, check_freq=False)
    metrics = json.loads((run_folder / "metrics.json").read_text())
    assert set(metrics) == {"top_n=3", "top_n=5", "top_n=10"}
    assert metrics["top_n=5"]["sharpe"] == pytest.approx(res.metrics().loc["top_n=5", "sharpe"], rel=1e-12)
    trades = pd.read_parquet(run_folder / "trades.parquet")
    assert len(trades) == len(res.trades) and (trades["cost"] >= 0).all()


def test_resolved_config_reruns_to_the_same_run(run_folder):
    info = json.loads((run_folder / "run.json").read_text())
    again = simlab.load_config(run_folder / "config.yaml")
    assert again.config_hash() == info["config_hash"]
    assert [s.name for s in again.scenarios] == ["top_n=3", "top_n=5", "top_n=10"]
    original = simlab.run(QUICKSTART).nav
    rerun = simlab.run(again).nav
    pd.testing.assert_frame_equal(rerun, original)


def test_cli_reports_config_errors_by_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {source: builtin:sp500_20}\nexecution: {lagg: 1}\npipeline: [{type: equal_weight}]\n")
    assert main(["run", str(bad)]) == 1
    assert "execution.lagg: unknown key. Did you mean 'lag'?" in capsys.readouterr().err


def test_cli_lists_components(capsys):
    assert main(["list", "steps"]) == 0
    out = capsys.readouterr().out
    assert "equal_weight_top_n" in out and "position_limit" in out
