"""Hypothetical stress scenarios: the shocks by hand, the table on a real run, the robustness score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import simlab
from simlab.cli import main as cli_main
from simlab.errors import ConfigError
from simlab.lab import hypothetical as hyp
from simlab.lab import stress


def panel(seed=0, t=120, n=4):
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.01, (t, 1))
    return common * 0.5 + rng.normal(0, 0.01, (t, n)), common[:, 0] + rng.normal(0, 0.002, t)


def mean_pairwise_corr(r):
    c = np.corrcoef(r, rowvar=False)
    return c[np.triu_indices(len(c), 1)].mean()


def test_no_shock_keeps_the_deviations_and_sets_the_mean():
    r, b = panel()
    out, ob = hyp.shock_returns(r, b, hyp.Shock(name="none", days=120, drift=0.0, vol=1.0, correlation=0.0))
    np.testing.assert_allclose(out, r - r.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(ob, b - b.mean(), atol=1e-15)


def test_each_shock_does_what_it_says():
    r, b = panel()
    shock = hyp.Shock(name="s", days=120, drift=-0.252, vol=2.0, correlation=0.6)
    out, ob = hyp.shock_returns(r, b, shock)
    # volatility: each series at twice its own standard deviation
    np.testing.assert_allclose(out.std(axis=0, ddof=1), 2 * r.std(axis=0, ddof=1), rtol=1e-12)
    assert ob.std(ddof=1) == pytest.approx(2 * b.std(ddof=1), rel=1e-12)
    # drift: -25.2% a year is a mean of -0.1% a day, whatever the window's own mean
    np.testing.assert_allclose(out.mean(axis=0), -0.001, atol=1e-15)
    assert ob.mean() == pytest.approx(-0.001, abs=1e-15)
    # correlation: pairwise correlations rise
    assert mean_pairwise_corr(out) > mean_pairwise_corr(r) + 0.2
    # by hand for kappa alone: c + sqrt(1 - kappa) e, rescaled to the original sd
    kappa = hyp.Shock(name="k", days=120, drift=0.0, vol=1.0, correlation=0.75)
    x = r - r.mean(axis=0)
    c = x.mean(axis=1, keepdims=True)
    mixed = c + 0.5 * (x - c)
    expected = mixed * (x.std(axis=0, ddof=1) / mixed.std(axis=0, ddof=1))
    np.testing.assert_allclose(hyp.shock_returns(r, b, kappa)[0], expected, atol=1e-15)


def test_robustness_score_by_hand():
    util = {f"max_util_{n}": [0.5, 0.5] for n in ("beta", "volatility", "correlation", "sector", "single_name")}
    historical = pd.DataFrame({"window": ["a", "b"], "coverage": ["full", "outside"], "scenario": ["s", "s"],
                               "return": [-0.1, np.nan], "max_util_gross": [1.2, np.nan], **util})
    hypothetical = pd.DataFrame({"scenario_name": ["x", "y"], "scenario": ["s", "s"], "return": [-0.3, -0.05],
                                 "max_util_gross": [0.9, 0.9], **util})
    score = hyp.robustness(historical, hypothetical, max_loss=0.25).set_index("scenario").loc["s"]
    # a: gross past its stress limit; b: outside the run; x: loses 30%; y: passes
    assert score["total"] == 3 and score["passed"] == 1 and score["score"] == pytest.approx(1 / 3)
    assert score["worst"] == "x" and score["worst_return"] == pytest.approx(-0.3)


@pytest.fixture(scope="module")
def run():
    cfg = {
        "name": "hypo", "universe": "configs/universes/sp500_20.yaml",
        "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index", "start": "2017-01-01",
                 "end": "2022-12-28"},
        "schedule": {"frequency": "quarterly"}, "costs": {"type": "flat", "bps": 10},
        "pipeline": [{"type": "equal_weight"}],
    }
    return simlab.run(cfg)


def test_hypothetical_scenarios_on_a_real_run(run):
    report = stress.replay(run, rerun=False)
    h = report.hypothetical.set_index("scenario_name")
    assert list(h.index) == ["stagflation", "rate shock", "liquidity crunch"]
    w = run.weights.sel(date=run.dates[-1]).values[0]
    # the last book (equal weight, drifted since its rebalance) against the 10% stress cap
    np.testing.assert_allclose(h["max_util_single_name"], w.max() / 0.10, rtol=1e-9)
    assert (h["return"] < 0).all() and (h["max_drawdown"] > 0).all()
    assert h.loc["liquidity crunch", "max_util_correlation"] >= 0  # defined
    window = run.market.close.pct_change(fill_method=None).loc[:run.dates[-1]].iloc[-21:].to_numpy()
    bench = run.market.benchmark.pct_change(fill_method=None).loc[:run.dates[-1]].iloc[-21:].to_numpy()
    r, _ = hyp.shock_returns(window, bench, hyp.DEFAULT_SCENARIOS[2])
    assert h.loc["liquidity crunch", "return"] == pytest.approx(np.prod(1 + np.nan_to_num(r) @ w) - 1)
    s = report.robustness.iloc[0]
    covered = (report.windows["coverage"] != "outside").sum()
    assert s["total"] == covered + 3 and 0 <= s["score"] <= 1
    text = stress.format_report(report)
    assert "robustness score" in text and "stagflation" in text


def test_hypothetical_file_and_command(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"hypothetical": [{"name": "x", "days": 5, "drift": 0, "vol": 1,
                                                     "correlation": 0}]}))
    with pytest.raises(ConfigError, match=r"hypothetical\[0\]"):
        hyp.load_shocks(bad)
    good = tmp_path / "shocks.yaml"
    good.write_text(yaml.safe_dump({"hypothetical": [{"name": "crash", "days": 21, "drift": -1.0, "vol": 2,
                                                      "correlation": 0.5}]}))
    cfg = {"name": "hypo_cli", "universe": str(simlab_root() / "configs/universes/sp500_20.yaml"),
           "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index", "start": "2021-01-01",
                    "end": "2022-12-28"},
           "schedule": {"frequency": "quarterly"}, "pipeline": [{"type": "equal_weight"}]}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert cli_main(["stress", str(path), "--hypothetical", str(good), "--no-rerun", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "crash" in text and "robustness score" in text
    assert (out / "stress_hypothetical.csv").is_file() and (out / "stress_robustness.csv").is_file()


def simlab_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
