"""simlab.analysis.metrics against empyrical, metric by metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.analysis import metrics

pytestmark = pytest.mark.peers
empyrical = pytest.importorskip("empyrical")

RTOL = 1e-12
PERIODS = 252
RISK_FREE = 0.03  # annual
RF_DAILY = (1 + RISK_FREE) ** (1 / PERIODS) - 1
TICKERS = ["AAPL", "AMD", "BAC", "JPM", "XOM"]


@pytest.fixture(scope="module")
def real():
    """Daily returns of a few S&P 500 stocks and of the index (skfolio datasets)."""
    datasets = pytest.importorskip("skfolio.datasets")
    prices = datasets.load_sp500_dataset()[TICKERS]
    index = datasets.load_sp500_index()["SP500"]
    return prices.pct_change().iloc[1:], index.pct_change().iloc[1:]


@pytest.fixture(scope="module")
def noisy():
    """Random returns with scattered NaNs, and a benchmark with its own NaNs."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2015-01-01", periods=900)
    bench = pd.Series(rng.normal(3e-4, 0.01, len(dates)), index=dates, name="bench")
    data = 0.9 * bench.to_numpy()[:, None] + rng.normal(2e-4, 0.012, (len(dates), 6))
    frame = pd.DataFrame(data, index=dates, columns=[f"s{i}" for i in range(6)])
    frame = frame.mask(rng.random(frame.shape) < 0.05)
    bench = bench.mask(rng.random(len(bench)) < 0.03)
    return frame, bench


# (simlab metric, empyrical equivalent) on one return series
UNARY = {
    "total_return": (metrics.total_return, empyrical.cum_returns_final),
    "cagr": (metrics.cagr, empyrical.cagr),
    "annual_volatility": (metrics.annual_volatility, empyrical.annual_volatility),
    "sharpe": (metrics.sharpe, empyrical.sharpe_ratio),
    "sharpe_rf": (
        lambda r: metrics.sharpe(r, risk_free=RISK_FREE),
        lambda r: empyrical.sharpe_ratio(r, risk_free=RF_DAILY, period="daily"),
    ),
    "sortino": (metrics.sortino, empyrical.sortino_ratio),
    "sortino_mar": (
        lambda r: metrics.sortino(r, required_return=5e-4),
        lambda r: empyrical.sortino_ratio(r, required_return=5e-4),
    ),
    "max_drawdown": (metrics.max_drawdown, lambda r: -empyrical.max_drawdown(r)),
    "calmar": (metrics.calmar, empyrical.calmar_ratio),
    "weekly_cagr": (
        lambda r: metrics.cagr(r, periods=52),
        lambda r: empyrical.cagr(r, period="weekly"),
    ),
    "weekly_volatility": (
        lambda r: metrics.annual_volatility(r, periods=52),
        lambda r: empyrical.annual_volatility(r, period="weekly"),
    ),
}

# (simlab metric, empyrical equivalent) on a return series and a benchmark
BINARY = {
    "beta": (metrics.beta, empyrical.beta),
    "alpha": (metrics.alpha, empyrical.alpha),
    "alpha_rf": (
        lambda r, b: metrics.alpha(r, b, risk_free=RISK_FREE),
        lambda r, b: empyrical.alpha(r, b, risk_free=RF_DAILY),
    ),
    "information_ratio": (
        metrics.information_ratio,
        lambda r, b: empyrical.excess_sharpe(r, b) * np.sqrt(PERIODS),
    ),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_empyrical_on_real_data(real, name):
    ours, theirs = UNARY[name]
    returns, _ = real
    for column in returns:
        series = returns[column]
        np.testing.assert_allclose(ours(series), theirs(series), rtol=RTOL, err_msg=column)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_benchmark_metrics_match_empyrical_on_real_data(real, name):
    ours, theirs = BINARY[name]
    returns, bench = real
    for column in returns:
        series = returns[column]
        np.testing.assert_allclose(ours(series, bench), theirs(series, bench), rtol=RTOL, err_msg=column)


def test_drawdown_series_matches_empyrical_on_real_data(real):
    returns, _ = real
    ours = metrics.drawdown_series(returns)
    theirs = -empyrical.stats.drawdown_series(returns)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_empyrical_with_nans(noisy, name):
    ours, theirs = UNARY[name]
    frame, _ = noisy
    for column in frame:
        series = frame[column]
        np.testing.assert_allclose(ours(series), theirs(series), rtol=RTOL, err_msg=column)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_benchmark_metrics_match_empyrical_with_nans(noisy, name):
    ours, theirs = BINARY[name]
    frame, bench = noisy
    for column in frame:
        series = frame[column]
        np.testing.assert_allclose(ours(series, bench), theirs(series, bench), rtol=RTOL, err_msg=column)


def test_information_ratio_is_annualized_mean_over_tracking_error(noisy):
    frame, bench = noisy
    active = frame.sub(bench, axis=0)
    expected = active.mean() * PERIODS / (active.std(ddof=1) * np.sqrt(PERIODS))
    pd.testing.assert_series_equal(
        metrics.information_ratio(frame, bench), expected, rtol=RTOL, check_names=False
    )
    pd.testing.assert_series_equal(
        metrics.tracking_error(frame, bench),
        active.std(ddof=1) * np.sqrt(PERIODS),
        rtol=RTOL,
        check_names=False,
    )


def test_leading_nans_are_the_days_before_a_scenario_starts(noisy):
    frame, _ = noisy
    late = frame["s0"].copy()
    late.iloc[:200] = np.nan
    trimmed = late.iloc[200:]
    for name, (ours, theirs) in UNARY.items():
        np.testing.assert_allclose(ours(late), theirs(trimmed), rtol=RTOL, err_msg=name)
    assert metrics.max_drawdown_duration(late) == metrics.max_drawdown_duration(trimmed)


ALL_UNARY = {name: pair[0] for name, pair in UNARY.items()} | {
    "hit_rate": metrics.hit_rate,
    "max_drawdown_duration": metrics.max_drawdown_duration,
}
ALL_BINARY = {name: pair[0] for name, pair in BINARY.items()} | {
    "active_return": metrics.active_return,
    "tracking_error": metrics.tracking_error,
}


@pytest.mark.parametrize("name", sorted(ALL_UNARY))
def test_frame_equals_column_by_column(noisy, real, name):
    func = ALL_UNARY[name]
    for frame in (noisy[0], real[0]):
        staggered = frame.copy()
        staggered.iloc[:50, 1] = np.nan  # one scenario starts later
        staggered.iloc[:, 2] = np.nan  # one scenario never starts
        result = func(staggered)
        assert isinstance(result, pd.Series)
        assert list(result.index) == list(staggered.columns)
        expected = [func(staggered[c]) for c in staggered]
        np.testing.assert_allclose(result.to_numpy(), expected, rtol=RTOL)
        assert np.isnan(result.iloc[2])


@pytest.mark.parametrize("name", sorted(ALL_BINARY))
def test_benchmark_frame_equals_column_by_column(noisy, real, name):
    func = ALL_BINARY[name]
    for frame, bench in (noisy, real):
        result = func(frame, bench)
        expected = [func(frame[c], bench) for c in frame]
        np.testing.assert_allclose(result.to_numpy(), expected, rtol=RTOL)


def test_summary_matches_individual_metrics(real):
    returns, bench = real
    table = metrics.summary(returns, benchmark_returns=bench, risk_free=RISK_FREE)
    assert list(table.index) == TICKERS
    np.testing.assert_allclose(
        table["sharpe"], empyrical.sharpe_ratio(returns, risk_free=RF_DAILY), rtol=RTOL
    )
    np.testing.assert_allclose(table["max_drawdown"], -empyrical.max_drawdown(returns), rtol=RTOL)
    expected_beta = [empyrical.beta(returns[c], bench) for c in returns]
    np.testing.assert_allclose(table["beta"], expected_beta, rtol=RTOL)
