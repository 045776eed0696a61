"""Performance metrics over daily simple returns.

Every metric is a plain function. It takes a ``pd.Series`` of returns (and gives a
``float``) or a ``pd.DataFrame`` with one scenario per column (and gives a
``pd.Series`` indexed by column). The work is done once on a 2-D array of shape
``(T, B)``, vectorized over the scenario axis, so a frame of 1,000 scenarios costs
a handful of array passes, not 1,000 Python calls.

Conventions
-----------
Returns
    Daily *simple* returns, ``r_t = V_t / V_{t-1} - 1``.
Periods
    ``periods`` is the number of return observations per year, 252 by default.
    Annualized quantities scale a mean by ``periods`` and a standard deviation by
    ``sqrt(periods)``.
Missing values
    Leading NaN rows of a column are the days before that scenario starts: they
    are dropped, so they neither count as elapsed time (CAGR, duration, turnover)
    nor as observations. Any other NaN is skipped as in ``empyrical``: it is left
    out of means and deviations and counts as a zero return when returns are
    compounded (total return, CAGR, drawdown), where it still counts as a day.
    A column with no value at all gives NaN.
Undefined ratios
    A ratio whose denominator is zero or undefined (a constant series' Sharpe, a
    Sortino without a single loss, a Calmar without a drawdown) is NaN, never
    ``inf``, and raises no warning. A column whose values are all equal has a
    standard deviation of exactly zero.
Drawdown sign
    :func:`max_drawdown` and :func:`drawdown_series` are *positive* fractions below
    the running peak: 0.2 is a 20% fall, i.e. ``-empyrical.max_drawdown``. The peak
    includes the starting value 1.0, so a loss on the first day is a drawdown.
Rates
    ``risk_free`` (:func:`sharpe`, :func:`alpha`) is an *annual* rate, converted to
    a per-period rate as ``(1 + risk_free) ** (1 / periods) - 1``.
    ``required_return`` (:func:`sortino`) is a *per-period* threshold, as in
    ``empyrical.sortino_ratio``.
Benchmark
    A benchmark is a ``pd.Series`` (shared by every scenario) or a ``pd.DataFrame``
    with the scenarios' columns; it is aligned on the returns' index, and a day
    counts only where both the scenario and the benchmark have a return.
Errors
    Empty input (no rows or no columns) raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "active_return",
    "alpha",
    "annual_turnover",
    "annual_volatility",
    "beta",
    "cagr",
    "calmar",
    "cost_drag",
    "drawdown_series",
    "hit_rate",
    "information_ratio",
    "max_drawdown",
    "max_drawdown_duration",
    "sharpe",
    "sortino",
    "summary",
    "total_costs",
    "total_return",
    "tracking_error",
]

Returns = pd.Series | pd.DataFrame

# Variance below which empyrical treats a benchmark as constant (beta undefined).
_MIN_BENCHMARK_VARIANCE = 1.0e-30


# ----------------------------------------------------------------------------
# Input and output
# ----------------------------------------------------------------------------


def _to_2d(data: Returns, name: str = "returns") -> tuple[np.ndarray, pd.Index | None]:
    """Return ``data`` as a float array (T, B) and its column labels (None for a Series).

    Parameters
    ----------
    data : Series or DataFrame
        Input to convert.
    name : str
        Argument name used in error messages.

    Returns
    -------
    array : ndarray (T, B)
        Float64 copy of the values.
    labels : Index or None
        The frame's columns, or None when ``data`` is a Series.
    """
    if isinstance(data, pd.Series):
        array = data.to_numpy(dtype="float64", na_value=np.nan).reshape(-1, 1)
        labels = None
    elif isinstance(data, pd.DataFrame):
        array = data.to_numpy(dtype="float64", na_value=np.nan)
        labels = data.columns
    else:
        raise TypeError(f"{name} must be a pandas Series or DataFrame, got {type(data).__name__}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows (dates) to compute a metric on")
    if array.shape[1] == 0:
        raise ValueError(f"{name} is empty: it has no columns (scenarios)")
    return array, labels


def _wrap(values: np.ndarray, labels: pd.Index | None, name: str) -> float | pd.Series:
    """Return a float for Series input, or a Series indexed by ``labels``."""
    if labels is None:
        return float(values[0])
    return pd.Series(values, index=labels, name=name, dtype="float64")


def _check_periods(periods: float) -> None:
    """Raise ``ValueError`` unless ``periods`` is a positive number."""
    if not np.isfinite(periods) or periods <= 0:
        raise ValueError(f"periods must be a positive number of returns per year, got {periods!r}")


def _benchmark_2d(benchmark_returns: Returns, returns: Returns) -> np.ndarray:
    """Align a benchmark on the returns' index (and columns) as a (T, 1) or (T, B) array.

    Parameters
    ----------
    benchmark_returns : Series or DataFrame
        A Series is shared by every scenario; a DataFrame must carry every column
        of ``returns``.
    returns : Series or DataFrame
        The portfolio returns whose index the benchmark is aligned on.

    Returns
    -------
    ndarray (T, 1) or (T, B)
        Benchmark returns, NaN on dates the benchmark does not have.
    """
    if isinstance(benchmark_returns, pd.Series):
        aligned = benchmark_returns.reindex(returns.index)
        return aligned.to_numpy(dtype="float64", na_value=np.nan).reshape(-1, 1)
    if not isinstance(benchmark_returns, pd.DataFrame):
        raise TypeError(
            "benchmark_returns must be a pandas Series or DataFrame, "
            f"got {type(benchmark_returns).__name__}"
        )
    if isinstance(returns, pd.Series):
        raise TypeError("benchmark_returns is a DataFrame but returns is a Series; pass a Series")
    missing = returns.columns.difference(benchmark_returns.columns)
    if len(missing):
        raise ValueError(f"benchmark_returns lacks the scenarios {list(missing)}")
    aligned = benchmark_returns.reindex(index=returns.index, columns=returns.columns)
    return aligned.to_numpy(dtype="float64", na_value=np.nan)


# ----------------------------------------------------------------------------
# NaN-aware column reductions on (T, B) arrays
# ----------------------------------------------------------------------------


def _count(a: np.ndarray) -> np.ndarray:
    """Number of non-NaN values per column."""
    return np.count_nonzero(~np.isnan(a), axis=0)


def _span(a: np.ndarray) -> np.ndarray:
    """Rows from each column's first non-NaN value to the end (0 for an all-NaN column)."""
    valid = ~np.isnan(a)
    first = np.where(valid.any(axis=0), valid.argmax(axis=0), a.shape[0])
    return a.shape[0] - first


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den`` is finite and non-zero, NaN elsewhere, without warnings."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64"))
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(den) & (den != 0)
    np.divide(num, den, out=out, where=ok)
    return out


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Column means skipping NaN; NaN for a column without values."""
    return _divide(np.nansum(a, axis=0), _count(a))


def _nanstd(a: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Column standard deviations skipping NaN (two-pass), exactly 0 for constant columns.

    Parameters
    ----------
    a : ndarray (T, B)
        Values.
    ddof : int
        Delta degrees of freedom; NaN for a column with ``ddof`` values or fewer.

    Returns
    -------
    ndarray (B,)
    """
    n = _count(a)
    dev = a - _nanmean(a)
    var = _divide(np.nansum(dev * dev, axis=0), np.where(n > ddof, n - ddof, 0))
    std = np.sqrt(var)
    constant = np.fmax.reduce(a, axis=0) == np.fmin.reduce(a, axis=0)
    return np.where(constant & np.isfinite(std), 0.0, std)


def _wealth(a: np.ndarray) -> np.ndarray:
    """Compounded value (T, B) of 1.0 invested at the start; NaN returns count as 0."""
    return np.cumprod(1.0 + np.nan_to_num(a, nan=0.0), axis=0)


def _per_period_rate(annual_rate: float, periods: float) -> float:
    """Per-period rate compounding to ``annual_rate`` over ``periods`` periods."""
    if annual_rate == 0:
        return 0.0
    return (1.0 + annual_rate) ** (1.0 / periods) - 1.0


# ----------------------------------------------------------------------------
# Array cores: (T, B) in, (B,) out
# ----------------------------------------------------------------------------


def _growth_2d(a: np.ndarray) -> np.ndarray:
    """Final value of 1.0 compounded over each column; NaN for an all-NaN column."""
    growth = np.prod(1.0 + np.nan_to_num(a, nan=0.0), axis=0)
    return np.where(_count(a) > 0, growth, np.nan)


def _total_return_2d(a: np.ndarray) -> np.ndarray:
    return _growth_2d(a) - 1.0


def _cagr_2d(a: np.ndarray, periods: float) -> np.ndarray:
    years = _span(a) / periods
    growth = _growth_2d(a)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = growth ** _divide(1.0, years) - 1.0
    return np.where(np.isfinite(out), out, np.nan)


def _annual_volatility_2d(a: np.ndarray, periods: float) -> np.ndarray:
    return _nanstd(a, ddof=1) * np.sqrt(periods)


def _sharpe_2d(a: np.ndarray, risk_free: float, periods: float) -> np.ndarray:
    excess = a - _per_period_rate(risk_free, periods)
    return _divide(_nanmean(excess), _nanstd(excess, ddof=1)) * np.sqrt(periods)


def _sortino_2d(a: np.ndarray, required_return: float, periods: float) -> np.ndarray:
    excess = a - required_return
    downside = np.minimum(excess, 0.0)
    downside_risk = np.sqrt(_nanmean(downside * downside)) * np.sqrt(periods)
    out = _divide(_nanmean(excess) * periods, downside_risk)
    return np.where(_count(a) >= 2, out, np.nan)


def _drawdown_2d(a: np.ndarray) -> np.ndarray:
    wealth = _wealth(a)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)
    drawdown = (peak - wealth) / peak
    started = np.arange(a.shape[0])[:, None] >= (a.shape[0] - _span(a))[None, :]
    return np.where(started, drawdown, np.nan)


def _max_drawdown_2d(a: np.ndarray) -> np.ndarray:
    return np.fmax.reduce(_drawdown_2d(a), axis=0)


def _max_drawdown_duration_2d(a: np.ndarray) -> np.ndarray:
    wealth = np.vstack([np.ones((1, a.shape[1])), _wealth(a)])
    underwater = wealth < np.maximum.accumulate(wealth, axis=0)
    position = np.arange(wealth.shape[0])[:, None]
    last_peak = np.maximum.accumulate(np.where(underwater, 0, position), axis=0)
    # A day inside a drawdown, or the day it recovers, is this far from the peak.
    in_episode = underwater[1:] | underwater[:-1]
    length = np.where(in_episode, position[1:] - last_peak[:-1], 0)
    return np.where(_count(a) > 0, length.max(axis=0), np.nan)


def _calmar_2d(a: np.ndarray, periods: float) -> np.ndarray:
    return _divide(_cagr_2d(a, periods), _max_drawdown_2d(a))


def _hit_rate_2d(a: np.ndarray) -> np.ndarray:
    return _divide(np.count_nonzero(a > 0, axis=0), _count(a))


def _joint(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays broadcast to (T, B), NaN wherever either one is NaN."""
    a, b = np.broadcast_arrays(a, b)
    missing = np.isnan(a) | np.isnan(b)
    return np.where(missing, np.nan, a), np.where(missing, np.nan, b)


def _active_return_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _joint(a, b)
    return _total_return_2d(a) - _total_return_2d(b)


def _tracking_error_2d(a: np.ndarray, b: np.ndarray, periods: float) -> np.ndarray:
    return _nanstd(a - b, ddof=1) * np.sqrt(periods)


def _information_ratio_2d(a: np.ndarray, b: np.ndarray, periods: float) -> np.ndarray:
    return _divide(_nanmean(a - b) * periods, _tracking_error_2d(a, b, periods))


def _beta_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _joint(a, b)
    residual = b - _nanmean(b)
    covariance = _nanmean(residual * a)
    variance = _nanmean(residual * residual)
    variance = np.where(variance < _MIN_BENCHMARK_VARIANCE, np.nan, variance)
    return _divide(covariance, variance)


def _alpha_2d(a: np.ndarray, b: np.ndarray, risk_free: float, periods: float) -> np.ndarray:
    rate = _per_period_rate(risk_free, periods)
    unexplained = (a - rate) - _beta_2d(a, b) * (b - rate)
    with np.errstate(invalid="ignore", over="ignore"):
        return (1.0 + _nanmean(unexplained)) ** periods - 1.0


# ----------------------------------------------------------------------------
# Public functions on returns
# ----------------------------------------------------------------------------


def total_return(returns: Returns) -> float | pd.Series:
    """Compounded return over the whole sample.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.

    Returns
    -------
    float or Series
        ``prod(1 + r) - 1``; NaN returns count as zero.
    """
    a, labels = _to_2d(returns)
    return _wrap(_total_return_2d(a), labels, "total_return")


def cagr(returns: Returns, periods: float = 252) -> float | pd.Series:
    """Compound annual growth rate.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``(1 + total_return) ** (1 / years) - 1`` with ``years`` the number of rows
        from the scenario's first return to the end divided by ``periods`` (as
        ``empyrical.cagr``).
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    return _wrap(_cagr_2d(a, periods), labels, "cagr")


def annual_volatility(returns: Returns, periods: float = 252) -> float | pd.Series:
    """Annualized standard deviation of returns.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``std(r, ddof=1) * sqrt(periods)``, as ``empyrical.annual_volatility``.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    return _wrap(_annual_volatility_2d(a, periods), labels, "annual_volatility")


def sharpe(returns: Returns, risk_free: float = 0.0, periods: float = 252) -> float | pd.Series:
    """Annualized Sharpe ratio.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    risk_free : float
        Annual risk-free rate, converted to ``(1 + risk_free) ** (1 / periods) - 1``
        per period.
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods)``; equals
        ``empyrical.sharpe_ratio(r, risk_free=rf_per_period, annualization=periods)``.
        NaN for a constant series (zero volatility) or fewer than two returns.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    return _wrap(_sharpe_2d(a, risk_free, periods), labels, "sharpe")


def sortino(
    returns: Returns, required_return: float = 0.0, periods: float = 252
) -> float | pd.Series:
    """Annualized Sortino ratio.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    required_return : float
        Minimum acceptable return *per period* (as in ``empyrical.sortino_ratio``).
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``mean(r - m) * periods / (sqrt(mean(min(r - m, 0) ** 2)) * sqrt(periods))``;
        equals ``empyrical.sortino_ratio``. NaN when no return falls below the
        threshold (empyrical gives ``inf``) or with fewer than two returns.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    return _wrap(_sortino_2d(a, required_return, periods), labels, "sortino")


def drawdown_series(returns: Returns) -> pd.Series | pd.DataFrame:
    """Fraction below the running peak, day by day.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.

    Returns
    -------
    Series or DataFrame
        Same shape as ``returns``; ``(peak - value) / peak`` >= 0 where the peak
        includes the starting value 1.0. NaN before a scenario's first return.
    """
    a, labels = _to_2d(returns)
    values = _drawdown_2d(a)
    if labels is None:
        return pd.Series(values[:, 0], index=returns.index, name="drawdown")
    return pd.DataFrame(values, index=returns.index, columns=labels)


def max_drawdown(returns: Returns) -> float | pd.Series:
    """Largest fall from a running peak, as a positive fraction.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.

    Returns
    -------
    float or Series
        0.2 means a 20% fall from peak; equals ``-empyrical.max_drawdown``. The
        peak includes the starting value 1.0, so a first-day loss is a drawdown.
    """
    a, labels = _to_2d(returns)
    return _wrap(_max_drawdown_2d(a), labels, "max_drawdown")


def max_drawdown_duration(returns: Returns) -> float | pd.Series:
    """Longest time, in trading days, spent below a previous peak.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.

    Returns
    -------
    float or Series
        Days from a peak to the first day the value is back at or above it, or to
        the last day when it never recovers; 0 without a drawdown. The starting
        value 1.0 is a peak (day 0), so a first-day loss starts an episode.
    """
    a, labels = _to_2d(returns)
    return _wrap(_max_drawdown_duration_2d(a).astype("float64"), labels, "max_drawdown_duration")


def calmar(returns: Returns, periods: float = 252) -> float | pd.Series:
    """Calmar ratio, CAGR over maximum drawdown.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``cagr / max_drawdown``, as ``empyrical.calmar_ratio``; NaN without a
        drawdown.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    return _wrap(_calmar_2d(a, periods), labels, "calmar")


def hit_rate(returns: Returns) -> float | pd.Series:
    """Fraction of days with a strictly positive return.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.

    Returns
    -------
    float or Series
        ``count(r > 0) / count(r not NaN)``; zero-return days count as misses.
    """
    a, labels = _to_2d(returns)
    return _wrap(_hit_rate_2d(a), labels, "hit_rate")


# ----------------------------------------------------------------------------
# Public functions against a benchmark
# ----------------------------------------------------------------------------


def active_return(returns: Returns, benchmark_returns: Returns) -> float | pd.Series:
    """Total return of the portfolio minus total return of the benchmark.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    benchmark_returns : Series or DataFrame
        Benchmark daily simple returns, aligned on the returns' index.

    Returns
    -------
    float or Series
        Difference of the compounded (not annualized) returns, both taken over the
        days on which both have a return.
    """
    a, labels = _to_2d(returns)
    b = _benchmark_2d(benchmark_returns, returns)
    return _wrap(_active_return_2d(a, b), labels, "active_return")


def tracking_error(
    returns: Returns, benchmark_returns: Returns, periods: float = 252
) -> float | pd.Series:
    """Annualized standard deviation of daily active returns.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    benchmark_returns : Series or DataFrame
        Benchmark daily simple returns, aligned on the returns' index.
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``std(r - b, ddof=1) * sqrt(periods)``.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    b = _benchmark_2d(benchmark_returns, returns)
    return _wrap(_tracking_error_2d(a, b, periods), labels, "tracking_error")


def information_ratio(
    returns: Returns, benchmark_returns: Returns, periods: float = 252
) -> float | pd.Series:
    """Annualized mean active return over annualized tracking error.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    benchmark_returns : Series or DataFrame
        Benchmark daily simple returns, aligned on the returns' index.
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``mean(r - b) * periods / tracking_error``, which is
        ``empyrical.excess_sharpe(r, b) * sqrt(periods)``; NaN when the tracking
        error is zero.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    b = _benchmark_2d(benchmark_returns, returns)
    return _wrap(_information_ratio_2d(a, b, periods), labels, "information_ratio")


def beta(returns: Returns, benchmark_returns: Returns) -> float | pd.Series:
    """Regression slope of returns on benchmark returns.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    benchmark_returns : Series or DataFrame
        Benchmark daily simple returns, aligned on the returns' index.

    Returns
    -------
    float or Series
        ``cov(r, b) / var(b)`` over the days both have a return, as
        ``empyrical.beta``; NaN for a (near) constant benchmark.
    """
    a, labels = _to_2d(returns)
    b = _benchmark_2d(benchmark_returns, returns)
    return _wrap(_beta_2d(a, b), labels, "beta")


def alpha(
    returns: Returns,
    benchmark_returns: Returns,
    risk_free: float = 0.0,
    periods: float = 252,
) -> float | pd.Series:
    """Annualized Jensen's alpha.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column.
    benchmark_returns : Series or DataFrame
        Benchmark daily simple returns, aligned on the returns' index.
    risk_free : float
        Annual risk-free rate (converted per period as in :func:`sharpe`).
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``(1 + mean((r - rf) - beta * (b - rf))) ** periods - 1``; equals
        ``empyrical.alpha(r, b, risk_free=rf_per_period, annualization=periods)``.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    b = _benchmark_2d(benchmark_returns, returns)
    return _wrap(_alpha_2d(a, b, risk_free, periods), labels, "alpha")


# ----------------------------------------------------------------------------
# Trading: turnover and costs
# ----------------------------------------------------------------------------


def _align_to_nav(values: Returns, nav: Returns, name: str) -> Returns:
    """Put ``values`` on ``nav``'s index and columns; absent dates or scenarios are 0.

    Parameters
    ----------
    values : Series or DataFrame
        Per-day amounts (traded value or costs); only dates or scenarios with
        something to report need to appear.
    nav : Series or DataFrame
        Portfolio value, the reference shape.
    name : str
        Argument name used in error messages.

    Returns
    -------
    Series or DataFrame
        ``values`` reindexed like ``nav``.
    """
    if isinstance(nav, pd.DataFrame) != isinstance(values, pd.DataFrame):
        raise TypeError(f"{name} and nav must both be Series or both be DataFrames")
    extra_dates = values.index.difference(nav.index)
    if len(extra_dates):
        raise ValueError(f"{name} has dates that nav lacks, first {extra_dates[0]}")
    if isinstance(nav, pd.Series):
        return values.reindex(nav.index, fill_value=0.0)
    extra = values.columns.difference(nav.columns)
    if len(extra):
        raise ValueError(f"{name} has scenarios that nav lacks: {list(extra)}")
    return values.reindex(index=nav.index, columns=nav.columns, fill_value=0.0)


def _previous_nav(nav: np.ndarray) -> np.ndarray:
    """NAV at the previous close; a scenario's first day uses that day's NAV."""
    previous = np.vstack([np.full((1, nav.shape[1]), np.nan), nav[:-1]])
    return np.where(np.isnan(previous), nav, previous)


def _annualized_share_2d(amount: np.ndarray, nav: np.ndarray, periods: float) -> np.ndarray:
    """``sum(amount / previous NAV) * periods / days``, days counted from the first NAV."""
    with np.errstate(divide="ignore", invalid="ignore"):
        daily = amount / _previous_nav(nav)
    total = np.where(_count(daily) > 0, np.nansum(daily, axis=0), np.nan)
    return _divide(total * periods, _span(nav))


def _trading_inputs(
    values: Returns, nav: Returns, name: str
) -> tuple[np.ndarray, np.ndarray, pd.Index | None]:
    """Validate and align ``values`` on ``nav``; return both arrays and the labels."""
    nav_array, labels = _to_2d(nav, "nav")
    aligned, _ = _to_2d(_align_to_nav(values, nav, name), name)
    return aligned, nav_array, labels


def annual_turnover(traded_value: Returns, nav: Returns, periods: float = 252) -> float | pd.Series:
    """Annualized one-way turnover.

    Parameters
    ----------
    traded_value : Series or DataFrame
        Sum of absolute traded value (money) per day and scenario; dates or
        scenarios it does not list count as days without trades (0).
    nav : Series or DataFrame
        Portfolio value at each close, the same scenarios as columns.
    periods : float
        Trading days per year.

    Returns
    -------
    float or Series
        Daily turnover is ``0.5 * traded_value / nav_prev`` with ``nav_prev`` the
        NAV at the previous close (a scenario's first day uses that day's NAV);
        the annual figure is ``sum(daily) * periods / days``, with ``days`` counted
        from the scenario's first NAV. Being one-way, buying a full portfolio from
        cash counts 0.5 (half the gross traded value), and replacing every holding
        by another counts 1.0.
    """
    _check_periods(periods)
    value, nav_array, labels = _trading_inputs(traded_value, nav, "traded_value")
    out = _annualized_share_2d(0.5 * value, nav_array, periods)
    return _wrap(out, labels, "annual_turnover")


def cost_drag(costs: Returns, nav: Returns, periods: float = 252) -> float | pd.Series:
    """Annualized trading costs as a fraction of NAV.

    Parameters
    ----------
    costs : Series or DataFrame
        Money paid in costs per day and scenario; dates or scenarios it does not
        list count as 0.
    nav : Series or DataFrame
        Portfolio value at each close, the same scenarios as columns.
    periods : float
        Trading days per year.

    Returns
    -------
    float or Series
        ``sum(costs / nav_prev) * periods / days`` (a fraction per year, 0.001 is
        10 bp a year), with ``nav_prev`` and ``days`` as in :func:`annual_turnover`.
    """
    _check_periods(periods)
    paid, nav_array, labels = _trading_inputs(costs, nav, "costs")
    return _wrap(_annualized_share_2d(paid, nav_array, periods), labels, "cost_drag")


def total_costs(costs: Returns) -> float | pd.Series:
    """Money paid in costs over the whole sample.

    Parameters
    ----------
    costs : Series or DataFrame
        Money paid in costs per day and scenario.

    Returns
    -------
    float or Series
        Sum skipping NaN; NaN for a column without values.
    """
    a, labels = _to_2d(costs, "costs")
    out = np.where(_count(a) > 0, np.nansum(a, axis=0), np.nan)
    return _wrap(out, labels, "total_costs")


# ----------------------------------------------------------------------------
# Summary table
# ----------------------------------------------------------------------------


def _as_frame(returns: Returns) -> pd.DataFrame:
    """A returns frame; a Series becomes one column named after it (or ``portfolio``)."""
    if isinstance(returns, pd.Series):
        return returns.to_frame(returns.name if returns.name is not None else "portfolio")
    if isinstance(returns, pd.DataFrame):
        return returns
    raise TypeError(f"returns must be a pandas Series or DataFrame, got {type(returns).__name__}")


def _as_same_kind(values: Returns, returns: Returns, frame: pd.DataFrame) -> Returns:
    """With Series returns, a Series of trading data becomes ``frame``'s one column."""
    if isinstance(returns, pd.Series) and isinstance(values, pd.Series):
        return values.to_frame(frame.columns[0])
    return values


def summary(
    returns: Returns,
    *,
    benchmark_returns: pd.Series | None = None,
    traded_value: Returns | None = None,
    costs: Returns | None = None,
    nav: Returns | None = None,
    risk_free: float = 0.0,
    periods: float = 252,
) -> pd.DataFrame:
    """All metrics in one table, one row per scenario.

    Parameters
    ----------
    returns : Series or DataFrame
        Daily simple returns, one scenario per column (a Series is one scenario
        named after the Series, or ``portfolio``).
    benchmark_returns : Series, optional
        Benchmark daily returns, aligned on the returns' index; adds
        ``active_return``, ``tracking_error``, ``information_ratio``, ``beta``.
    traded_value : Series or DataFrame, optional
        Absolute traded value per day and scenario; adds ``annual_turnover``.
        Needs ``nav``.
    costs : Series or DataFrame, optional
        Costs paid per day and scenario; adds ``total_costs`` and ``cost_drag``.
        Needs ``nav``.
    nav : Series or DataFrame, optional
        Portfolio value per day and scenario.
    risk_free : float
        Annual risk-free rate for the Sharpe ratio.
    periods : float
        Return observations per year.

    Returns
    -------
    DataFrame
        Index ``scenario`` (the columns of ``returns``); columns ``total_return,
        cagr, annual_volatility, sharpe, sortino, calmar, max_drawdown,
        max_drawdown_duration, hit_rate``, then, when their inputs are given,
        ``annual_turnover``, ``total_costs, cost_drag``, and
        ``active_return, tracking_error, information_ratio, beta``.
    """
    frame = _as_frame(returns)
    if (traded_value is not None or costs is not None) and nav is None:
        raise ValueError("summary needs nav to turn traded_value or costs into fractions of NAV")
    columns = {
        "total_return": total_return(frame),
        "cagr": cagr(frame, periods),
        "annual_volatility": annual_volatility(frame, periods),
        "sharpe": sharpe(frame, risk_free, periods),
        "sortino": sortino(frame, 0.0, periods),
        "calmar": calmar(frame, periods),
        "max_drawdown": max_drawdown(frame),
        "max_drawdown_duration": max_drawdown_duration(frame),
        "hit_rate": hit_rate(frame),
    }
    if nav is not None:
        nav_frame = _as_same_kind(nav, returns, frame)
        if traded_value is not None:
            tv = _as_same_kind(traded_value, returns, frame)
            columns["annual_turnover"] = annual_turnover(tv, nav_frame, periods)
        if costs is not None:
            paid = _as_same_kind(costs, returns, frame)
            columns["total_costs"] = total_costs(paid)
            columns["cost_drag"] = cost_drag(paid, nav_frame, periods)
    if benchmark_returns is not None:
        columns["active_return"] = active_return(frame, benchmark_returns)
        columns["tracking_error"] = tracking_error(frame, benchmark_returns, periods)
        columns["information_ratio"] = information_ratio(frame, benchmark_returns, periods)
        columns["beta"] = beta(frame, benchmark_returns)
    table = pd.DataFrame({key: col.reindex(frame.columns) for key, col in columns.items()})
    table.index.name = "scenario"
    return table
