"""simlab.analysis.report: the self-contained HTML report of a run, and what its sections draw."""

from __future__ import annotations

import base64
import io
import re
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

import simlab
from simlab.analysis import metrics, plots, report, run_series
from simlab.analysis.caveats import caveats
from simlab.analysis.claims import claims_table
from simlab.analysis.metrics import drop_start_day
from simlab.testing.builders import report_experiment

RICH = report_experiment("report_rich", n_days=700, seed=3,
                         claims={"sharpe": {"min": 0.5}, "max_drawdown": {"max": 0.3}})
PLAIN = {
    "name": "report_plain",
    "data": {"source": "synthetic", "n_assets": 4, "n_days": 300, "seed": 1},
    "pipeline": [{"type": "equal_weight"}],
}
ALWAYS = ["summary", "equity", "drawdowns", "worst-drawdowns", "return-distribution", "rolling-sharpe",
          "rolling-risk", "monthly-returns", "weights", "turnover-costs", "trades"]


@pytest.fixture(scope="module")
def rich():
    return simlab.run(RICH)


@pytest.fixture(scope="module")
def rich_html(rich):
    return report.build_report(rich, draws=100)


@pytest.fixture(scope="module")
def plain():
    return simlab.run(PLAIN)


@pytest.fixture(scope="module")
def plain_build(plain):
    """The plain run's report, and whether building it left matplotlib's global state alone."""
    backend, style = matplotlib.get_backend(), dict(matplotlib.rcParams)
    html = report.build_report(plain)
    pyplot = sys.modules.get("matplotlib.pyplot")
    untouched = (matplotlib.get_backend() == backend and dict(matplotlib.rcParams) == style
                 and (pyplot is None or pyplot.get_fignums() == []))
    return html, untouched


def section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"><h2>', html)


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', html, flags=re.DOTALL)
    assert match, f"no section {name}"
    return match.group(1)


def embedded_images(html: str) -> list[np.ndarray]:
    return [imread(io.BytesIO(base64.b64decode(data)), format="png")
            for data in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


# --- the page -------------------------------------------------------------------------------


def test_rich_report_has_every_section_in_order(rich_html):
    assert section_ids(rich_html) == [*ALWAYS, "regimes", "attribution", "claims", "caveats", "configuration"]
    for name in section_ids(rich_html):
        assert f'<a href="#{name}">' in rich_html  # listed in the contents


def test_plain_report_leaves_out_what_the_run_lacks(plain_build):
    html, _ = plain_build
    assert section_ids(html) == [*ALWAYS, "attribution", "caveats", "configuration"]
    assert "No caveat was recorded" in section(html, "caveats")
    assert "Factor exposures: market = benchmark" in section(html, "attribution")
    assert "left out: they are real-world returns" in section(html, "attribution")


def test_report_is_self_contained(rich_html):
    assert rich_html.startswith("<!DOCTYPE html>")
    sources = re.findall(r'<img src="([^"]{0,30})', rich_html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    for external in ("http://", "https://", "<link", "<script", "url("):
        assert external not in rich_html


def test_embedded_images_decode(rich_html):
    images = embedded_images(rich_html)
    # equity, drawdowns, return distribution, rolling Sharpe, rolling risk, turnover/costs,
    # and per scenario: weights, regimes
    assert len(images) == 6 + 2 * 2
    for image in images:
        height, width = image.shape[:2]
        assert width >= 400 and height >= 200
        assert image[..., :3].std() > 0.05  # something is drawn


def test_building_leaves_pyplot_and_the_style_alone(plain_build):
    _, untouched = plain_build
    assert untouched


# --- sections -------------------------------------------------------------------------------


def test_summary_puts_the_benchmark_beside_the_scenarios(rich, rich_html):
    text = section(rich_html, "summary")
    for name in rich.scenarios:
        assert f"<th>{name}</th>" in text
    assert "benchmark:" in text
    sharpe = rich.metrics().loc["top_n=3", "sharpe"]
    assert f"{sharpe:.3f}" in text


def test_monthly_heatmap_shows_each_scenario(rich, rich_html):
    text = section(rich_html, "monthly-returns")
    assert text.count('<table class="heatmap">') == len(rich.scenarios)
    first = run_series.monthly_returns(rich.returns["top_n=4"]).iloc[0]
    month = first.drop("year").dropna()
    assert f"{100 * month.iloc[0]:.1f}</td>" in text


def test_claims_table_shows_intervals_and_verdicts(rich, rich_html):
    text = section(rich_html, "claims")
    rows = re.findall(r'<tr class="verdict (pass|fail|inconclusive)">', text)
    assert len(rows) == 2 * len(rich.scenarios)  # two claims, each judged on both scenarios
    assert text.count("sharpe &gt;= ") == len(rich.scenarios)
    assert re.search(r"<td class=\"\">\[-?\d+\.\d+, -?\d+\.\d+\]</td>", text)  # a Sharpe interval


def test_claims_judged_here_say_how(rich_html):
    assert "Judged when the report was written: 100 bootstrap resamples, seed 0." in section(rich_html, "claims")


def test_many_scenarios_are_judged_on_the_best_with_the_rows_of_a_full_judgement():
    many = simlab.run({
        "name": "many", "data": {"source": "synthetic", "n_assets": 10, "n_days": 400, "seed": 2},
        "strategy": {"type": "momentum", "lookback": 126, "skip": 5},
        "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}],
        "scenarios": {"grid": {"pipeline.0.top_n": list(range(1, 11)), "strategy.lookback": [63, 126]}},
        "claims": {"sharpe": {"min": 0.3}},
    })
    assert len(many.scenarios) == 20 > report.MAX_TABLE
    judged = report.judge_claims(many, draws=50)
    assert tuple(judged["scenario"]) == report.focus_scenarios(many.metrics(), report.MAX_TABLE)
    full = claims_table(many, draws=50).set_index("scenario").loc[judged["scenario"]].reset_index()
    pd.testing.assert_frame_equal(full[judged.columns], judged)


def test_caveats_name_proxy_strategy_and_vix_proxy_days(rich, rich_html):
    notes = caveats(rich)
    assert any(n.startswith("Proxy strategy: value_momentum (every scenario)") for n in notes)
    diag = rich.diagnostics
    proxy = diag[(diag["key"] == "vix_proxy") & (diag["scenario"] == "top_n=3")]
    used, decisions = int((proxy["value"] > 0).sum()), proxy["date"].nunique()
    assert used > 0
    assert f"vix_regime (vix_proxy) used the realized-volatility proxy in place of the VIX on {used} of " \
           f"{decisions} decision days" in " ".join(notes)
    assert any("regime_constraints (regime_proxy)" in n for n in notes)
    assert "Proxy strategy: value_momentum" in section(rich_html, "caveats")


def test_survivorship_caveat_of_the_data_is_shown(plain):
    plain.market.provenance["caveats"] = ["survivorship bias: the stocks are today's survivors"]
    try:
        assert caveats(plain)[0] == "Data: survivorship bias: the stocks are today's survivors"
    finally:
        del plain.market.provenance["caveats"]


def test_regime_labels_are_held_between_decisions(rich):
    label, names = run_series.regime_labels(rich, "top_n=3")
    assert label.index.equals(rich.dates)
    diag = rich.diagnostics
    decided = diag[(diag["key"] == "regime") & (diag["scenario"] == "top_n=3")].set_index("date")["value"]
    pd.testing.assert_series_equal(label.reindex(decided.index), decided, check_names=False)
    second = decided.index[1]
    between = label[(label.index > second) & (label.index < decided.index[2])]
    assert (between == decided.iloc[1]).all()
    assert names[1] == "regime 1, stress"


def test_utilization_collects_every_util_key(rich):
    util = run_series.utilization(rich, "top_n=4")
    keys = {k.removeprefix("util_") for k in rich.diagnostics["key"].unique() if k.startswith("util_")}
    assert set(util.columns) == keys
    assert util.index.equals(rich.dates)


def test_utilization_is_none_without_constraints(plain):
    assert run_series.utilization(plain, plain.scenarios[0]) is None
    assert run_series.regime_labels(plain, plain.scenarios[0]) == (None, {})


# --- what the sections draw ------------------------------------------------------------------


def test_rolling_sharpe_matches_the_direct_formula():
    rng = np.random.default_rng(0)
    r = pd.Series(rng.normal(5e-4, 0.01, 400), index=pd.bdate_range("2020-01-01", periods=400))
    out = run_series.rolling_sharpe(r, window=252, risk_free=0.02)
    assert out.iloc[:251].isna().all()
    window = r.iloc[148:400] - (1.02 ** (1 / 252) - 1)
    assert out.iloc[-1] == pytest.approx(window.mean() / window.std(ddof=1) * np.sqrt(252), rel=1e-10)


def test_monthly_returns_compound_within_months():
    dates = pd.to_datetime(["2021-01-04", "2021-01-05", "2021-02-01", "2022-03-01"])
    table = run_series.monthly_returns(pd.Series([0.1, 0.1, -0.5, 0.2], index=dates))
    assert table.loc[2021, 1] == pytest.approx(0.21)
    assert table.loc[2021, 2] == pytest.approx(-0.5)
    assert np.isnan(table.loc[2021, 3])
    assert table.loc[2021, "year"] == pytest.approx(1.21 * 0.5 - 1)
    assert table.loc[2022, "year"] == pytest.approx(0.2)


def test_turnover_and_costs_follow_the_metrics_conventions(plain):
    nav, traded, costs = plain.nav, plain.daily_traded_value(), plain.daily_costs()
    turnover = run_series.trailing_turnover(traded, nav, window=len(nav))
    days = int(drop_start_day(plain.returns).iloc[:, 0].count())  # the start and idle days left out
    annual = plain.metrics()["annual_turnover"].iloc[0]
    assert turnover.iloc[-1, 0] * 252 / days == pytest.approx(annual, rel=1e-9)
    paid = run_series.cumulative_costs(costs, nav)
    assert paid.iloc[-1, 0] * 252 / days == pytest.approx(plain.metrics()["cost_drag"].iloc[0], rel=1e-9)


def test_focus_is_the_best_by_sharpe_when_there_are_many():
    table = pd.DataFrame({"sharpe": [0.1, np.nan, 0.9, 0.5]}, index=["a", "b", "c", "d"])
    assert report.focus_scenarios(table, 4) == ("a", "b", "c", "d")
    assert report.focus_scenarios(table, 2) == ("c", "d")


# --- figures ----------------------------------------------------------------------------------


def decode(fig) -> np.ndarray:
    return imread(io.BytesIO(plots.figure_png(fig, dpi=60)), format="png")


def test_weights_figure_handles_shorts_and_many_assets():
    dates = pd.bdate_range("2021-01-01", periods=60)
    rng = np.random.default_rng(1)
    weights = pd.DataFrame(rng.uniform(-0.02, 0.08, (60, 15)), index=dates, columns=[f"A{i}" for i in range(15)])
    image = decode(plots.weights_figure(weights, max_assets=5, title="w"))
    assert image.shape[0] > 100 and image.shape[1] > 300


def test_regime_figure_without_utilization_or_regime():
    dates = pd.bdate_range("2021-01-01", periods=80)
    nav = pd.Series(np.linspace(1.0, 1.3, 80), index=dates, name="s")
    regime = pd.Series(np.r_[np.zeros(30), np.ones(20), -np.ones(30)], index=dates)
    assert decode(plots.regime_figure(nav, regime, None)).shape[1] > 300
    assert decode(plots.regime_figure(nav, None, pd.DataFrame({"sector": np.linspace(0, 1.2, 80)}, index=dates)))\
        .shape[1] > 300


# --- worst drawdowns, rolling risk, trades ----------------------------------------------------


def test_worst_drawdowns_match_quantstats_drawdown_details():
    qs = pytest.importorskip("quantstats")
    r = pd.Series(np.random.default_rng(1).normal(0.0004, 0.01, 400), index=pd.bdate_range("2020-01-01", periods=400))
    ours = run_series.worst_drawdowns(r, top=4)
    theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r)).sort_values("max drawdown").head(4)
    assert [d.date() for d in ours["start"]] == [pd.Timestamp(d).date() for d in theirs["start"]]
    assert [d.date() for d in ours["trough"]] == [pd.Timestamp(d).date() for d in theirs["valley"]]
    np.testing.assert_allclose(ours["depth"], -theirs["max drawdown"].to_numpy() / 100, rtol=1e-9)
    assert ours["depth"].iloc[0] == pytest.approx(metrics.max_drawdown(r), rel=1e-12)
    for _, row in ours.dropna(subset=["recovery"]).iterrows():  # quantstats' end: the last day below the peak
        end = theirs.loc[theirs["start"] == row["start"].strftime("%Y-%m-%d"), "end"].iloc[0]
        assert r.index[r.index.get_loc(row["recovery"]) - 1] == pd.Timestamp(end)


def test_worst_drawdowns_by_hand():
    r = pd.Series([-0.1, 0.2, -0.5, 0.1], index=pd.bdate_range("2022-01-03", periods=4))
    table = run_series.worst_drawdowns(r)
    assert table["depth"].tolist() == pytest.approx([1 - 1.08 * 0.5 / 1.08, 0.1])
    assert pd.isna(table["peak"].iloc[1]) and table["recovery"].iloc[1] == r.index[1]  # the start is a peak
    assert pd.isna(table["recovery"].iloc[0]) and table["days"].tolist() == [2, 2]


def test_rolling_volatility_and_beta_are_the_metrics_on_each_window():
    rng = np.random.default_rng(4)
    dates = pd.bdate_range("2020-01-01", periods=80)
    bench = pd.Series(rng.normal(0, 0.01, 80), index=dates)
    returns = pd.DataFrame({"a": 1.5 * bench + rng.normal(0, 0.005, 80)}, index=dates)
    beta = run_series.rolling_beta(returns, bench, window=30)
    vol = run_series.rolling_volatility(returns, window=30)
    assert beta["a"].iloc[:29].isna().all()
    assert beta["a"].iloc[-1] == pytest.approx(metrics.beta(returns["a"].iloc[-30:], bench.iloc[-30:]), rel=1e-9)
    assert vol["a"].iloc[-1] == pytest.approx(metrics.annual_volatility(returns["a"].iloc[-30:]), rel=1e-12)


def test_trade_table_counts_the_fills():
    trades = pd.DataFrame({"date": pd.to_datetime(["2022-01-03", "2022-01-03", "2022-02-01"]), "scenario": "s",
                           "asset": ["A", "B", "A"], "shares": [10.0, 5.0, -4.0], "value": [100.0, 50.0, -40.0],
                           "cost": [0.1, 0.05, 0.04]})
    table = run_series.trade_table(trades, ["s", "idle"])
    assert table.loc["s", ["fills", "buys", "sells", "assets"]].tolist() == [3, 2, 1, 2]
    assert table.loc["s", "cost_bps"] == pytest.approx(1e4 * 0.19 / 190)
    assert table.loc["idle", "fills"] == 0 and np.isnan(table.loc["idle", "cost_bps"])


def test_report_md_cells_are_the_console_cells():
    from simlab.analysis.tables import format_metrics, format_metrics_markdown

    table = pd.DataFrame({"sharpe": [1.0, np.nan], "cagr": [0.1234, -0.02]}, index=["a", "b"])
    md = format_metrics_markdown(table, "all").splitlines()
    assert md[0] == "| metric | a | b |" and md[2] == "| sharpe | 1.000 |  |" and md[3] == "| cagr | 12.34% | -2.00% |"
    assert "12.34%" in format_metrics(table) and "-2.00%" in format_metrics(table)
    money = pd.DataFrame({"total_costs": [4251435.117], "max_drawdown_duration": [870.0]}, index=["a"])
    assert format_metrics_markdown(money, "all").splitlines()[2:] == ["| total_costs | 4,251,435 |",
                                                                      "| max_drawdown_duration | 870 |"]
