"""The command line: --version, -v/-q, --set overrides, schema."""

from __future__ import annotations

import json
import re

import pytest

import simlab
from simlab.cli import main
from simlab.config.loader import with_overrides


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"simlab {simlab.__version__}"


def test_set_overrides_values_as_yaml():
    raw = {"data": {"source": "synthetic"}, "pipeline": [{"type": "equal_weight_top_n", "top_n": 5}]}
    out = with_overrides(raw, ["pipeline.0.top_n=3", "costs.bps=2.5", "data.benchmark=null"])
    assert out["pipeline"][0]["top_n"] == 3 and out["costs"] == {"bps": 2.5} and out["data"]["benchmark"] is None
    assert raw["pipeline"][0]["top_n"] == 5
    with pytest.raises(simlab.ConfigError, match="expected KEY.PATH=VALUE"):
        with_overrides(raw, ["costs.bps"])
    with pytest.raises(simlab.ConfigError, match="is a list of 1; '4' is not an index"):
        with_overrides(raw, ["pipeline.4.top_n=3"])


def test_run_with_set_and_quiet(tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text("data: {source: synthetic, n_assets: 5, n_days: 120}\n"
                      "pipeline: [{type: equal_weight}]\n")
    assert main(["-q", "run", str(config), "--out", str(tmp_path / "run"), "--set", "costs={type: flat, bps: 7}"]) == 0
    assert simlab.load_run(tmp_path / "run").config["costs"] == {"type": "flat", "bps": 7.0}


def test_schema_names_the_keys(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"data", "pipeline", "sleeves", "scenarios", "sweep"} <= set(schema["properties"])
    assert schema["required"] == ["data"]
    assert schema["oneOf"] == [{"required": ["pipeline"]}, {"required": ["sleeves"]}]


def test_show_a_step(capsys):
    assert main(["show", "mean_variance"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mean_variance (step, simlab.portfolio.allocators_opt.MeanVariance)")
    assert "``" not in out and ":mod:" not in out
    assert re.search(r"max_weight +number = 0\.25  \[> 0, <= 1\]", out)  # columns padded to the longest name
    assert re.search(r"solver +'auto' \| 'cvxpy' \| 'native' = 'auto'", out)


def test_show_a_typo_names_the_nearest(capsys):
    assert main(["show", "mean_varianse"]) == 1
    assert "Did you mean 'mean_variance'?" in capsys.readouterr().err


def test_compile_notice_where_the_cache_is_empty(tmp_path, monkeypatch):
    from simlab.lab.warmup import compile_notice

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert "simlab warmup" in compile_notice()
    (tmp_path / "kernels_x").mkdir()
    (tmp_path / "kernels_x" / "accounting.mark_to_market_nb-17.py311.nbi").write_bytes(b"")
    assert compile_notice() is None


def test_warmup_runs(capsys):
    assert main(["warmup"]) == 0
    assert "kernels ready" in capsys.readouterr().out


def test_a_run_shows_its_progress(capsys):
    from simlab.engine.simulate import simulate
    from simlab.lab.run import load_market

    small = {"data": {"source": "synthetic", "n_assets": 4, "n_days": 150}, "pipeline": [{"type": "equal_weight"}]}
    seen = []
    cfg = simlab.load_config(small)
    simulate(cfg, load_market(cfg), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] <= seen[-1][1] == 150 and [d for d, _ in seen] == sorted(d for d, _ in seen)
    simlab.run(small, progress=True)
    assert "day" in capsys.readouterr().err
