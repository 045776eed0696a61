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
Loss sign
    :func:`max_drawdown`, :func:`drawdown_series`, :func:`max_drawdown_uncompounded`,
    :func:`value_at_risk` and :func:`cvar` are *positive* losses; drawdowns are fractions below
    the running peak: 0.2 is a 20% fall, i.e. ``-empyrical.max_drawdown``. The peak
    includes the starting value 1.0, so a loss on the first day is a drawdown.
Rates
    ``risk_free`` (:func:`sharpe`, :func:`alpha`) is an *annual* rate, converted to
    a per-period rate as ``(1 + risk_free) ** (1 / periods) - 1``.
    ``required_return`` (:func:`sortino`) is a *per-period* threshold, as in
    ``empyrical.sortino_ratio``.
Start day
    A run's first day holds the initial cash, so its return is 0 (the portfolio's, and
    the benchmark's by construction), and so are the days until the first fill. Counted,
    they would add observations that say nothing and move every return statistic with
    the start date: a run started a day earlier would report another Sharpe ratio. Run
    metrics (``Result.metrics``, the claims, ``simlab validate``, the exports to
    quantstats, vectorbt and pyfolio) therefore leave out the start day and the idle
    days after it, scenario by scenario (:func:`drop_start_day`): the start day's
    return is compounded into the next (a no-op for the usual 0), and each scenario's
    leading days in cash become NaN, the days before it starts (*Missing values*), so
    a scenario's figures do not depend on the others in its batch. The benchmark drops
    its start day only; against a scenario it counts on the scenario's days. Turnover
    and cost drag are annualized over the same days (:func:`start_day_shares`). The
    functions here take the returns they are given: call :func:`drop_start_day`
    yourself on a path that starts in cash.
Benchmark
    A benchmark is a ``pd.Series`` (shared by every scenario) or a ``pd.DataFrame``
    with the scenarios' columns; it is aligned on the returns' index, and a day
    counts only where both the scenario and the benchmark have a return.
Errors
    Empty input (no rows or no columns) raises ``ValueError``.

Shared parameters
-----------------
Every metric takes some of these, with these meanings; their docstrings do not repeat them.

returns : Series or DataFrame
    Daily simple returns, one scenario per column.
benchmark_returns : Series or DataFrame
    Benchmark daily simple returns, aligned on the returns' index (*Benchmark* above).
risk_free : float, default 0.0
    Annual risk-free rate, converted per period (*Rates* above).
periods : float, default 252
    Return observations (trading days) per year, a positive number (*Periods* above).
nav : Series or DataFrame
    Portfolio value at each close, the same scenarios as columns.
traded_value : Series or DataFrame
    Sum of absolute traded value (money) per day and scenario; dates or scenarios it
    does not list count as days without trades (0).
costs : Series or DataFrame
    Money paid in costs per day and scenario; dates or scenarios it does not list
    count as 0.
confidence : float, default 0.95
    Level of :func:`value_at_risk` and :func:`cvar`, strictly between 0 and 1.
weights : DataFrame or DataArray
    End-of-day weights (fractions of NAV): date x asset for one scenario, or an
    ``xarray.DataArray`` with dims ``(date, scenario, asset)`` (``Result.weights``).
asset_returns : DataFrame
    Daily simple close-to-close returns of the assets, date x asset.

Families
--------
The metrics live in modules by family and are all importable from here:
:mod:`~simlab.analysis.metrics.returns` (total return, CAGR, volatility, Sharpe, Sortino,
hit rate), :mod:`~simlab.analysis.metrics.drawdowns` (drawdowns, Calmar),
:mod:`~simlab.analysis.metrics.tails` (historical VaR and CVaR, uncompounded drawdown),
:mod:`~simlab.analysis.metrics.holdings` (effective number of assets, diversification
ratio, position hit rate: from the weights, not the returns),
:mod:`~simlab.analysis.metrics.relative` (against a benchmark) and
:mod:`~simlab.analysis.metrics.trading` (turnover and costs). :func:`summary` puts them
all in one table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.analysis.metrics._arrays import Returns
from simlab.analysis.metrics.drawdowns import calmar, drawdown_series, max_drawdown, max_drawdown_duration
from simlab.analysis.metrics.relative import (
    active_return,
    alpha,
    annual_active_return,
    beta,
    information_ratio,
    tracking_error,
)
from simlab.analysis.metrics.returns import annual_volatility, cagr, hit_rate, sharpe, sortino, total_return
from simlab.analysis.metrics.holdings import (
    diversification_ratio,
    effective_assets,
    holdings_metrics,
    position_hit_rate,
)
from simlab.analysis.metrics.tails import cvar, max_drawdown_uncompounded, value_at_risk
from simlab.analysis.metrics.trading import annual_turnover, cost_drag, total_costs

__all__ = [
    "active_return",
    "annual_active_return",
    "alpha",
    "annual_turnover",
    "annual_volatility",
    "beta",
    "cagr",
    "calmar",
    "cost_drag",
    "cvar",
    "diversification_ratio",
    "drawdown_series",
    "drop_start_day",
    "start_day_shares",
    "effective_assets",
    "hit_rate",
    "holdings_metrics",
    "information_ratio",
    "max_drawdown",
    "max_drawdown_duration",
    "max_drawdown_uncompounded",
    "position_hit_rate",
    "sharpe",
    "sortino",
    "summary",
    "total_costs",
    "total_return",
    "tracking_error",
    "value_at_risk",
]


# ----------------------------------------------------------------------------
# The start day
# ----------------------------------------------------------------------------


def drop_start_day(returns: Returns) -> Returns:
    """``returns`` without the start day, and each scenario's idle days after it as NaN.

    The *Start day* convention above.

    Returns
    -------
    Series or DataFrame
        The rows from the second on. The start day's return is compounded into the
        second day's (a no-op for the usual 0), so the total return does not change.
        Each column's leading rows of 0 or NaN (the days it sits in the initial cash)
        become NaN, which the metrics leave out as the days before the scenario starts;
        a column that never moves keeps its zeros. A single row is returned as it is.
    """
    if not isinstance(returns, (pd.Series, pd.DataFrame)):
        raise TypeError(f"returns must be a pandas Series or DataFrame, got {type(returns).__name__}")
    if len(returns) < 2:
        return returns
    values = returns.to_numpy(dtype="float64", na_value=np.nan, copy=True).reshape(len(returns), -1)
    first, second = np.nan_to_num(values[0], nan=0.0), values[1]
    folded = (1.0 + first) * (1.0 + np.nan_to_num(second, nan=0.0)) - 1.0
    values[1] = np.where(np.isnan(second) & (first == 0), np.nan, folded)
    values = values[1:]
    moved = np.logical_or.accumulate(~np.isnan(values) & (values != 0.0), axis=0)
    values = np.where(moved | ~moved[-1], values, np.nan)
    if isinstance(returns, pd.Series):
        return pd.Series(values[:, 0], index=returns.index[1:], name=returns.name)
    return pd.DataFrame(values, index=returns.index[1:], columns=returns.columns)


def start_day_shares(amounts: pd.DataFrame, nav: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """Daily amounts (traded value, costs) as fractions of the previous close's NAV, on the days
    :func:`drop_start_day` keeps.

    Parameters
    ----------
    amounts : DataFrame
        Money per day and scenario (absent dates or scenarios count as 0).
    nav : DataFrame
        Portfolio value at each close; a scenario's first day uses that day's NAV.
    kept : DataFrame
        :func:`drop_start_day` of the scenarios' returns.

    Returns
    -------
    DataFrame
        On ``kept``'s index: NaN where ``kept`` has its leading NaN, and the fractions of
        the days left out added to each scenario's first day kept. With a NAV of ones
        (NaN on the same days), :func:`annual_turnover` and :func:`cost_drag` of it are
        annualized over the return statistics' days.
    """
    shares = amounts.reindex(index=nav.index, columns=nav.columns, fill_value=0.0) / nav.shift(1).fillna(nav)
    shares = shares.reindex(columns=kept.columns)
    if len(shares) < 2:
        return shares
    values = shares.to_numpy(dtype="float64", copy=True)
    values = values[1:] + np.vstack([values[:1], np.zeros_like(values[2:])])
    lead = ~np.logical_or.accumulate(kept.notna().to_numpy(), axis=0)
    skipped = np.where(lead, values, 0.0).sum(axis=0)
    first = lead.sum(axis=0)
    cols = np.flatnonzero(first < len(values))
    values[first[cols], cols] += skipped[cols]
    return pd.DataFrame(np.where(lead, np.nan, values), index=kept.index, columns=kept.columns)


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


def _by_scenario(values: float | pd.Series, frame: pd.DataFrame) -> pd.Series:
    """A holdings metric as a Series over ``frame``'s columns (a float is its one column's)."""
    if isinstance(values, pd.Series):
        return values
    return pd.Series([values], index=frame.columns[:1], dtype="float64")


def summary(
    returns: Returns,
    *,
    benchmark_returns: pd.Series | None = None,
    traded_value: Returns | None = None,
    costs: Returns | None = None,
    nav: Returns | None = None,
    weights=None,
    asset_returns: pd.DataFrame | None = None,
    risk_free: float = 0.0,
    periods: float = 252,
) -> pd.DataFrame:
    """All metrics in one table, one row per scenario.

    The parameters are the shared ones (module docstring); here is what each does in the table.

    Parameters
    ----------
    returns : Series or DataFrame
        A Series is one scenario named after the Series, or ``portfolio``.
    benchmark_returns : Series, optional
        Adds ``active_return``, ``annual_active_return``, ``tracking_error``,
        ``information_ratio``, ``beta``.
    traded_value : Series or DataFrame, optional
        Adds ``annual_turnover``. Needs ``nav``.
    costs : Series or DataFrame, optional
        Adds ``total_costs`` and ``cost_drag``. Needs ``nav``.
    nav : Series or DataFrame, optional
        Turns traded value and costs into fractions of NAV.
    weights : DataFrame or DataArray, optional
        Adds ``effective_assets``; with ``asset_returns`` also ``diversification_ratio``
        and ``position_hit_rate``.
    asset_returns : DataFrame, optional
        For the diversification ratio and the position hit rate.
    risk_free : float
        For the Sharpe ratio.
    periods : float
        For every annualized metric.

    Returns
    -------
    DataFrame
        Index ``scenario`` (the columns of ``returns``); columns ``total_return,
        cagr, annual_volatility, sharpe, sortino, calmar, max_drawdown,
        max_drawdown_duration, hit_rate, value_at_risk, cvar`` (95%),
        ``max_drawdown_uncompounded``, then, when their inputs are given,
        ``effective_assets, diversification_ratio, position_hit_rate``,
        ``annual_turnover``, ``total_costs, cost_drag``, and
        ``active_return, annual_active_return, tracking_error, information_ratio, beta``.
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
        "value_at_risk": value_at_risk(frame),
        "cvar": cvar(frame),
        "max_drawdown_uncompounded": max_drawdown_uncompounded(frame),
    }
    if weights is not None:
        columns["effective_assets"] = _by_scenario(effective_assets(weights), frame)
        if asset_returns is not None:
            columns["diversification_ratio"] = _by_scenario(diversification_ratio(weights, asset_returns), frame)
            columns["position_hit_rate"] = _by_scenario(position_hit_rate(weights, asset_returns), frame)
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
        columns["annual_active_return"] = annual_active_return(frame, benchmark_returns, periods)
        columns["tracking_error"] = tracking_error(frame, benchmark_returns, periods)
        columns["information_ratio"] = information_ratio(frame, benchmark_returns, periods)
        columns["beta"] = beta(frame, benchmark_returns)
    table = pd.DataFrame({key: col.reindex(frame.columns) for key, col in columns.items()})
    table.index.name = "scenario"
    return table

