"""Metrics against a benchmark: active return (cumulative and annualised), tracking error, information ratio, beta, alpha.

A day counts only where both the scenario and the benchmark have a return
(:mod:`simlab.analysis.metrics`, which also documents the shared parameters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.analysis.metrics._arrays import (
    Returns,
    _benchmark_2d,
    _check_periods,
    _divide,
    _joint,
    _nanmean,
    _nanstd,
    _per_period_rate,
    _to_2d,
    _wrap,
)
from simlab.analysis.metrics.returns import _cagr_2d, _total_return_2d

__all__ = ["active_return", "alpha", "annual_active_return", "beta", "information_ratio", "tracking_error"]

# Variance below which empyrical treats a benchmark as constant (beta undefined).
_MIN_BENCHMARK_VARIANCE = 1.0e-30


# ----------------------------------------------------------------------------
# Array cores: (T, B) and (T, 1) or (T, B) in, (B,) out
# ----------------------------------------------------------------------------


def _active_return_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _joint(a, b)
    return _total_return_2d(a) - _total_return_2d(b)


def _annual_active_return_2d(a: np.ndarray, b: np.ndarray, periods: float) -> np.ndarray:
    a, b = _joint(a, b)
    return _cagr_2d(a, periods) - _cagr_2d(b, periods)


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
# Public functions
# ----------------------------------------------------------------------------


def active_return(returns: Returns, benchmark_returns: Returns) -> float | pd.Series:
    """Total return of the portfolio minus total return of the benchmark.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        Difference of the compounded (not annualized) returns, both taken over the
        days on which both have a return.
    """
    a, labels = _to_2d(returns)
    b = _benchmark_2d(benchmark_returns, returns)
    return _wrap(_active_return_2d(a, b), labels, "active_return")


def annual_active_return(returns: Returns, benchmark_returns: Returns, periods: float = 252) -> float | pd.Series:
    """CAGR of the portfolio minus CAGR of the benchmark.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        Both CAGRs over the days on which both have a return: the active return a
        reader can compare across runs of different lengths (the cumulative
        :func:`active_return` of a 28-year run says little). The information ratio's
        numerator is the arithmetic ``mean(r - b) * periods`` instead.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    b = _benchmark_2d(benchmark_returns, returns)
    return _wrap(_annual_active_return_2d(a, b, periods), labels, "annual_active_return")


def tracking_error(
    returns: Returns, benchmark_returns: Returns, periods: float = 252
) -> float | pd.Series:
    """Annualized standard deviation of daily active returns.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

