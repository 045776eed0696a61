"""Paths in a config resolve beside the config file; a run folder's config replays from
anywhere; the files' contents are part of the run's identity; a missing optimizer module
is refused at load."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
import yaml

import simlab
from simlab.data import load
from simlab.lab.store import run_id

CONFIG = {
    "name": "paths",
    "data": {"source": "csv:data/prices.csv", "start": "2019-06-03", "end": "2019-12-31"},
    "universe": "universe.yaml",
    "strategy": {"type": "momentum", "lookback": 63, "skip": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}],
}


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    close = load("builtin:sp500_20").close.loc["2019-01-01":"2019-12-31"].iloc[:, :6]
    close.rename_axis("date").to_csv(folder / "data" / "prices.csv")
    (folder / "universe.yaml").write_text(yaml.safe_dump({"assets": {a: {} for a in close.columns}}))
    (folder / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    (tmp_path / "elsewhere").mkdir()
    return folder


def test_relative_paths_resolve_beside_the_config(project, monkeypatch):
    monkeypatch.chdir(project.parent / "elsewhere")
    cfg = simlab.load_config(project / "exp.yaml")
    assert cfg.experiment.data.source == f"csv:{project / 'data' / 'prices.csv'}"
    assert cfg.experiment.universe == str(project / "universe.yaml")
    assert set(cfg.experiment.file_sha256) == {str(project / "universe.yaml"), str(project / "data" / "prices.csv")}


def test_a_run_folder_replays_from_anywhere(project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path / "elsewhere")
    first = simlab.run(project / "exp.yaml")
    folder = first.save(tmp_path / "elsewhere" / "run")
    monkeypatch.chdir("/")
    again = simlab.run(folder / "config.yaml")
    assert run_id(again) == run_id(first)
    pd.testing.assert_frame_equal(again.nav, first.nav)


def test_the_files_are_part_of_the_identity(project):
    before = simlab.load_config(project / "exp.yaml")
    saved = before.to_dict()
    universe = yaml.safe_load((project / "universe.yaml").read_text())
    universe["assets"].popitem()
    (project / "universe.yaml").write_text(yaml.safe_dump(universe))
    after = simlab.load_config(project / "exp.yaml")
    assert after.config_hash() != before.config_hash()
    with pytest.raises(simlab.ConfigError, match=r"universe\.yaml has changed since this config was saved"):
        simlab.load_config(saved)


def test_a_missing_file_names_where_it_was_looked_for(project):
    raw = {**CONFIG, "universe": "nope.yaml"}
    with pytest.raises(simlab.ConfigError, match=r"universe: file not found: .*project/nope\.yaml.*folder of the config"):
        simlab.load_config(raw, base=project)


@pytest.mark.parametrize("step", ["mean_cvar", "mean_variance", "min_variance", "black_litterman"])
def test_a_missing_solver_is_refused_at_load(monkeypatch, step):
    monkeypatch.setitem(sys.modules, "cvxpy", None)  # as if not installed
    raw = {"data": {"source": "synthetic"}, "pipeline": [{"type": "equal_weight"}, {"type": step}]}
    if step == "black_litterman":
        raw["strategy"] = {"type": "momentum"}
    with pytest.raises(simlab.ConfigError, match=rf"pipeline\[1\] \({step}\): needs cvxpy.*pip install 'simlab\[opt\]'"):
        simlab.load_config(raw)
    raw["pipeline"][1]["solver"] = "native"
    simlab.load_config(raw)


def test_the_hash_names_files_by_content_not_location(project, tmp_path):
    import shutil

    clone = tmp_path / "clone"
    shutil.copytree(project, clone)
    here, there = simlab.load_config(project / "exp.yaml"), simlab.load_config(clone / "exp.yaml")
    assert here.experiment.universe != there.experiment.universe
    assert here.config_hash() == there.config_hash()
