"""simlab.analysis.metrics: hand-computed cases, edge cases and properties."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simlab.analysis import metrics

DATES = pd.bdate_range("2020-01-01", periods=400)


def series(values, name="p") -> pd.Series:
    return pd.Series(values, index=DATES[: len(values)], name=name, dtype="float64")


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------
# A known drawdown path: value 1, 2, 1, 2, 4, 2, 3, 3
# --------------------------------------------------------------------------

PATH = [1.0, -0.5, 1.0, 1.0, -0.5, 0.5, 0.0]


def test_known_path_drawdown_series():
    dd = metrics.drawdown_series(series(PATH))
    np.testing.assert_array_equal(dd.to_numpy(), [0, 0.5, 0, 0, 0.5, 0.25, 0.25])
    assert dd.index.equals(DATES[:7])


def test_known_path_scalars():
    r = series(PATH)
    assert metrics.total_return(r) == pytest.approx(2.0)
    assert metrics.max_drawdown(r) == 0.5
    # peak 2 on day 1, back on day 3: 2 days; peak 4 on day 4, under water to day 7: 3 days
    assert metrics.max_drawdown_duration(r) == 3
    assert metrics.hit_rate(r) == pytest.approx(4 / 7)
    years = 7 / 252
    assert metrics.cagr(r) == pytest.approx(3.0 ** (1 / years) - 1)
    assert metrics.calmar(r) == pytest.approx(metrics.cagr(r) / 0.5)


def test_recovered_drawdown_counts_days_from_peak_to_recovery():
    # 1, 2, 1, 1, 2 (back at the peak on day 4), 2.2
    r = series([1.0, -0.5, 0.0, 1.0, 0.1])
    assert metrics.max_drawdown_duration(r) == 3


def test_first_day_loss_is_a_drawdown_from_the_start_value():
    r = series([-0.1, 0.0, 0.2])
    np.testing.assert_allclose(metrics.drawdown_series(r), [0.1, 0.1, 0.0], atol=1e-15)
    assert metrics.max_drawdown(r) == pytest.approx(0.1)
    assert metrics.max_drawdown_duration(r) == 3


def test_no_drawdown(no_warnings):
    r = series([0.01, 0.02, 0.0, 0.03])
    assert metrics.max_drawdown(r) == 0.0
    assert metrics.max_drawdown_duration(r) == 0
    assert np.isnan(metrics.calmar(r))
    assert np.isnan(metrics.sortino(r))


def test_leading_nans_are_dropped_from_the_duration_and_the_drawdown():
    r = series([np.nan, np.nan, -0.5, 1.0])
    assert metrics.max_drawdown_duration(r) == 2
    dd = metrics.drawdown_series(r)
    assert dd.iloc[:2].isna().all()
    np.testing.assert_array_equal(dd.iloc[2:], [0.5, 0.0])
    assert metrics.cagr(r, periods=2) == pytest.approx(0.0)


# --------------------------------------------------------------------------
# Constant series and undefined values
# --------------------------------------------------------------------------


def test_constant_series(no_warnings):
    r = series(np.full(252, 0.001))
    assert metrics.total_return(r) == pytest.approx(1.001**252 - 1, rel=1e-12)
    assert metrics.cagr(r) == pytest.approx(1.001**252 - 1, rel=1e-12)
    assert metrics.annual_volatility(r) == 0.0
    assert np.isnan(metrics.sharpe(r))
    assert np.isnan(metrics.sharpe(r, risk_free=0.02))
    assert np.isnan(metrics.sortino(r))
    assert metrics.max_drawdown(r) == 0.0
    assert np.isnan(metrics.calmar(r))
    assert metrics.hit_rate(r) == 1.0


def test_all_nan_column_gives_nan(no_warnings):
    frame = pd.DataFrame({"a": np.linspace(-0.01, 0.02, 30), "b": np.nan}, index=DATES[:30])
    bench = pd.Series(np.linspace(0.01, -0.01, 30), index=DATES[:30])
    table = metrics.summary(frame, benchmark_returns=bench)
    assert table.loc["b"].isna().all()
    assert table.loc["a"].notna().all()


def test_single_return_has_no_dispersion(no_warnings):
    r = series([0.01])
    assert np.isnan(metrics.annual_volatility(r))
    assert np.isnan(metrics.sharpe(r))
    assert metrics.total_return(r) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "func",
    [metrics.total_return, metrics.sharpe, metrics.max_drawdown, metrics.drawdown_series],
)
def test_empty_input_raises(func):
    with pytest.raises(ValueError, match="empty"):
        func(pd.Series([], dtype="float64"))
    with pytest.raises(ValueError, match="empty"):
        func(pd.DataFrame(index=DATES[:5]))


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="Series or DataFrame"):
        metrics.sharpe(np.zeros(5))
    with pytest.raises(ValueError, match="periods"):
        metrics.cagr(series([0.01, 0.02]), periods=0)


def test_series_gives_float_frame_gives_series():
    frame = pd.DataFrame({"x": [0.01, -0.02, 0.03], "y": [0.0, 0.01, 0.02]}, index=DATES[:3])
    assert isinstance(metrics.sharpe(frame["x"]), float)
    result = metrics.sharpe(frame)
    assert isinstance(result, pd.Series)
    assert list(result.index) == ["x", "y"]


# --------------------------------------------------------------------------
# Rates and benchmark metrics by hand
# --------------------------------------------------------------------------


def test_sharpe_converts_annual_risk_free_per_period():
    r = series([0.01, -0.005, 0.002, 0.007, -0.001])
    daily = 1.05 ** (1 / 252) - 1
    excess = r - daily
    expected = excess.mean() / excess.std(ddof=1) * np.sqrt(252)
    assert metrics.sharpe(r, risk_free=0.05) == pytest.approx(expected, rel=1e-12)


def test_active_return_uses_the_dates_both_have():
    r = series([0.1, 0.1, 0.1])
    b = series([0.0, 0.1])
    assert metrics.active_return(r, b) == pytest.approx(1.1 * 1.1 - 1 - 0.1)


def test_benchmark_metrics_of_the_benchmark_itself(no_warnings):
    b = series(np.sin(np.arange(50)) / 100)
    assert metrics.beta(b, b) == pytest.approx(1.0)
    assert metrics.active_return(b, b) == 0.0
    assert metrics.tracking_error(b, b) == 0.0
    assert np.isnan(metrics.information_ratio(b, b))
    assert metrics.alpha(b, b) == pytest.approx(0.0, abs=1e-12)


def test_information_ratio_by_hand():
    r = series([0.02, 0.00, 0.01, 0.03])
    b = series([0.01, 0.01, 0.00, 0.01])
    active = np.array([0.01, -0.01, 0.01, 0.02])
    te = active.std(ddof=1) * np.sqrt(252)
    assert metrics.tracking_error(r, b) == pytest.approx(te, rel=1e-12)
    assert metrics.information_ratio(r, b) == pytest.approx(active.mean() * 252 / te, rel=1e-12)


def test_benchmark_frame_per_scenario():
    frame = pd.DataFrame({"a": [0.01, 0.02, -0.01], "b": [0.0, 0.01, 0.03]}, index=DATES[:3])
    bench = frame[["b", "a"]].rename(columns={"a": "b", "b": "a"})
    result = metrics.active_return(frame, bench)
    assert result["a"] == pytest.approx(metrics.total_return(frame["a"]) - metrics.total_return(frame["b"]))


# --------------------------------------------------------------------------
# Turnover and costs on a small book
# --------------------------------------------------------------------------


@pytest.fixture
def book():
    """Two scenarios over 4 days; B starts on day 1."""
    idx = DATES[:4]
    nav = pd.DataFrame({"A": [100.0, 110.0, 100.0, 120.0], "B": [np.nan, 200.0, 200.0, 200.0]}, index=idx)
    traded = pd.DataFrame({"A": [100.0, 0.0, 50.0, 0.0], "B": [0.0, 200.0, 0.0, 100.0]}, index=idx)
    costs = pd.DataFrame({"A": [0.1, 0.0, 0.05, 0.0], "B": [0.0, 0.2, 0.0, 0.1]}, index=idx)
    return nav, traded, costs


def test_annual_turnover_by_hand(book):
    nav, traded, _ = book
    result = metrics.annual_turnover(traded, nav)
    # A: day 0 buys the book from cash (0.5 one-way), day 2 trades 50 against 110 of NAV
    assert result["A"] == pytest.approx((0.5 + 0.5 * 50 / 110) * 252 / 4)
    # B: its first day uses its own NAV; 3 days of life
    assert result["B"] == pytest.approx((0.5 + 0.5 * 100 / 200) * 252 / 3)


def test_buying_a_full_book_from_cash_counts_half():
    nav = series([1000.0])
    assert metrics.annual_turnover(series([1000.0]), nav, periods=1) == 0.5


def test_cost_drag_and_total_costs_by_hand(book):
    nav, _, costs = book
    drag = metrics.cost_drag(costs, nav)
    assert drag["A"] == pytest.approx((0.1 / 100 + 0.05 / 110) * 252 / 4)
    assert drag["B"] == pytest.approx((0.2 / 200 + 0.1 / 200) * 252 / 3)
    pd.testing.assert_series_equal(metrics.total_costs(costs), pd.Series({"A": 0.15, "B": 0.3}), check_names=False)


def test_trading_data_may_list_only_trade_days(book):
    nav, traded, costs = book
    sparse = traded.loc[(traded != 0).any(axis=1), ["A"]]
    dense = traded.assign(B=0.0)
    pd.testing.assert_series_equal(metrics.annual_turnover(sparse, nav), metrics.annual_turnover(dense, nav))
    with pytest.raises(ValueError, match="dates that nav lacks"):
        metrics.annual_turnover(traded.set_axis(DATES[10:14]), nav)
    with pytest.raises(ValueError, match="scenarios that nav lacks"):
        metrics.cost_drag(costs.assign(C=1.0), nav)


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------

BASE_COLUMNS = [
    "total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar",
    "max_drawdown", "max_drawdown_duration", "hit_rate", "value_at_risk", "cvar", "max_drawdown_uncompounded",
]


def test_summary_columns_and_order(book):
    nav, traded, costs = book
    returns = nav.pct_change(fill_method=None)
    bench = pd.Series([0.0, 0.01, -0.01, 0.02], index=nav.index)
    plain = metrics.summary(returns)
    assert list(plain.columns) == BASE_COLUMNS
    assert list(plain.index) == ["A", "B"] and plain.index.name == "scenario"
    full = metrics.summary(returns, benchmark_returns=bench, traded_value=traded, costs=costs, nav=nav)
    assert list(full.columns) == BASE_COLUMNS + [
        "annual_turnover", "total_costs", "cost_drag",
        "active_return", "annual_active_return", "tracking_error", "information_ratio", "beta",
    ]
    pd.testing.assert_series_equal(full["annual_turnover"], metrics.annual_turnover(traded, nav), check_names=False)


def test_summary_of_a_series_is_one_row():
    r = series([0.01, -0.02, 0.015], name="mine")
    nav = (1 + r).cumprod() * 100
    table = metrics.summary(r, costs=series([1.0, 0.0, 0.5]), nav=nav)
    assert list(table.index) == ["mine"]
    assert table.loc["mine", "total_costs"] == 1.5
    with pytest.raises(ValueError, match="needs nav"):
        metrics.summary(r, costs=series([1.0, 0.0, 0.5]))


def test_summary_aligns_the_benchmark_on_the_returns_index():
    r = series([0.01, -0.02, 0.015, 0.0])
    bench = series([0.005, -0.01, 0.01, 0.002, 0.5, 0.7])[::-1]  # extra dates, reversed
    table = metrics.summary(r, benchmark_returns=bench)
    assert table.loc["p", "active_return"] == pytest.approx(metrics.active_return(r, bench.sort_index()))
    assert table.loc["p", "beta"] == pytest.approx(metrics.beta(r, bench.iloc[2:].sort_index()))


def test_wide_frame_is_vectorized():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(3e-4, 0.01, (756, 1000)), index=pd.bdate_range("2010-01-01", periods=756))
    table = metrics.summary(wide, benchmark_returns=wide.mean(axis=1))
    assert table.shape == (1000, 17)
    assert table.notna().all().all()


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------


def reference_duration(returns: np.ndarray) -> int:
    """Longest peak-to-recovery (or peak-to-end) stretch, by a plain loop."""
    value, peak, peak_day, longest = 1.0, 1.0, 0, 0
    for day, r in enumerate(np.nan_to_num(returns), start=1):
        value *= 1.0 + r
        if value >= peak:
            if day - peak_day > 1:  # recovered from a drawdown
                longest = max(longest, day - peak_day)
            peak, peak_day = value, day
        else:
            longest = max(longest, day - peak_day)
    return longest


daily_returns = hnp.arrays(
    np.float64,
    st.integers(2, 60),
    elements=st.floats(-0.99, 1.0, allow_nan=False) | st.just(np.nan),
)
# returns on a grid of 0.01 bp: realistic magnitudes, no underflow in squares
finite_returns = hnp.arrays(
    np.float64, st.integers(2, 60), elements=st.integers(-50_000, 50_000).map(lambda x: x / 1e6)
)


@settings(max_examples=150, deadline=None)
@given(daily_returns)
def test_max_drawdown_is_a_fraction_and_tops_the_drawdown_series(values):
    r = series(values)
    mdd = metrics.max_drawdown(r)
    dd = metrics.drawdown_series(r)
    if r.isna().all():
        assert np.isnan(mdd)
        return
    assert 0.0 <= mdd <= 1.0
    assert (dd.dropna() >= 0).all()
    assert mdd == dd.max()


@settings(max_examples=150, deadline=None)
@given(daily_returns)
def test_duration_matches_a_plain_loop(values):
    r = series(values)
    if r.isna().all():
        assert np.isnan(metrics.max_drawdown_duration(r))
        return
    duration = metrics.max_drawdown_duration(r)
    started = values[np.argmax(~np.isnan(values)) :]
    assert duration == reference_duration(started)
    assert (duration == 0) == (metrics.max_drawdown(r) == 0)


@settings(max_examples=150, deadline=None)
@given(finite_returns, st.floats(0.01, 100.0))
def test_sharpe_is_scale_free_without_risk_free(values, scale):
    r = series(values)
    a, b = metrics.sharpe(r), metrics.sharpe(r * scale)
    if np.isnan(a):
        assert np.isnan(b)
    else:
        assert b == pytest.approx(a, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(finite_returns, finite_returns)
def test_total_return_compounds_over_concatenation(first, second):
    joined = series(np.concatenate([first, second]))
    growth = (1 + metrics.total_return(series(first))) * (1 + metrics.total_return(series(second)))
    assert 1 + metrics.total_return(joined) == pytest.approx(growth, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(daily_returns)
def test_hit_rate_is_a_fraction(values):
    rate = metrics.hit_rate(series(values))
    assert np.isnan(rate) or 0.0 <= rate <= 1.0


@settings(max_examples=100, deadline=None)
@given(finite_returns)
def test_cagr_over_one_year_is_the_total_return(values):
    r = series(values)
    assert metrics.cagr(r, periods=len(values)) == pytest.approx(metrics.total_return(r), rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 5)),
                  elements=st.floats(-0.5, 0.5, allow_nan=False) | st.just(np.nan)))
def test_frame_equals_column_by_column(values):
    frame = pd.DataFrame(values, index=DATES[: values.shape[0]])
    for func in (metrics.max_drawdown_duration, metrics.hit_rate, metrics.sortino, metrics.calmar):
        expected = [func(frame[c]) for c in frame]
        np.testing.assert_allclose(func(frame).to_numpy(), expected, rtol=1e-12)
