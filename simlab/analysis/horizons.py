"""Active return over a stated horizon: how often does a claimed outperformance hold?

A claim such as "+106% vs SPY" names no horizon. Over a 28-year backtest a cumulative
difference of thousands of percent says little, and over one year +106% is a different
claim altogether. :func:`horizon_table` states the horizons and, for each, looks at every
window of that length (``years * periods`` days: 252 a year, 365 on ``data.calendar:
every_day``; stepped one day at a time, so the windows overlap and are not independent
draws; they start on the first day the book moves): the share of windows whose cumulative
active return (the portfolio's total return minus the benchmark's, over the days both have
a return) meets the bound, with the worst, median and best window and the median
annualised active return (CAGR difference). The whole-run figure is
:func:`simlab.analysis.metrics.annual_active_return`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["horizon_table", "rolling_active_return"]

PERIODS = 252
DEFAULT_YEARS = (1, 3, 5, 10)


def _joint_log_growth(returns: pd.Series, benchmark: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative log growth (T + 1,) of the portfolio and the benchmark on the days both have a return."""
    a = returns.to_numpy(dtype=float)
    b = benchmark.reindex(returns.index).to_numpy(dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    la, lb = np.log1p(np.where(both, a, 0.0)), np.log1p(np.where(both, b, 0.0))
    return np.r_[0.0, np.cumsum(la)], np.r_[0.0, np.cumsum(lb)]


def _first_move(returns: pd.Series):
    """The first index with a finite, non-zero return (None if there is none)."""
    moved = returns.notna() & (returns != 0)
    return moved.idxmax() if moved.any() else None


def rolling_active_return(returns: pd.Series, benchmark: pd.Series, days: int) -> pd.Series:
    """Cumulative active return over each window of ``days`` rows, indexed by the window's last day.

    ``(prod(1 + r) - 1) - (prod(1 + b) - 1)`` over the window's days on which both have a
    return. Windows start on the first day the book moves (a non-zero return): a book held
    in cash while its signals gather history is not yet on trial.
    """
    first = _first_move(returns)
    if first is None:
        return pd.Series(dtype=float, name="active_return")
    r = returns.loc[first:]
    ga, gb = _joint_log_growth(r, benchmark)
    if len(r) < days:
        return pd.Series(dtype=float, name="active_return")
    end = np.arange(days, len(r) + 1)
    active = np.exp(ga[end] - ga[end - days]) - np.exp(gb[end] - gb[end - days])
    return pd.Series(active, index=r.index[end - 1], name="active_return")


def horizon_table(returns: pd.DataFrame | pd.Series, benchmark: pd.Series, bound: float,
                  years=DEFAULT_YEARS, periods: float = PERIODS) -> pd.DataFrame:
    """Per scenario and horizon: the windows, the share meeting ``bound``, worst/median/best.

    Columns: ``scenario, years, windows, met, share, worst, median, best, median_annual``
    (``median_annual`` is the median window's active return as a CAGR difference). A
    horizon longer than the run has no window (``windows`` 0, the rest NaN).
    """
    frame = returns.to_frame() if isinstance(returns, pd.Series) else returns
    rows = []
    for name in frame.columns:
        for y in years:
            days = int(round(y * periods))
            roll = rolling_active_return(frame[name], benchmark, days)
            first = _first_move(frame[name])
            r = frame[name].loc[first:] if first is not None else frame[name].iloc[:0]
            ga, gb = _joint_log_growth(r, benchmark)
            end = np.arange(days, len(r) + 1)
            annual = np.expm1((ga[end] - ga[end - days]) / y) - np.expm1((gb[end] - gb[end - days]) / y)
            n = len(roll)
            met = int((roll.to_numpy() >= bound).sum())
            rows.append({
                "scenario": name, "years": y, "windows": n, "met": met,
                "share": met / n if n else np.nan,
                "worst": roll.min() if n else np.nan, "median": roll.median() if n else np.nan,
                "best": roll.max() if n else np.nan,
                "median_annual": float(np.median(annual)) if n else np.nan,
            })
    return pd.DataFrame(rows)
