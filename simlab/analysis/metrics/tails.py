"""Tail and path risk: historical value at risk, conditional value at risk, uncompounded drawdown.

VaR and CVaR are *historical* (the sample's own quantile, no distribution assumed) and,
like drawdowns, *positive* losses: a 95% VaR of 0.02 is a 2% daily loss. Conventions and the
parameters shared by every metric: :mod:`simlab.analysis.metrics`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.analysis.metrics._arrays import Returns, _count, _to_2d, _wrap

__all__ = ["cvar", "max_drawdown_uncompounded", "value_at_risk"]


def _check_confidence(confidence: float) -> None:
    """Raise ``ValueError`` unless ``0 < confidence < 1``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (0.95 for 95%), got {confidence!r}")


# ----------------------------------------------------------------------------
# Array cores: (T, B) in, (B,) out
# ----------------------------------------------------------------------------


def _quantile_2d(a: np.ndarray, level: float) -> np.ndarray:
    """Column quantiles skipping NaN (linear interpolation, as ``numpy.percentile``)."""
    out = np.full(a.shape[1], np.nan)
    has = _count(a) > 0
    if has.any():
        out[has] = np.nanquantile(a[:, has], level, axis=0)
    return out


def _value_at_risk_2d(a: np.ndarray, confidence: float) -> np.ndarray:
    return -_quantile_2d(a, 1.0 - confidence)


def _cvar_2d(a: np.ndarray, confidence: float) -> np.ndarray:
    cut = _quantile_2d(a, 1.0 - confidence)
    tail = np.where(a <= cut, a, np.nan)
    n = _count(tail)
    out = np.full(a.shape[1], np.nan)
    np.divide(np.nansum(tail, axis=0), n, out=out, where=n > 0)
    return -out


def _drawdown_uncompounded_2d(a: np.ndarray) -> np.ndarray:
    level = np.cumsum(np.nan_to_num(a, nan=0.0), axis=0)
    peak = np.maximum(np.maximum.accumulate(level, axis=0), 0.0)
    return peak - level


def _max_drawdown_uncompounded_2d(a: np.ndarray) -> np.ndarray:
    return np.where(_count(a) > 0, _drawdown_uncompounded_2d(a).max(axis=0), np.nan)


# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------


def value_at_risk(returns: Returns, confidence: float = 0.95) -> float | pd.Series:
    """Historical one-day value at risk, a positive loss.

    Other parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Parameters
    ----------
    confidence : float
        0.95 for the 95% VaR: the loss exceeded on 5% of days.

    Returns
    -------
    float or Series
        ``-quantile(r, 1 - confidence)`` with linear interpolation between order
        statistics, NaN skipped; equals ``-empyrical.value_at_risk(r, cutoff=1 - confidence)``.
        Negative when even the worst days gain.
    """
    _check_confidence(confidence)
    a, labels = _to_2d(returns)
    return _wrap(_value_at_risk_2d(a, confidence), labels, "value_at_risk")


def cvar(returns: Returns, confidence: float = 0.95) -> float | pd.Series:
    """Historical one-day conditional value at risk (expected shortfall), a positive loss.

    Other parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Parameters
    ----------
    confidence : float
        0.95 for the mean loss on the worst 5% of days.

    Returns
    -------
    float or Series
        ``-mean(r[r <= quantile(r, 1 - confidence)])``, the quantile as in
        :func:`value_at_risk`; equals ``-quantstats.stats.conditional_value_at_risk(r,
        confidence=confidence, method="historical")``. Always at least :func:`value_at_risk`.
    """
    _check_confidence(confidence)
    a, labels = _to_2d(returns)
    return _wrap(_cvar_2d(a, confidence), labels, "cvar")


def max_drawdown_uncompounded(returns: Returns) -> float | pd.Series:
    """Largest fall of the *summed* returns below their running peak.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        ``max(peak(cumsum(r)) - cumsum(r))`` with the peak including the start (0):
        the drawdown of a book that keeps a constant amount at risk instead of
        reinvesting its gains, in units of that amount (0.5 is half of it). It does
        not shrink as compounded wealth grows, so it compares early and late
        episodes of a long run. NaN returns count as 0.
    """
    a, labels = _to_2d(returns)
    return _wrap(_max_drawdown_uncompounded_2d(a), labels, "max_drawdown_uncompounded")
