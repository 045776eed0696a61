"""Stress replay: window coverage on the built-in data, the forced re-run, windows files, the command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import simlab
from simlab.cli import main as cli_main
from simlab.errors import ConfigError
from simlab.lab import stress
from simlab.testing.builders import price_frame, write_prices

SECTORS = ("Energy", "Energy", "Financials", "Financials")


@pytest.fixture(scope="module")
def builtin_run():
    cfg = {
        "name": "replay", "universe": "configs/universes/sp500_20.yaml",
        "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index", "macro": {"vix": "builtin:vix"},
                 "start": "2007-01-01", "end": "2022-12-28"},
        "schedule": {"frequency": "quarterly"}, "costs": {"type": "flat", "bps": 10},
        "pipeline": [{"type": "equal_weight"},
                     {"type": "regime_constraints", "max_turnover": 2.0, "rebalances_per_year": 4}],
    }
    return simlab.run(cfg)


def test_replay_table_covers_every_window_the_data_spans(builtin_run):
    report = stress.replay(builtin_run, rerun=False)
    w = report.windows
    assert list(w["window"]) == [x.name for x in stress.DEFAULT_WINDOWS]
    assert (w["coverage"] == "full").all()  # 2007-2022 spans all seven
    assert (w["days"] > 0).all()
    for name in ("sector", "gross", "volatility", "correlation"):
        assert w[f"max_util_{name}"].notna().all()
    gfc = w.set_index("window").loc["2008 financial crisis"]
    assert gfc["days"] > 100 and gfc["max_util_gross"] > 1  # a fully invested book breaks the 0.8x stress cap
    r = report.rebalances
    assert len(r) == len(builtin_run.dates.to_period("Q").unique())  # one per quarter, all filled
    assert {"decision", "date", "window", "binds", "violates"} <= set(r.columns)
    assert r["violates"].str.contains("gross").any()
    text = stress.format_report(report)
    assert "2020 pandemic crash" in text and "violates" in text


def test_windows_outside_a_shorter_run_are_listed_as_outside(builtin_run):
    windows = (*stress.DEFAULT_WINDOWS[:1],
               stress.StressWindow(name="dot-com", start="2000-03-10", end="2002-10-09"),
               stress.StressWindow(name="straddle", start="2006-12-01", end="2007-02-28"))
    w = stress.replay(builtin_run, windows, rerun=False).windows.set_index("window")
    assert w.loc["dot-com", "coverage"] == "outside" and pd.isna(w.loc["dot-com", "days"])
    assert w.loc["straddle", "coverage"] == "partial" and w.loc["straddle", "days"] > 0


# --------------------------------------------------------------------------- forced re-run on a small market


def small_experiment(tmp_path):
    close = price_frame(260, 4, seed=11, vol=0.012)
    bench = close.mean(axis=1).to_frame("bench")
    universe = tmp_path / "universe.yaml"
    universe.write_text("assets:\n" + "".join(f"  {a}: {{sector: {s}}}\n" for a, s in zip(close.columns, SECTORS)))
    cfg = {
        "name": "small", "universe": str(universe),
        "data": {"source": write_prices(close, tmp_path, "close.csv"),
                 "benchmark": write_prices(bench, tmp_path, "bench.csv")},
        "schedule": {"frequency": "weekly", "day": "friday"}, "costs": {"type": "flat", "bps": 5},
        "pipeline": [{"type": "equal_weight"}, {
            "type": "regime_constraints", "max_weight": 0.3, "max_sector": 0.6, "beta": None, "volatility": None,
            "correlation_window": 40, "regime": {"type": "vix_threshold", "levels": [1000], "stress_from": 1}}],
    }
    return close, cfg


WINDOWS = (stress.StressWindow(name="spring", start="2020-04-01", end="2020-05-15"),)


def test_forced_config_sets_the_windows_in_every_constraint_step(tmp_path):
    _, cfg = small_experiment(tmp_path)
    cfg["scenarios"] = {"grid": {"pipeline.1.max_sector": [0.5, 0.6]}}
    forced = stress.forced_config(simlab.load_config(cfg), WINDOWS)
    assert forced.name == "small_forced_stress"
    for s in forced.scenarios:
        assert s.pipeline[1]["regime"]["force_stress"] == [["2020-04-01", "2020-05-15"]]
    assert forced.experiment.pipeline[1]["regime"]["force_stress"] == [["2020-04-01", "2020-05-15"]]


def test_forced_rerun_turns_stress_on_inside_the_windows_only(tmp_path):
    close, cfg = small_experiment(tmp_path)
    base = simlab.run(cfg)
    report = stress.replay(base, WINDOWS)
    forced = report.forced
    d = forced.diagnostics
    mine = d[(d["step"] == "1:regime_constraints") & d["asset"].isna()]
    table = mine.pivot_table(index="date", columns="key", values="value")
    inside = (table.index >= "2020-04-01") & (table.index <= "2020-05-15")
    assert table.loc[inside, "stress"].eq(1).all() and table.loc[~inside, "stress"].eq(0).all()
    assert table.loc[inside, "multiplier_gross"].iloc[-1] < 0.81  # smoothed toward the stress 0.8
    base_diag = base.diagnostics
    assert base_diag.loc[base_diag["key"] == "stress", "value"].eq(0).all()
    row = report.windows.iloc[0]
    assert row["coverage"] == "full" and np.isfinite(row["return_forced"])
    assert row["return_forced"] == pytest.approx(stress._period_return(forced.nav["small"], *map(
        pd.Timestamp, ("2020-04-01", "2020-05-15"))))
    # before the window, the two runs are the same run
    pd.testing.assert_frame_equal(base.nav.loc[:"2020-03-31"], forced.nav.loc[:"2020-03-31"])


def test_run_without_a_constraint_step_is_replayed_against_defaults(tmp_path):
    _, cfg = small_experiment(tmp_path)
    cfg["pipeline"] = [{"type": "equal_weight"}]
    report = stress.replay(simlab.run(cfg), WINDOWS)
    assert report.forced is None
    assert any("no regime_constraints step" in n for n in report.notes)
    assert report.windows["max_util_single_name"].iloc[0] == pytest.approx(0.25 / 0.10, rel=0.1)


# --------------------------------------------------------------------------- windows files and the command


def test_windows_file_and_its_errors(tmp_path):
    good = tmp_path / "windows.yaml"
    good.write_text(yaml.safe_dump({"windows": [{"name": "spring", "start": "2020-04-01", "end": "2020-05-15"}]}))
    assert stress.load_windows(good)[0].name == "spring"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"windows": [{"name": "x", "start": "2020-05-01", "end": "2020-04-01"}]}))
    with pytest.raises(ConfigError, match=r"windows\[0\].*ends \(2020-04-01\) before it starts"):
        stress.load_windows(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("periods: []\n")
    with pytest.raises(ConfigError, match="expected 'windows:'"):
        stress.load_windows(empty)


def test_stress_command(tmp_path, capsys):
    _, cfg = small_experiment(tmp_path)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(cfg))
    windows = tmp_path / "windows.yaml"
    windows.write_text(yaml.safe_dump({"windows": [{"name": "spring", "start": "2020-04-01", "end": "2020-05-15"}]}))
    out = tmp_path / "out"
    assert cli_main(["stress", str(path), "--windows", str(windows), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "spring" in text and "forced" in text and "tables:" in text
    for name in ("stress_rebalances.csv", "stress_windows.csv", "stress_nav.csv"):
        assert (out / name).is_file()
    table = pd.read_csv(out / "stress_windows.csv")
    assert table.loc[0, "window"] == "spring" and table.loc[0, "coverage"] == "full"
