"""Metrics of a return series on its own: growth, volatility and risk-adjusted return.

Total return, CAGR, annualized volatility, the Sharpe and Sortino ratios and the hit rate.
Conventions and the parameters shared by every metric: :mod:`simlab.analysis.metrics`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.analysis.metrics._arrays import (
    Returns,
    _check_periods,
    _count,
    _divide,
    _nanmean,
    _nanstd,
    _per_period_rate,
    _span,
    _to_2d,
    _wrap,
)

__all__ = ["annual_volatility", "cagr", "hit_rate", "sharpe", "sortino", "total_return"]


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


def _hit_rate_2d(a: np.ndarray) -> np.ndarray:
    return _divide(np.count_nonzero(a > 0, axis=0), _count(a))


# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------


def total_return(returns: Returns) -> float | pd.Series:
    """Compounded return over the whole sample.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        ``prod(1 + r) - 1``; NaN returns count as zero.
    """
    a, labels = _to_2d(returns)
    return _wrap(_total_return_2d(a), labels, "total_return")


def cagr(returns: Returns, periods: float = 252) -> float | pd.Series:
    """Compound annual growth rate.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Other parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Parameters
    ----------
    required_return : float
        Minimum acceptable return *per period* (as in ``empyrical.sortino_ratio``).

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


def hit_rate(returns: Returns) -> float | pd.Series:
    """Fraction of days with a strictly positive return.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        ``count(r > 0) / count(r not NaN)``; zero-return days count as misses.
    """
    a, labels = _to_2d(returns)
    return _wrap(_hit_rate_2d(a), labels, "hit_rate")

