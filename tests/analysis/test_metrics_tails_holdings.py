"""Tail, path and holdings metrics, and the start-day convention.

References: empyrical (``value_at_risk``), quantstats (historical
``conditional_value_at_risk``), plain loops and books small enough to check by hand.
"""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest
import quantstats as qs
import xarray as xr

from simlab.analysis import metrics

DATES = pd.bdate_range("2021-01-04", periods=600)


@pytest.fixture(scope="module")
def fat_tails() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.standard_t(3, (600, 3)) * 0.01, index=DATES, columns=["a", "b", "c"])
    frame.iloc[:40, 2] = np.nan  # c starts later
    frame.iloc[300, 1] = np.nan  # and b misses a day
    return frame


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_value_at_risk_is_minus_empyrical(fat_tails, confidence):
    got = metrics.value_at_risk(fat_tails, confidence)
    for col in fat_tails:
        r = fat_tails[col].dropna()
        assert got[col] == pytest.approx(-empyrical.value_at_risk(r, cutoff=1 - confidence), rel=1e-12)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_cvar_is_minus_quantstats_historical(fat_tails, confidence):
    got = metrics.cvar(fat_tails, confidence)
    for col in fat_tails:
        r = fat_tails[col].dropna()
        ref = qs.stats.conditional_value_at_risk(r, confidence=confidence, method="historical", prepare_returns=False)
        assert got[col] == pytest.approx(-ref, rel=1e-12)
        assert got[col] >= metrics.value_at_risk(r, confidence)


def test_tail_metrics_by_hand_and_bad_confidence():
    r = pd.Series([-0.05, -0.03, 0.0, 0.01, 0.02])
    # 25% quantile with linear interpolation: -0.03; losses at or below it: -0.05, -0.03
    assert metrics.value_at_risk(r, 0.75) == pytest.approx(0.03)
    assert metrics.cvar(r, 0.75) == pytest.approx(0.04)
    assert np.isnan(metrics.cvar(pd.Series([np.nan, np.nan])))
    with pytest.raises(ValueError, match="confidence"):
        metrics.value_at_risk(r, 95)


def test_uncompounded_drawdown_by_a_loop(fat_tails):
    got = metrics.max_drawdown_uncompounded(fat_tails)
    for col in fat_tails:
        level, peak, worst = 0.0, 0.0, 0.0
        for x in np.nan_to_num(fat_tails[col].to_numpy()):
            level += x
            peak = max(peak, level)
            worst = max(worst, peak - level)
        assert got[col] == pytest.approx(worst, rel=1e-12)
    assert metrics.max_drawdown_uncompounded(pd.Series([-0.5, 0.5, -0.6])) == pytest.approx(0.6)


# ----------------------------------------------------------------------------
# Holdings
# ----------------------------------------------------------------------------


def small_book():
    """Two days, three assets, two scenarios: equal thirds, then one name and cash."""
    dates = pd.bdate_range("2022-01-03", periods=3)
    data = np.array([
        [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, 0.0]],
        [[1 / 3, 1 / 3, 1 / 3], [0.6, 0.0, 0.0]],
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    ])
    weights = xr.DataArray(data, dims=("date", "scenario", "asset"),
                           coords={"date": dates, "scenario": ["ew", "one"], "asset": ["x", "y", "z"]})
    returns = pd.DataFrame({"x": [np.nan, 0.01, -0.02], "y": [np.nan, -0.01, 0.03], "z": [np.nan, 0.0, 0.01]},
                           index=dates)
    return weights, returns


def test_effective_assets_by_hand():
    weights, _ = small_book()
    got = metrics.effective_assets(weights)
    assert got["ew"] == pytest.approx(3.0)  # the empty last day is left out
    assert got["one"] == pytest.approx(1.0)  # cash does not count
    long_short = pd.DataFrame([[0.5, -0.5]], columns=["p", "q"])
    assert metrics.effective_assets(long_short) == pytest.approx(2.0)


def test_diversification_ratio_by_hand():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.01, 400)
    y = rng.normal(0, 0.02, 400)
    returns = pd.DataFrame({"x": x, "y": y}, index=pd.bdate_range("2020-01-01", periods=400))
    weights = pd.DataFrame({"x": 0.6, "y": 0.4}, index=returns.index)
    sx, sy, cxy = np.std(x, ddof=1), np.std(y, ddof=1), np.cov(x, y, ddof=1)[0, 1]
    expected = (0.6 * sx + 0.4 * sy) / np.sqrt(0.36 * sx**2 + 0.16 * sy**2 + 2 * 0.24 * cxy)
    assert metrics.diversification_ratio(weights, returns) == pytest.approx(expected, rel=1e-12)
    one = pd.DataFrame({"x": 1.0, "y": 0.0}, index=returns.index)
    assert metrics.diversification_ratio(one, returns) == pytest.approx(1.0)


def test_position_hit_rate_by_hand():
    weights, returns = small_book()
    got = metrics.position_hit_rate(weights, returns)
    # ew: day 2 (x up, y down, z flat), day 3 (x down, y up, z up): 3 wins of 6
    assert got["ew"] == pytest.approx(3 / 6)
    # one: x up on day 2, down on day 3
    assert got["one"] == pytest.approx(1 / 2)
    short = pd.DataFrame({"x": [-1.0, -1.0, 0.0]}, index=returns.index)
    assert metrics.position_hit_rate(short, returns[["x"]]) == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="lacks the assets"):
        metrics.position_hit_rate(weights, returns[["x"]])


def test_summary_adds_the_holdings_metrics():
    weights, returns = small_book()
    port = pd.DataFrame({"ew": [0.0, 0.0, 0.01], "one": [0.0, 0.005, -0.012]}, index=returns.index)
    table = metrics.summary(port, weights=weights, asset_returns=returns)
    assert list(table.columns[-3:]) == ["effective_assets", "diversification_ratio", "position_hit_rate"]
    assert table.loc["ew", "effective_assets"] == pytest.approx(3.0)


# ----------------------------------------------------------------------------
# The start day
# ----------------------------------------------------------------------------


def test_idle_days_in_cash_change_no_return_statistic(fat_tails):
    r = fat_tails[["a", "b"]]
    late = pd.concat([pd.DataFrame(0.0, index=[DATES[0] - pd.Timedelta(days=3)], columns=r.columns), r])
    earlier = pd.concat([pd.DataFrame(0.0, index=[late.index[0] - pd.Timedelta(days=1)], columns=r.columns), late])
    a = metrics.summary(metrics.drop_start_day(late))
    pd.testing.assert_frame_equal(a, metrics.summary(metrics.drop_start_day(earlier)))
    assert a.loc["a", "sharpe"] == pytest.approx(empyrical.sharpe_ratio(r["a"]), rel=1e-12)
    assert a.loc["a", "cagr"] == pytest.approx(empyrical.cagr(r["a"]), rel=1e-12)
    # counted, the start day's zero moves the Sharpe ratio
    assert metrics.summary(late).loc["a", "sharpe"] != pytest.approx(a.loc["a", "sharpe"], rel=1e-6)
    # each scenario's idle days are its own
    staggered = pd.DataFrame({"x": [0.0, 0.0, 0.0, 0.01, 0.02], "y": [0.0, 0.03, 0.0, 0.01, 0.0]}, index=DATES[:5])
    out = metrics.drop_start_day(staggered)
    assert out["x"].isna().tolist() == [True, True, False, False]
    assert out["y"].isna().tolist() == [False, False, False, False]
    never = metrics.drop_start_day(pd.Series([0.0, 0.0, 0.0]))
    assert never.tolist() == [0.0, 0.0]  # a book that never moves keeps its zeros


def test_a_run_started_a_day_earlier_reports_the_same_metrics():
    import simlab

    def run(start):
        return simlab.run({"name": "start_day", "data": {"source": "builtin:sp500_20", "start": start,
                                                           "end": "1996-06-28"},
                           "schedule": {"frequency": "monthly", "day": "first"}, "costs": {"type": "flat", "bps": 10},
                           "pipeline": [{"type": "equal_weight"}]}).metrics()

    on_time, earlier = run("1995-01-03"), run("1994-12-30")
    pd.testing.assert_frame_equal(on_time, earlier, rtol=1e-12)


def test_drop_start_day_compounds_a_start_day_return():
    r = pd.Series([0.01, 0.02, -0.01], index=DATES[:3])
    out = metrics.drop_start_day(r)
    assert list(out.index) == list(DATES[1:3])
    assert out.iloc[0] == pytest.approx(1.01 * 1.02 - 1)
    assert metrics.total_return(out) == pytest.approx(metrics.total_return(r), rel=1e-14)
    nav = pd.DataFrame({"x": [100.0, 100.0, 110.0, 99.0]}, index=DATES[:4])
    traded = pd.DataFrame({"x": [10.0, 0.0, 22.0, 0.0]}, index=DATES[:4])
    kept = metrics.drop_start_day(nav.pct_change().fillna(0.0))
    assert kept["x"].isna().tolist() == [True, False, False]
    shares = metrics.start_day_shares(traded, nav, kept)
    assert shares["x"].iloc[0] != shares["x"].iloc[0]  # NaN on the idle day
    assert shares["x"].iloc[1:].tolist() == pytest.approx([10 / 100 + 22 / 100, 0.0])
