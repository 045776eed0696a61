"""Nothing silent: degenerate books, garbage in, misaligned benchmarks and calendars, user
errors without tracebacks, incomplete run folders, and bits that do not depend on history."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.cli import main
from simlab.errors import ConfigError, DataError, RunHealthError, SimlabWarning
from simlab.lab import store
from simlab.testing.builders import csv_experiment, price_frame, write_prices

BASE = {
    "name": "rel",
    "data": {"source": "synthetic", "n_assets": 6, "n_days": 300, "seed": 3, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 21, "skip": 1},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}],
}


def with_(**changes) -> dict:
    return {**BASE, **changes}


# --- 1. degenerate books are said out loud ------------------------------------------------


def test_a_book_that_never_trades_is_reported_not_scored():
    res = simlab.run(with_(strategy={"type": "momentum", "lookback": 299, "skip": 1}))  # 300 rows
    health = res.health()
    (s,) = health.scenarios
    assert s.trades == 0 and s.decisions > 0 and s.decisions_without_trade == s.decisions
    assert "never traded" in health.problems()[0]


def test_a_healthy_book_has_no_problem_and_its_record_says_so(tmp_path):
    res = simlab.run(BASE)
    (s,) = res.health().scenarios
    assert s.trades > 0 and s.cash_share < 0.5 and res.health().problems() == []
    record = json.loads((res.save(tmp_path / "run") / "run.json").read_text())
    assert record["health"]["problems"] == [] and record["health"]["scenarios"][0]["trades"] == s.trades


def test_mostly_cash_warns_on_the_console_and_strict_fails(tmp_path, capsys, caplog):
    config = tmp_path / "cash.yaml"
    import yaml

    cfg = with_(pipeline=[{"type": "equal_weight_top_n", "top_n": 2}, {"type": "position_limit", "max_weight": 0.1}])

    config.write_text(yaml.safe_dump(cfg))
    res = simlab.run(str(config))
    assert any("mostly in cash" in p for p in res.health().problems())
    assert main(["run", str(config), "--out", str(tmp_path / "a")]) == 0
    assert "run health: scenario 'rel' was mostly in cash" in caplog.text
    assert main(["run", str(config), "--out", str(tmp_path / "b"), "--strict"]) == 1
    assert "--strict" in capsys.readouterr().err and not (tmp_path / "b").exists()
    report = (tmp_path / "a" / "report.md").read_text()
    assert "Health: scenario 'rel' was mostly in cash" in report


def test_fallbacks_are_counted_with_their_reason():
    from simlab.analysis.health import ScenarioHealth, RunHealth

    health = RunHealth((ScenarioHealth("s", days=100, cash_share=0.0, decisions=10, decisions_without_trade=0,
                                       trades=30, fallbacks={"0:mean_variance.fallback_level": 9},
                                       infeasible_days=9),))
    problems = health.problems()
    assert "0:mean_variance.fallback_level fell back on 9 of 10 decisions" in problems[0]
    assert "infeasible on 9 of 10" in problems[1]


def test_a_non_finite_nav_is_an_error_naming_date_and_scenario():
    from simlab.analysis.health import check_finite_nav

    nav = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [1.0, np.nan, np.inf]}, index=pd.bdate_range("2020-01-01", periods=3))
    with pytest.raises(RunHealthError, match=r"NAV is nan on 2020-01-02 in scenario\(s\) b"):
        check_finite_nav(nav)


# --- 2. garbage in is an error, never numbers ------------------------------------------------


@pytest.mark.parametrize("key, value", [("bps", float("inf")), ("bps", float("nan")), ("bps", -float("inf"))])
def test_non_finite_config_numbers_are_refused_at_load(key, value):
    with pytest.raises(ConfigError, match=rf"costs\.{key}: .* is not a finite number"):
        simlab.load_config(with_(costs={"type": "flat", key: value}))


def test_bad_files_are_data_errors_naming_the_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "dup.csv").write_text("date,AAPL,AAPL\n2020-01-02,1,2\n2020-01-03,1,2\n")
    (tmp_path / "fake.parquet").write_text("date,A\n2020-01-02,1\n")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        simlab.data.load(f"csv:{tmp_path / 'empty.csv'}")
    with pytest.raises(DataError, match="dup.csv: asset column\\(s\\) 'AAPL' appear more than once"):
        simlab.data.load(f"csv:{tmp_path / 'dup.csv'}")
    with pytest.raises(DataError, match="fake.parquet: cannot be read as Parquet"):
        simlab.data.load(f"parquet:{tmp_path / 'fake.parquet'}")


def test_a_one_row_file_and_a_lookback_beyond_the_data_fail_before_the_run(tmp_path):
    close = price_frame(40, 3, 1)
    with pytest.raises(DataError, match="1 date\\(s\\) from data.start on .* at least 2"):
        simlab.run(csv_experiment(close.iloc[:1], tmp_path, name="one.csv"))
    with pytest.raises(ConfigError, match="strategy.lookback: 60 rows, but the data has 40"):
        simlab.run(csv_experiment(close, tmp_path, strategy={"type": "momentum", "lookback": 60, "skip": 1}))


class _Fake:
    """The calendar and assets of a MarketData, all that the feasibility checks read of it."""

    def __init__(self, close):
        self.dates, self.assets, self.benchmark = close.index, close.columns, None


def test_min_weight_times_assets_above_the_budget(tmp_path, monkeypatch):
    from simlab.lab import feasibility

    close = price_frame(40, 3, 1)
    cfg = simlab.load_config(csv_experiment(close, tmp_path))
    monkeypatch.setattr(type(cfg), "to_dict", lambda self: {"pipeline": [{"type": "x", "min_weight": 0.5}]})
    with pytest.raises(ConfigError, match=r"pipeline.0.min_weight: 0.5 x 3 assets = 1.5 > 1"):
        feasibility.check_feasible(cfg, _Fake(close))


def test_long_short_legs_asking_for_more_names_than_the_data_has_fail_before_the_run(tmp_path):
    close = price_frame(300, 6, 1)
    experiment = csv_experiment(close, tmp_path, strategy={"type": "momentum", "lookback": 60, "skip": 1})
    experiment["pipeline"] = [{"type": "long_short_top_n", "top_n": 4}]
    with pytest.raises(ConfigError, match=r"pipeline.0.top_n: 4 long \+ 4 short = 8 names, but the data has 6"):
        simlab.run(experiment)
    experiment["pipeline"] = [{"type": "long_short_top_n", "top_n": 3}]
    assert np.isfinite(simlab.run(experiment).nav.to_numpy()).all()  # 3 + 3 = 6 fits


def test_a_one_day_spike_in_a_file_is_warned_with_asset_and_date(tmp_path):
    close = price_frame(60, 3, 2)
    close.iloc[30, 1] *= 100.0
    source = write_prices(close, tmp_path)
    with pytest.warns(SimlabWarning, match=rf"asset 'A1' moved \+\d+% on {close.index[30].date()}"):
        simlab.data.load(source)
    from simlab.data.validate import find_jumps

    assert find_jumps(close.drop(columns="A1")) == []  # ordinary days are not spikes


# --- 3. benchmarks and calendars are checked, not reindexed silently ---------------------


def test_a_benchmark_covering_part_of_the_run_is_an_error(tmp_path):
    close = price_frame(120, 3, 4)
    bench = price_frame(120, 1, 5).iloc[60:].set_axis(["BENCH"], axis=1)
    source = write_prices(bench, tmp_path, "bench.csv")
    with pytest.raises(DataError, match=r"benchmark 'BENCH': missing on 60 of the run's 120 dates .* it covers"):
        simlab.run(csv_experiment(close, tmp_path, data={"benchmark": source},
                                  strategy={"type": "momentum", "lookback": 10, "skip": 1}))


@pytest.mark.parametrize("freq, match", [("D", "fall on a weekend"), ("W-FRI", "median gap .* 7 days"),
                                         ("h", "intraday timestamps")])
def test_a_calendar_that_is_not_trading_days_is_an_error(tmp_path, freq, match):
    dates = pd.date_range("2020-01-06", periods=60, freq=freq)
    close = price_frame(60, 2, 6, dates=dates)
    with pytest.raises(DataError, match=match):
        simlab.data.load(write_prices(close, tmp_path))


# --- 4. no traceback for bad input --------------------------------------------------------


def test_bad_input_never_shows_a_traceback_and_debug_does(tmp_path, capsys):
    bad_date = tmp_path / "bad.yaml"
    bad_date.write_text("name: x\ndata: {source: synthetic, start: 2021-02-30}\n")
    assert main(["run", str(bad_date)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "day is out of range" in err and "Traceback" not in err
    with pytest.raises(ConfigError):
        main(["--debug", "run", str(bad_date)])
    with pytest.raises(ConfigError):
        main(["run", str(bad_date), "--debug"])


def test_an_unexpected_exception_is_one_line_and_interrupts_exit_130(monkeypatch, capsys):
    from simlab.cli import list_command

    def boom(args):
        raise RuntimeError("boom")

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(list_command, "main", boom)
    assert main(["list"]) == 1
    assert "internal error: RuntimeError: boom" in capsys.readouterr().err
    monkeypatch.setattr(list_command, "main", interrupted)
    assert main(["list"]) == 130
    assert "interrupted" in capsys.readouterr().err


# --- 5. incomplete run folders are never runs -------------------------------------------------


def test_folders_without_a_complete_record_are_not_listed(tmp_path):
    res = simlab.run(BASE)
    res.save(tmp_path / "done")
    (tmp_path / ".done.tmp-1-ab").mkdir()
    (tmp_path / ".done.tmp-1-ab" / "run.json").write_text(json.dumps({"config_hash": "x"}))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "nav.parquet").write_text("")
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "run.json").write_text('{"config_ha')
    assert store.list_runs(tmp_path)["run"].tolist() == ["done"]
    for name in ("half", "torn"):
        with pytest.raises(ConfigError, match="no run"):
            store.resolve_run(name, tmp_path)


def test_saving_again_replaces_the_whole_folder(tmp_path):
    folder = tmp_path / "run"
    simlab.run(BASE).save(folder)
    (folder / "weights.parquet").unlink()
    simlab.run(with_(costs={"type": "flat", "bps": 50})).save(folder)
    assert json.loads((folder / "run.json").read_text())["config_hash"] == \
        simlab.load_config(with_(costs={"type": "flat", "bps": 50})).config_hash()
    assert (folder / "weights.parquet").is_file() and not list(tmp_path.glob(".*"))


# --- 7. the bits of a run do not depend on what ran before it ----------------------------------

OPT = {
    "name": "order",
    "data": {"source": "synthetic", "n_assets": 6, "n_days": 400, "seed": 11, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 63, "skip": 5},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "mean_variance", "objective": "max_sharpe", "mean_window": 60}],
}


def _bits(frequency: str) -> bytes:
    res = simlab.run({**OPT, "schedule": {"frequency": frequency}})
    return res.nav.to_numpy().tobytes() + res.weights.values.tobytes()


def test_variants_give_the_same_bits_in_any_order_in_one_process():
    from simlab.portfolio import solvers

    solvers.CVXPY._local.__dict__.clear()  # as if nothing had run in this process
    first = {f: _bits(f) for f in ("weekly", "quarterly")}
    solvers.CVXPY._local.__dict__.clear()
    second = {f: _bits(f) for f in ("quarterly", "weekly")}
    assert first == second


def test_a_benchmark_shifted_by_a_day_is_warned(tmp_path):
    close = price_frame(200, 4, 7)
    index = close.mean(axis=1).to_frame("BENCH")
    exp = {"strategy": {"type": "momentum", "lookback": 10, "skip": 1}}
    aligned = write_prices(index, tmp_path, "aligned.csv")
    simlab.run(csv_experiment(close, tmp_path, data={"benchmark": aligned}, **exp))  # no warning: same day
    shifted = write_prices(index.shift(1).bfill(), tmp_path, "shifted.csv")
    with pytest.warns(SimlabWarning, match="benchmark 'BENCH': its daily returns match .* shifted by a day"):
        simlab.run(csv_experiment(close, tmp_path, data={"benchmark": shifted}, **exp))


def test_a_resumed_sweep_merges_the_bits_of_an_uninterrupted_one(tmp_path):
    import shutil

    import xarray as xr
    import yaml

    from simlab.lab.sweep import run_sweep

    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({**OPT, "sweep": {"schedule.frequency": ["quarterly", "weekly"]}}))
    straight = run_sweep(str(config), "local", workers=1, out=tmp_path / "out", progress=False)  # one worker, in turn
    weekly = straight.variants.set_index("variant").loc["frequency=weekly", "folder"]
    shutil.rmtree(tmp_path / "out" / weekly)  # as if it had been interrupted before the weekly variant
    resumed = run_sweep(str(config), "local", workers=1, out=tmp_path / "out", progress=False)
    assert list(resumed.variants["status"]) == ["reused", "ok"]
    for name in ("nav", "weights", "metrics"):
        xr.testing.assert_identical(resumed.dataset[name], straight.dataset[name])


def test_caps_that_cannot_reach_the_budget_fail_at_load_and_health_reports_fallbacks():
    caps = with_(pipeline=[{"type": "min_variance", "max_weight": 0.1}])
    with pytest.raises(ConfigError, match=r"pipeline.0.max_weight: 0.1 x 6 assets = 0.6 cannot reach the budget 1"):
        simlab.run(caps)
    res = simlab.run(with_(pipeline=[{"type": "min_variance", "max_weight": 0.2}], costs={"type": "flat", "bps": 5}))
    assert res.health().scenarios[0].trades > 0


def test_macro_series_missing_on_part_or_all_of_the_data_are_a_caveat(tmp_path):
    from simlab.analysis.caveats import caveats

    res = simlab.run(with_(data={**BASE["data"], "macro": {"vix": "builtin:vix"}}))
    assert any("'vix' (builtin:vix) has no value between 2000-01-03" in c for c in caveats(res))
    close = price_frame(120, 3, 8)
    half = write_prices(price_frame(120, 1, 9).iloc[60:].set_axis(["LEVEL"], axis=1), tmp_path, "macro.csv")
    res = simlab.run(csv_experiment(close, tmp_path, data={"macro": {"level": half}},
                                    strategy={"type": "momentum", "lookback": 10, "skip": 1}))
    assert any("macro series 'level'" in c and "60 of the data's 120 dates" in c for c in caveats(res))
