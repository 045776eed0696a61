"""Scenarios: names, expansion, batch-equals-separate, the resolved config and its hash."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

import simlab
from simlab.testing.builders import csv_experiment, price_frame

BASE = {
    "name": "scen",
    "data": {"source": "synthetic", "n_assets": 6, "n_days": 120, "seed": 3, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 20, "skip": 2},
    "costs": {"type": "flat", "bps": 10},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}, {"type": "position_limit", "max_weight": 0.5}],
}


def config(**changes):
    cfg = copy.deepcopy(BASE)
    cfg.update(changes)
    return cfg


# --------------------------------------------------------------------------- names


def test_grid_names_and_order():
    cfg = simlab.load_config(config(scenarios={"grid": {"pipeline.0.top_n": [3, 5], "costs.bps": [10, 2.5]}}))
    assert [s.name for s in cfg.scenarios] == [
        "top_n=3,bps=10", "top_n=3,bps=2.5", "top_n=5,bps=10", "top_n=5,bps=2.5",
    ]
    by_name = {s.name: s for s in cfg.scenarios}
    assert by_name["top_n=5,bps=2.5"].pipeline[0]["top_n"] == 5
    assert by_name["top_n=5,bps=2.5"].costs["bps"] == 2.5


def test_grid_names_use_full_path_when_last_parts_clash():
    cfg = simlab.load_config(config(
        pipeline=[{"type": "position_limit", "max_weight": 0.5}, {"type": "position_limit", "max_weight": 0.4}],
        strategy=None,
        scenarios={"grid": {"pipeline.0.max_weight": [0.3], "pipeline.1.max_weight": [0.2]}},
    ))
    assert cfg.scenarios[0].name == "pipeline.0.max_weight=0.3,pipeline.1.max_weight=0.2"


def test_list_and_grid_cross():
    cfg = simlab.load_config(config(scenarios={
        "list": [{"name": "cheap", "costs.bps": 1}, {"name": "dear", "costs.bps": 50}],
        "grid": {"pipeline.0.top_n": [1, 2]},
    }))
    assert [s.name for s in cfg.scenarios] == ["cheap/top_n=1", "cheap/top_n=2", "dear/top_n=1", "dear/top_n=2"]
    assert cfg.scenarios[3].costs["bps"] == 50 and cfg.scenarios[3].pipeline[0]["top_n"] == 2


def test_no_scenarios_is_one_named_after_the_experiment():
    cfg = simlab.load_config(config())
    assert [s.name for s in cfg.scenarios] == ["scen"]


def test_overrides_are_revalidated_with_defaults_filled():
    cfg = simlab.load_config(config(scenarios={"list": [{"name": "a", "pipeline.1": {"type": "position_limit"}}]}))
    assert cfg.scenarios[0].pipeline[1] == {"type": "position_limit", "max_weight": 0.25}


def test_scenarios_run_in_their_named_columns():
    res = simlab.run(config(scenarios={"grid": {"pipeline.0.top_n": [1, 3]}}))
    assert list(res.nav.columns) == ["top_n=1", "top_n=3"]
    assert list(res.weights.coords["scenario"].values) == ["top_n=1", "top_n=3"]
    assert set(res.trades["scenario"]) <= {"top_n=1", "top_n=3"}


# --------------------------------------------------------------------------- batch == separate


def single(cfg: dict, scenario) -> dict:
    """The experiment of one resolved scenario, run alone."""
    alone = copy.deepcopy(cfg)
    alone.pop("scenarios", None)
    alone["strategy"] = scenario.strategy
    alone["costs"] = scenario.costs
    alone["pipeline"] = [dict(e) for e in scenario.pipeline]
    return alone


def list_pipelines_config(tmp_path) -> dict:
    close = price_frame(90, 5, seed=4, listing={4: 30}, delisting={2: 70})
    return csv_experiment(
        close, tmp_path,
        strategy={"type": "momentum", "lookback": 15, "skip": 1},
        costs={"type": "flat", "bps": 10},
        schedule={"frequency": "weekly"},
        pipeline=[{"type": "equal_weight"}],
        scenarios={"list": [
            {"name": "ew"},
            {"name": "top", "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}]},
            {"name": "capped", "pipeline": [{"type": "signal_weighted", "max_weight": 0.4}], "costs.bps": 25},
        ]},
    )


def test_list_scenarios_with_different_pipelines_equal_separate_runs(tmp_path):
    cfg = list_pipelines_config(tmp_path)
    batch = simlab.run(cfg)
    for scenario in batch.config.scenarios:
        alone = simlab.run(single(cfg, scenario))
        name = scenario.name
        got_trades = batch.trades[batch.trades["scenario"] == name].drop(columns="scenario").reset_index(drop=True)
        pd.testing.assert_frame_equal(got_trades, alone.trades.drop(columns="scenario"), check_exact=True)
        np.testing.assert_allclose(batch.nav[name].to_numpy(), alone.nav.iloc[:, 0].to_numpy(), rtol=1e-13)
        # off the fill days (the kernel's days) the NAV is bit-identical
        fill_days = pd.DatetimeIndex(batch.trades["date"].unique())
        off = ~batch.nav.index.isin(fill_days)
        np.testing.assert_array_equal(batch.nav[name].to_numpy()[off], alone.nav.iloc[:, 0].to_numpy()[off])


def test_list_scenarios_batch_nav_bit_identical(tmp_path):
    cfg = list_pipelines_config(tmp_path)
    batch = simlab.run(cfg)
    for scenario in batch.config.scenarios:
        alone = simlab.run(single(cfg, scenario))
        np.testing.assert_array_equal(batch.nav[scenario.name].to_numpy(), alone.nav.iloc[:, 0].to_numpy())


# --------------------------------------------------------------------------- resolved config and hash


def test_resolved_config_round_trips_to_the_same_hash(tmp_path):
    cfg = simlab.load_config(config(scenarios={"grid": {"pipeline.0.top_n": [1, 3], "costs.bps": [0, 10]}}))
    again = simlab.load_config(cfg.to_dict())
    assert again.config_hash() == cfg.config_hash()
    assert [s.to_dict() for s in again.scenarios] == [s.to_dict() for s in cfg.scenarios]
    # through YAML on disk, as a run folder stores it
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    from_file = simlab.load_config(path)
    assert from_file.config_hash() == cfg.config_hash()
    assert simlab.load_config(from_file.to_dict()).config_hash() == cfg.config_hash()


def test_saved_scenario_reruns_to_the_same_nav():
    cfg = simlab.load_config(config(scenarios={"grid": {"pipeline.0.top_n": [1, 3]}}))
    first = simlab.run(cfg)
    again = simlab.run(cfg.to_dict())
    pd.testing.assert_frame_equal(first.nav, again.nav, check_exact=True)


def test_hash_is_stable_and_ignores_spelling():
    a = simlab.load_config(config())
    b = simlab.load_config(config())
    assert a.config_hash() == b.config_hash()
    assert len(a.config_hash()) == 64
    # explicit defaults, key order and int/float spelling do not change the identity
    spelled = config(execution={"lag": 1, "init_cash": 1_000_000}, costs={"bps": 10.0, "type": "flat"})
    spelled = dict(reversed(list(spelled.items())))
    assert simlab.load_config(spelled).config_hash() == a.config_hash()


@pytest.mark.parametrize(
    "changes",
    [
        {"costs": {"type": "flat", "bps": 11}},
        {"execution": {"lag": 0}},
        {"schedule": {"frequency": "weekly"}},
        {"pipeline": [{"type": "equal_weight_top_n", "top_n": 3}, {"type": "position_limit", "max_weight": 0.5}]},
        {"strategy": {"type": "momentum", "lookback": 21, "skip": 2}},
        {"name": "other"},
        {"seed": 1},
    ],
)
def test_hash_changes_when_a_value_changes(changes):
    assert simlab.load_config(config(**changes)).config_hash() != simlab.load_config(config()).config_hash()


def test_strategy_grid_trades_equal_separate_runs(tmp_path):
    """Each distinct strategy config gets its own signal panel inside one batch."""
    close = price_frame(70, 5, seed=9, listing={2: 12})
    cfg = csv_experiment(
        close, tmp_path, schedule={"frequency": "weekly"},
        strategy={"type": "momentum", "lookback": 10, "skip": 1},
        pipeline=[{"type": "equal_weight_top_n", "top_n": 2}],
        scenarios={"grid": {"strategy.lookback": [5, 10, 20]}},
    )
    batch = simlab.run(cfg)
    assert list(batch.nav.columns) == ["lookback=5", "lookback=10", "lookback=20"]
    firsts = []
    for scenario in batch.config.scenarios:
        alone = simlab.run(single(cfg, scenario))
        got = batch.trades[batch.trades["scenario"] == scenario.name].drop(columns="scenario").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone.trades.drop(columns="scenario"), check_exact=True)
        firsts.append(got["date"].min())
    # a longer lookback needs more history before its first trade
    assert firsts[0] < firsts[1] < firsts[2]


# --------------------------------------------------------------------------- validated once


def test_each_component_value_is_validated_once(monkeypatch):
    from simlab.config import registry

    calls = []
    resolve = registry.resolve
    monkeypatch.setattr(registry, "resolve", lambda kind, entry, path: calls.append(path) or resolve(kind, entry, path))
    simlab.load_config(config(scenarios={"grid": {"pipeline.0.top_n": [3, 5, 4]}}))
    # the base experiment's four components once, then only the step each grid point changes
    assert sorted(calls) == sorted(["strategy", "costs", "pipeline[0]", "pipeline[1]"] + ["pipeline[0]"] * 3)


def test_a_bad_grid_value_names_its_scenario_and_key():
    with pytest.raises(simlab.ConfigError, match=r"pipeline\[1\]\.max_weight: Input should be less than or equal to 1"):
        simlab.load_config(config(scenarios={"grid": {"pipeline.1.max_weight": [0.5, 1.5]}}))


def test_the_batched_build_refuses_entries_that_were_not_resolved():
    from simlab.config import registry

    entries = [{"type": "position_limit", "max_weight": 0.3}, {"type": "position_limit", "max_weight": 0.4, "x": 1}]
    with pytest.raises(simlab.ConfigError, match=r"pipeline\[1\]: build_batch needs entries resolved"):
        registry.build_batch("step", entries, "pipeline[1]")


def test_the_batched_build_holds_one_array_per_varying_field():
    from simlab.config import registry

    cfg = simlab.load_config(config(scenarios={"grid": {"pipeline.1.max_weight": [0.3, 0.5]}}))
    step = registry.build_batch("step", [s.pipeline[1] for s in cfg.scenarios], "pipeline[1]")
    np.testing.assert_array_equal(step.max_weight, [0.3, 0.5])
