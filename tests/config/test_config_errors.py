"""Bad experiments fail early with a ConfigError (or DataError) that names the key at fault."""

from __future__ import annotations

import copy
import re
import textwrap

import pytest

import simlab
from simlab.errors import ConfigError, DataError
from simlab.testing.builders import csv_experiment, price_frame

BASE = {
    "data": {"source": "synthetic", "n_assets": 5, "n_days": 60, "seed": 1, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 20, "skip": 2},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}, {"type": "position_limit", "max_weight": 0.5}],
}


def config(**changes):
    """BASE with top-level keys replaced (None removes the key)."""
    cfg = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return cfg


def with_data(**changes):
    data = dict(BASE["data"])
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return config(data=data)


def test_base_is_valid():
    cfg = simlab.load_config(BASE)
    assert len(cfg.scenarios) == 1


# --------------------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_suggests_the_nearest():
    cfg = config(pipline=[{"type": "equal_weight"}])
    with pytest.raises(ConfigError, match=r"^pipline: unknown key\. Did you mean 'pipeline'\?"):
        simlab.load_config(cfg)


@pytest.mark.parametrize(
    ("section", "typo", "valid"),
    [
        ("execution", {"lagg": 1}, "lag"),
        ("execution", {"init_csh": 10.0}, "init_cash"),
        ("schedule", {"frequncy": "daily"}, "frequency"),
        ("data", {"sorce": "synthetic"}, "source"),
    ],
)
def test_typo_inside_a_section_names_its_path(section, typo, valid):
    cfg = copy.deepcopy(BASE)
    cfg[section] = {**cfg.get(section, {}), **typo}
    key = next(iter(typo))
    with pytest.raises(ConfigError, match=rf"{section}\.{key}: unknown key\. Did you mean '{valid}'\?"):
        simlab.load_config(cfg)


def test_unknown_step_type_suggests_the_nearest():
    cfg = config(pipeline=[{"type": "equal_weight_topn", "top_n": 2}])
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.type: unknown step 'equal_weight_topn'\. Did you mean 'equal_weight_top_n'\?"):
        simlab.load_config(cfg)


def test_unknown_strategy_and_cost_types():
    with pytest.raises(ConfigError, match=r"strategy\.type: unknown strategy 'momentun'\. Did you mean 'momentum'\?"):
        simlab.load_config(config(strategy={"type": "momentun"}))
    with pytest.raises(ConfigError, match=r"costs\.type: unknown cost 'flatt'\. Did you mean 'flat'\?"):
        simlab.load_config(config(costs={"type": "flatt", "bps": 5}))


def test_unknown_step_field_names_the_step_path():
    cfg = config(pipeline=[{"type": "equal_weight_top_n", "top_n": 2}, {"type": "position_limit", "max_wieght": 0.2}])
    with pytest.raises(ConfigError, match=r"pipeline\[1\]\.max_wieght: unknown key for 'position_limit'\. Did you mean 'max_weight'\?"):
        simlab.load_config(cfg)


def test_step_entry_without_type():
    with pytest.raises(ConfigError, match=r"pipeline\[0\]: missing 'type'"):
        simlab.load_config(config(pipeline=[{"top_n": 3}]))


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"pipeline": [{"type": "equal_weight_top_n", "top_n": 2}, {"type": "position_limit", "max_weight": 1.5}]}, r"pipeline\[1\]\.max_weight"),
        ({"pipeline": [{"type": "equal_weight_top_n", "top_n": 0}]}, r"pipeline\[0\]\.top_n"),
        ({"execution": {"lag": -1}}, r"execution\.lag"),
        ({"execution": {"init_cash": 0}}, r"execution\.init_cash"),
        ({"execution": {"leverage": 0.5}}, r"execution\.leverage"),
        ({"costs": {"type": "flat", "bps": -1}}, r"costs\.bps"),
        ({"strategy": {"type": "momentum", "lookback": 0}}, r"strategy\.lookback"),
        ({"schedule": {"frequency": "hourly"}}, r"schedule\.frequency"),
    ],
)
def test_out_of_range_value_names_the_key_and_value(changes, path):
    with pytest.raises(ConfigError, match=rf"{path}: .*; got "):
        simlab.load_config(config(**changes))


def test_missing_pipeline():
    with pytest.raises(ConfigError, match=r"^pipeline: required key is missing"):
        simlab.load_config(config(pipeline=None))


def test_empty_pipeline():
    with pytest.raises(ConfigError, match=r"^pipeline: "):
        simlab.load_config(config(pipeline=[]))


def test_missing_data_source():
    # a config may leave the source out (the data is passed to simlab.run); running it without says so
    cfg = simlab.load_config(with_data(source=None))
    with pytest.raises(ConfigError, match=r"^data\.source: no data source; name one .* or pass data="):
        simlab.run(cfg)


def test_missing_data():
    with pytest.raises(ConfigError, match=r"^data: required key is missing"):
        simlab.load_config(config(data=None))


def test_weekday_with_monthly_schedule():
    with pytest.raises(ConfigError, match=r"schedule.*'friday' is a weekday.*weekly"):
        simlab.load_config(config(schedule={"frequency": "monthly", "day": "friday"}))
    simlab.load_config(config(schedule={"frequency": "weekly", "day": "friday"}))  # fine


def test_start_after_end():
    with pytest.raises(ConfigError, match=r"data.*data\.start 2021-06-01 is after data\.end 2021-01-01"):
        simlab.load_config(with_data(start="2021-06-01", end="2021-01-01"))


def test_not_a_date():
    with pytest.raises(ConfigError, match=r"data\.start: "):
        simlab.load_config(with_data(start="the first of may"))


def test_strategy_cross_field_check():
    with pytest.raises(ConfigError, match=r"strategy.*skip \(30\) must be smaller than lookback \(20\)"):
        simlab.load_config(config(strategy={"type": "momentum", "lookback": 20, "skip": 30}))


# --------------------------------------------------------------------------- YAML files


def test_duplicate_yaml_keys(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(textwrap.dedent("""\
        data: {source: synthetic, benchmark: null}
        execution:
          lag: 1
          lag: 2
        pipeline: [{type: equal_weight}]
    """))
    with pytest.raises(ConfigError, match=r"duplicate key 'lag' on line 4"):
        simlab.load_config(path)


def test_duplicate_top_level_yaml_keys(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("data: {source: synthetic}\npipeline: [{type: equal_weight}]\npipeline: [{type: equal_weight}]\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'pipeline' on line 3"):
        simlab.load_config(path)


def test_yaml_not_a_mapping_and_missing_file(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        simlab.load_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        simlab.load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: {source: synthetic\npipeline: [\n")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        simlab.load_config(path)


# --------------------------------------------------------------------------- scenarios


def test_scenario_path_that_cannot_batch():
    cfg = config(scenarios={"grid": {"execution.lag": [0, 1]}})
    with pytest.raises(ConfigError, match=r"scenarios: 'execution\.lag' cannot vary inside one batch"):
        simlab.load_config(cfg)
    cfg = config(scenarios={"list": [{"name": "a", "schedule.frequency": "daily"}]})
    with pytest.raises(ConfigError, match=r"'schedule\.frequency' cannot vary"):
        simlab.load_config(cfg)


def test_scenario_index_out_of_range():
    cfg = config(scenarios={"grid": {"pipeline.5.top_n": [1, 2]}})
    with pytest.raises(ConfigError, match=r"scenarios: 'pipeline\.5': '5' is not an index below 2"):
        simlab.load_config(cfg)


def test_scenario_bad_value_names_the_scenario():
    cfg = config(scenarios={"grid": {"pipeline.0.top_n": [2, 0]}})
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.top_n") as info:
        simlab.load_config(cfg)
    assert "in scenario 'top_n=0'" in "".join(getattr(info.value, "__notes__", []))


def test_scenario_unknown_field_in_override():
    cfg = config(scenarios={"grid": {"pipeline.1.max_wieght": [0.2]}})
    with pytest.raises(ConfigError, match=r"pipeline\[1\]\.max_wieght: unknown key"):
        simlab.load_config(cfg)


def test_empty_grid_values():
    with pytest.raises(ConfigError, match=r"scenarios\.grid\.pipeline\.0\.top_n: expected a non-empty list"):
        simlab.load_config(config(scenarios={"grid": {"pipeline.0.top_n": []}}))


def test_duplicate_scenario_names():
    cfg = config(scenarios={"list": [{"name": "a"}, {"name": "a", "pipeline.0.top_n": 3}]})
    with pytest.raises(ConfigError, match=r"two scenarios are named 'a'"):
        simlab.load_config(cfg)


@pytest.mark.parametrize("path", ["costs.bps", "strategy.lookback"])
def test_varying_a_key_of_an_unset_block(path):
    cfg = config(strategy=None, pipeline=[{"type": "equal_weight"}], scenarios={"grid": {path: [1, 2]}})
    cfg.pop("costs", None)
    with pytest.raises(ConfigError, match=r"is not set in the experiment"):
        simlab.load_config(cfg)


# --------------------------------------------------------------------------- the chain


def test_step_requiring_a_signal_without_a_strategy():
    with pytest.raises(ConfigError, match=r"pipeline\[0\] \(equal_weight_top_n\) requires signal.*add a strategy"):
        simlab.load_config(config(strategy=None))


def test_signal_step_later_in_the_chain_without_a_strategy():
    cfg = config(strategy=None, pipeline=[{"type": "equal_weight"}, {"type": "signal_weighted"}])
    with pytest.raises(ConfigError, match=r"pipeline\[1\] \(signal_weighted\) requires signal"):
        simlab.load_config(cfg)


def test_pipeline_without_signal_needs_no_strategy():
    simlab.load_config(config(strategy=None, pipeline=[{"type": "equal_weight"}, {"type": "position_limit"}]))


# --------------------------------------------------------------------------- run-time checks


def test_missing_universe_file(tmp_path):
    cfg = csv_experiment(price_frame(20, 3), tmp_path, universe=str(tmp_path / "no_such_universe.yaml"))
    with pytest.raises(ConfigError, match=r"universe: file not found: .*no_such_universe\.yaml"):
        simlab.run(cfg)


def test_universe_asset_missing_from_the_data(tmp_path):
    universe = tmp_path / "u.yaml"
    universe.write_text("name: u\nassets:\n  A0: {sector: Energy}\n  ZZZ: {sector: Financials}\n")
    cfg = csv_experiment(price_frame(20, 3), tmp_path, universe=str(universe))
    with pytest.raises(ConfigError, match=r"universe .*u\.yaml: asset\(s\) ZZZ not in the data"):
        simlab.run(cfg)


def test_universe_file_with_unknown_field(tmp_path):
    universe = tmp_path / "u.yaml"
    universe.write_text("name: u\nassets:\n  A0: {sectr: X}\n")
    cfg = csv_experiment(price_frame(20, 3), tmp_path, universe=str(universe))
    with pytest.raises(ConfigError, match=r"universe .*u\.yaml: .*A0.*sectr"):
        simlab.run(cfg)


def test_universe_selects_and_orders_assets(tmp_path):
    universe = tmp_path / "u.yaml"
    universe.write_text("name: u\nassets:\n  A2: {sector: Energy}\n  A0: {sector: Financials}\n")
    res = simlab.run(csv_experiment(price_frame(20, 3), tmp_path, universe=str(universe)))
    assert res.assets == ("A2", "A0")


def test_csv_that_does_not_exist(tmp_path):
    cfg = config(data={"source": f"csv:{tmp_path / 'missing.csv'}", "benchmark": None})
    simlab.load_config(cfg)  # the path is checked when the data loads
    with pytest.raises(DataError, match=r"data file not found: .*missing\.csv"):
        simlab.run(cfg)


def test_synthetic_options_on_a_csv_source(tmp_path):
    cfg = csv_experiment(price_frame(20, 3), tmp_path, data={"n_assets": 3})
    with pytest.raises(ConfigError, match=r"n_assets: only the 'synthetic' source"):
        simlab.run(cfg)


def test_start_and_end_outside_the_data(tmp_path):
    cfg = csv_experiment(price_frame(20, 3, start="2020-01-01"), tmp_path, data={"start": "2021-01-01"})
    with pytest.raises((DataError, ConfigError), match=r"data\.start"):
        simlab.run(cfg)
