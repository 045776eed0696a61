"""Trading metrics: turnover and costs, as fractions of NAV per year or in money.

Traded value and costs are given per day and scenario in money and divided by the NAV at
the previous close (:mod:`simlab.analysis.metrics`, which also documents the shared
parameters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.analysis.metrics._arrays import Returns, _check_periods, _count, _divide, _span, _to_2d, _wrap

__all__ = ["annual_turnover", "cost_drag", "total_costs"]


# ----------------------------------------------------------------------------
# Alignment on the NAV
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


# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------


def annual_turnover(traded_value: Returns, nav: Returns, periods: float = 252) -> float | pd.Series:
    """Annualized one-way turnover.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

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

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        Sum skipping NaN; NaN for a column without values.
    """
    a, labels = _to_2d(costs, "costs")
    out = np.where(_count(a) > 0, np.nansum(a, axis=0), np.nan)
    return _wrap(out, labels, "total_costs")

