"""simlab.analysis.claims: the claims: block, bootstrap intervals, walk-forward, verdicts.

Tolerances: the 95% stationary-bootstrap interval of the Sharpe ratio, over 200 seeded
trials of 500 daily returns with a known Sharpe ratio (200 resamples each), covers it in
[0.90, 0.99] of the trials for iid returns and in [0.88, 0.99] for AR(1) returns (phi 0.3).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import signal

import simlab
from simlab.analysis import claims as cl
from simlab.analysis import metrics
from simlab.config.schema import ClaimsConfig
from simlab.errors import ConfigError

SYNTHETIC = {"source": "synthetic", "n_assets": 10, "n_days": 1500, "seed": 1, "benchmark": None}


def experiment(claims=None, scenarios=None, **extra) -> dict:
    out = {"name": "claims_test", "data": dict(SYNTHETIC), "pipeline": [{"type": "equal_weight"}], "seed": 3,
           **extra}
    if claims is not None:
        out["claims"] = claims
    if scenarios is not None:
        out["scenarios"] = scenarios
    return out


TWO = {"list": [{"name": "equal"}, {"name": "inverse_vol", "pipeline": [{"type": "inverse_volatility"}]}]}


@pytest.fixture(scope="module")
def two_scenarios():
    return simlab.run(experiment(scenarios=TWO))


# ----------------------------------------------------------------------------
# The claims: block
# ----------------------------------------------------------------------------


def test_unknown_metric_names_the_key_and_the_nearest_metric():
    with pytest.raises(ConfigError, match=r"claims\.sharp: unknown key\. Did you mean 'sharpe'\?"):
        simlab.load_config(experiment({"sharp": {"min": 1.0}}))
    with pytest.raises(ConfigError, match=r"claims\.activ_return: unknown key\. Did you mean 'active_return'\?"):
        simlab.load_config(experiment({"activ_return": {"min": 1.0}}))


def test_a_claim_needs_a_consistent_bound():
    with pytest.raises(ConfigError, match=r"claims\.sharpe: .*a claim needs a bound"):
        simlab.load_config(experiment({"sharpe": {}}))
    with pytest.raises(ConfigError, match=r"claims\.beta: .*min \(2\.0\) is above max \(1\.0\)"):
        simlab.load_config(experiment({"beta": {"min": 2, "max": 1}}))
    with pytest.raises(ConfigError, match=r"claims\.sharpe\.mni: unknown key"):
        simlab.load_config(experiment({"sharpe": {"mni": 1}}))


def test_claim_keys_are_the_metrics_the_engine_reports(two_scenarios):
    assert list(ClaimsConfig.model_fields) == list(two_scenarios.metrics().columns)


def test_saved_config_keeps_only_the_claims_given():
    cfg = simlab.load_config(experiment({"sharpe": {"min": 0.5}, "max_drawdown": {"max": 0.3}}))
    saved = cfg.to_dict()["claims"]
    assert set(saved) == {"sharpe", "max_drawdown"} and saved["sharpe"]["min"] == 0.5
    again = simlab.load_config(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again.config_hash() == cfg.config_hash()
    assert simlab.load_config(experiment()).to_dict()["claims"] == {}
    assert [c.label for c in cl.claims_of(cfg)] == ["sharpe >= 0.5", "max_drawdown <= 30%"]


# ----------------------------------------------------------------------------
# Bootstrap intervals
# ----------------------------------------------------------------------------


def returns_with_sharpe(sharpe: float, n: int, seed: int, phi: float = 0.0) -> np.ndarray:
    """Daily returns, stationary AR(1) noise of volatility 1%, with annual Sharpe ``sharpe``."""
    e = np.random.default_rng(seed).normal(0.0, 0.01 * np.sqrt(1 - phi**2), n + 300)
    noise = signal.lfilter([1.0], [1.0, -phi], e)[300:]
    return sharpe / np.sqrt(252) * 0.01 + noise


@pytest.mark.parametrize(("phi", "low"), [(0.0, 0.90), (0.3, 0.88)])
def test_sharpe_interval_covers_the_truth_about_95_percent_of_the_time(phi, low):
    covered = []
    for trial in range(200):
        lo, hi, _ = cl.metric_interval("sharpe", returns_with_sharpe(1.0, 500, trial, phi), draws=200, seed=trial)
        covered.append(lo <= 1.0 <= hi)
    assert low <= np.mean(covered) <= 0.99


def test_same_seed_same_interval():
    r = returns_with_sharpe(0.8, 750, 1, 0.1)
    first = cl.metric_interval("sharpe", r, draws=300, seed=5)
    assert cl.metric_interval("sharpe", r, draws=300, seed=5) == first
    assert cl.metric_interval("sharpe", r, draws=300, seed=6)[:2] != first[:2]
    lo, hi, block = first
    assert lo < metrics.sharpe(pd.Series(r)) < hi and block >= 1


def test_resampled_metrics_are_the_engines_metrics(two_scenarios):
    # the bootstrap measures each path with the functions that produced the run's metrics
    names = list(two_scenarios.scenarios)
    panel = cl._panel(two_scenarios, names, {"annual_turnover", "cost_drag"})
    reported = two_scenarios.metrics()
    for metric in reported.columns.drop(sorted(cl.POINT_ONLY)):
        np.testing.assert_allclose(cl._metric(metric, panel, 0.0), reported[metric].to_numpy(), rtol=1e-10,
                                   err_msg=metric)


# ----------------------------------------------------------------------------
# Walk-forward
# ----------------------------------------------------------------------------


def test_walk_forward_picks_the_in_sample_best_and_judges_it_out_of_sample():
    good, bad = returns_with_sharpe(2.0, 1500, 1), returns_with_sharpe(-1.0, 1500, 2)
    panel = cl._Panel(np.column_stack([bad, good]), np.zeros((1500, 1)))
    walk = cl.walk_forward(cl.Claim("sharpe", min=0.5), panel, train_days=500, test_days=250)
    assert walk.windows == 4
    assert walk.estimate == pytest.approx(metrics.sharpe(pd.Series(good[500:])), rel=1e-12)
    lowest = cl.walk_forward(cl.Claim("sharpe", max=0.0), panel, train_days=500, test_days=250)
    assert lowest.estimate == pytest.approx(metrics.sharpe(pd.Series(bad[500:])), rel=1e-12)


def test_walk_forward_carries_span_metrics_at_their_pace():
    # a steady 0.05% a day: the out-of-sample pace, carried to the whole span, is the whole span's
    r = np.full((1000, 1), 0.0005)
    bench = np.full((1000, 1), 0.0002)
    panel = cl._Panel(r, bench)
    total = cl.walk_forward(cl.Claim("total_return", min=0.0), panel, train_days=400, test_days=200)
    assert total.estimate == pytest.approx(1.0005**1000 - 1, rel=1e-9)
    active = cl.walk_forward(cl.Claim("active_return", min=0.0), panel, train_days=400, test_days=200)
    assert active.estimate == pytest.approx(1.0005**1000 - 1.0002**1000, rel=1e-9)
    assert active.met == active.windows == 3


def test_walk_forward_windows():
    assert cl._windows(2000, 756, 252) == [(756, 1008), (1008, 1260), (1260, 1512), (1512, 1764), (1764, 2000)]
    assert cl._windows(1500, 756, 252) == [(750, 1002), (1002, 1254), (1254, 1500)]  # train capped at half
    assert cl._windows(1010, 500, 252) == [(500, 752), (752, 1010)]  # the last 6 days join the last window
    assert cl._windows(30, 756, 252) == []


# ----------------------------------------------------------------------------
# The claims table and the verdict rules
# ----------------------------------------------------------------------------


def test_claims_table_rows_and_estimates(two_scenarios):
    claims = [cl.Claim("sharpe", min=-5.0), cl.Claim("max_drawdown", max=0.2, scenario="equal"),
              cl.Claim("total_costs", max=1e9)]
    table = cl.claims_table(two_scenarios, claims, draws=200)
    assert list(table.columns) == cl.COLUMNS
    assert list(zip(table["metric"], table["scenario"])) == [
        ("sharpe", "equal"), ("sharpe", "inverse_vol"), ("max_drawdown", "equal"), ("total_costs", "equal"),
        ("total_costs", "inverse_vol")]
    reported = two_scenarios.metrics()
    for row in table.itertuples():
        assert row.estimate == reported.loc[row.scenario, row.metric]
    sharpe = table[table["metric"] == "sharpe"]
    assert (sharpe["ci_low"] < sharpe["estimate"]).all() and (sharpe["estimate"] < sharpe["ci_high"]).all()
    assert (sharpe["verdict"] == "PASS").all() and (sharpe["trials"] == 2).all()
    assert (sharpe["psr"] > 0.999).all()
    assert table.loc[2, "verdict"] == "FAIL" and "above the claimed maximum 20%" in table.loc[2, "reason"]
    costs = table[table["metric"] == "total_costs"]
    assert costs["ci_low"].isna().all() and (costs["verdict"] == "PASS").all()
    assert "point estimate only" in costs["reason"].iloc[0]


def test_claims_table_is_seeded(two_scenarios):
    claims = [cl.Claim("sharpe", min=0.0)]
    first = cl.claims_table(two_scenarios, claims, draws=100)
    pd.testing.assert_frame_equal(first, cl.claims_table(two_scenarios, claims, draws=100))
    other = cl.claims_table(two_scenarios, claims, draws=100, seed=99)
    assert not np.allclose(first["ci_low"], other["ci_low"])


def test_declared_trials_deflate_the_sharpe_ratio(two_scenarios):
    plain = cl.claims_table(two_scenarios, [cl.Claim("sharpe", min=0.0)], draws=50)
    many = cl.claims_table(two_scenarios, [cl.Claim("sharpe", min=0.0, trials=500)], draws=50)
    assert (many["trials"] == 500).all() and (many["dsr"] < plain["dsr"]).all()


def test_sweep_variants_count_as_trials():
    sweep = {"schedule.frequency": ["monthly", "weekly"], "data.start": ["2000-06-01", "2001-01-01", "2002-01-01"]}
    result = simlab.run(experiment({"sharpe": {"min": 0.0}}, sweep=sweep))
    table = cl.claims_table(result, draws=20)
    assert table["trials"].tolist() == [6]
    alone = cl.claims_table(result, draws=20, trial_sharpes=np.array([0.4]))
    assert alone["trials"].tolist() == [1] and alone["dsr"].iloc[0] == pytest.approx(alone["psr"].iloc[0])


def test_claims_name_what_they_cannot_judge(two_scenarios):
    with pytest.raises(ConfigError, match=r"claims\.sharpe\.scenario: 'nope' is not a scenario .*equal, inverse_vol"):
        cl.claims_table(two_scenarios, [cl.Claim("sharpe", min=0.0, scenario="nope")])
    no_benchmark = SimpleNamespace(scenarios=("a",), benchmark_returns=None, config=SimpleNamespace(name="x"))
    with pytest.raises(ConfigError, match=r"claims\.beta: beta is measured against a benchmark"):
        cl.claims_table(no_benchmark, [cl.Claim("beta", max=1.0)])


def row(**values) -> dict:
    base = {"estimate": 1.2, "ci_low": 1.0, "ci_high": 1.4, "psr": 0.99, "dsr": 0.99, "trials": 1,
            "min_trl_years": 5.0, "years": 10.0, "wf_estimate": 1.1}
    return {**base, **values}


@pytest.mark.parametrize(("values", "verdict", "words"), [
    ({}, "PASS", "PSR 0.990 reach 0.95"),
    ({"estimate": 0.8, "ci_low": 0.5, "ci_high": 0.95, "psr": 0.01}, "FAIL", "excludes the claim"),
    ({"estimate": 0.8, "ci_low": 0.5, "ci_high": 1.3, "psr": 0.3}, "FAIL", "below the claimed minimum 1"),
    ({"ci_low": 0.9}, "INCONCLUSIVE", "reaches past the bound"),
    ({"psr": 0.9}, "INCONCLUSIVE", "PSR 0.900 < 0.95"),
    ({"trials": 20, "dsr": 0.5}, "INCONCLUSIVE", "best of 20 trials"),
    ({"wf_estimate": 0.7}, "INCONCLUSIVE", "walk-forward out of sample gives 0.700"),
    ({"estimate": np.nan}, "INCONCLUSIVE", "undefined"),
])
def test_verdict_rules(values, verdict, words):
    got, reason = cl._verdict(cl.Claim("sharpe", min=1.0), row(**values), 0.95)
    assert got == verdict and words in reason


def test_verdict_rules_for_an_upper_bound():
    claim = cl.Claim("max_drawdown", max=0.25)
    assert cl._verdict(claim, row(estimate=0.2, ci_low=0.1, ci_high=0.24, wf_estimate=0.22), 0.95)[0] == "PASS"
    assert cl._verdict(claim, row(estimate=0.2, ci_low=0.1, ci_high=0.3, wf_estimate=0.22), 0.95)[0] == "INCONCLUSIVE"
    verdict, reason = cl._verdict(claim, row(estimate=0.3, ci_low=0.26, ci_high=0.4), 0.95)
    assert verdict == "FAIL" and "above the claimed maximum 25%" in reason


def test_equal_sharpe_table(two_scenarios):
    table = cl.equal_sharpe_table(two_scenarios, draws=99)
    assert len(table) == 1 and list(table[["scenario_a", "scenario_b"]].iloc[0]) == ["equal", "inverse_vol"]
    both = metrics.drop_start_day(two_scenarios.returns).dropna()  # the days both are invested
    assert table["sharpe_a"].iloc[0] == pytest.approx(metrics.sharpe(both["equal"]), rel=1e-12)
    assert table["sharpe_b"].iloc[0] == pytest.approx(metrics.sharpe(both["inverse_vol"]), rel=1e-12)
    assert 0 < table["p_value"].iloc[0] <= 1 and table["p_holm"].iloc[0] == table["p_value"].iloc[0]
