"""Run folders record what reproduces them; ``simlab runs`` and ``simlab compare`` read them back."""

from __future__ import annotations

import json
import subprocess

import pytest

import simlab
from simlab.cli import main
from simlab.lab import store
from simlab.lab.run import load_market

CONFIG = {
    "name": "small",
    "data": {"source": "synthetic", "n_assets": 6, "n_days": 300, "seed": 7, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 42, "skip": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}],
    "scenarios": {"grid": {"pipeline.0.top_n": [2, 3]}},
    "seed": 11,
}


def git(repo, *args) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def result():
    return simlab.run(CONFIG)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    git(tmp_path, "init", "-q")
    (tmp_path / "notes.txt").write_text("one\n")
    git(tmp_path, "add", "notes.txt")
    git(tmp_path, "commit", "-q", "-m", "first")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_folder_records_hashes_versions_commit_and_seeds(result, repo):
    folder = result.save(repo / "experiments" / "a")
    info = json.loads((folder / "run.json").read_text())
    assert info["config_hash"] == result.config.config_hash()
    assert info["data_hash"] == store.data_hash(load_market(result.config))
    assert info["git"] == {"commit": git(repo, "rev-parse", "HEAD"), "dirty": False}
    assert info["seed"] == 11 and info["data_seed"] == 7
    assert info["versions"]["simlab"] == simlab.__version__ and "numpy" in info["versions"]
    assert info["scenarios"] == ["top_n=2", "top_n=3"] and info["created"].endswith("+00:00")


def test_a_dirty_tree_is_recorded(result, repo):
    (repo / "notes.txt").write_text("two\n")
    assert store.git_state() == {"commit": git(repo, "rev-parse", "HEAD"), "dirty": True}


def test_outside_a_repository_git_is_null(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store.git_state() is None


def test_data_hash_follows_the_numbers_not_the_loader(result):
    md = result.market
    assert store.data_hash(md) == store.data_hash(load_market(simlab.load_config(CONFIG)))
    other = simlab.load_config({**CONFIG, "data": {**CONFIG["data"], "seed": 8}})
    assert store.data_hash(load_market(other)) != store.data_hash(md)
    nudged = md.close.copy()
    nudged.iloc[-1, 0] *= 1.0 + 1e-12
    assert store.data_hash(md.__class__(close=nudged)) != store.data_hash(md.__class__(close=md.close))
    coarse = md.close.set_axis(md.close.index.as_unit("s"), axis=0)
    assert store.data_hash(md.__class__(close=coarse)) == store.data_hash(md.__class__(close=md.close))


@pytest.fixture(scope="module")
def runs_root(result, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs") / "experiments"
    result.save(root / "small-a")
    simlab.run({**CONFIG, "costs": {"type": "flat", "bps": 50}}).save(root / "small-costly")
    return root


def test_simlab_runs_lists_the_runs(runs_root, capsys):
    assert main(["runs", "--root", str(runs_root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "kind", "created", "scenarios", "config", "data", "commit"]
    assert [line.split()[:2] for line in lines[1:]] == [["small-a", "run"], ["small-costly", "run"]]
    table = store.list_runs(runs_root)
    assert list(table["scenarios"]) == ["2", "2"] and table["data"].nunique() == 1


def test_simlab_compare_puts_metrics_side_by_side(runs_root, capsys):
    assert main(["compare", "small-a", "small-c", "--root", str(runs_root), "--metrics", "sharpe,cost_drag"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "small-a", "small-costly"]
    assert lines[1].split() == ["scenario", "top_n=2", "top_n=3", "top_n=2", "top_n=3"]
    assert lines[2].split()[0] == "sharpe" and lines[3].split()[0] == "cost_drag"
    table = store.compare_runs([runs_root / "small-a", "small-costly"], runs_root)
    assert (table.loc["small-costly", "cost_drag"] > table.loc["small-a", "cost_drag"]).all()


def test_compare_names_an_unknown_run(runs_root, capsys):
    assert main(["compare", "nope", "--root", str(runs_root)]) == 1
    assert "no run 'nope' under" in capsys.readouterr().err
    assert main(["compare", "small", "--root", str(runs_root)]) == 1
    assert "is ambiguous" in capsys.readouterr().err
