"""Drawdowns: the fall below the running peak, its depth, its duration, and the Calmar ratio.

Drawdowns are *positive* fractions and the peak includes the starting value 1.0
(:mod:`simlab.analysis.metrics`, which also documents the shared parameters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.analysis.metrics._arrays import Returns, _check_periods, _count, _divide, _span, _to_2d, _wealth, _wrap
from simlab.analysis.metrics.returns import _cagr_2d

__all__ = ["calmar", "drawdown_series", "max_drawdown", "max_drawdown_duration"]


# ----------------------------------------------------------------------------
# Array cores: (T, B) in, (T, B) or (B,) out
# ----------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------


def drawdown_series(returns: Returns) -> pd.Series | pd.DataFrame:
    """Fraction below the running peak, day by day.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        ``cagr / max_drawdown``, as ``empyrical.calmar_ratio``; NaN without a
        drawdown.
    """
    _check_periods(periods)
    a, labels = _to_2d(returns)
    return _wrap(_calmar_2d(a, periods), labels, "calmar")

