"""Calendar schedules: which trading days of the data the pipeline decides on.

The calendar comes from the data, never from a holiday library. ``first``/``last`` pick
the first or last trading day of each week, month or quarter present in the data; a
weekday picks that day of each week, or the week's last trading day before it when that
day is not a trading day (a Friday holiday moves the decision to Thursday), or the
week's first trading day when none precedes it (a Monday holiday moves it to Tuesday).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_WEEKDAY = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4}


def schedule_rows(dates: pd.DatetimeIndex, frequency: str, day: str = "first") -> np.ndarray:
    """Row numbers of the decision days in ``dates`` (sorted, unique)."""
    if frequency == "daily":
        return np.arange(len(dates))
    period = _period_keys(dates, frequency)
    if day in _WEEKDAY:
        return _weekday_rows(dates, period, _WEEKDAY[day])
    if day not in ("first", "last"):
        raise ValueError(f"schedule day must be first, last or a weekday; got {day!r}")
    change = np.r_[True, period[1:] != period[:-1]]
    if day == "first":
        return np.flatnonzero(change)
    return np.r_[np.flatnonzero(change)[1:] - 1, len(dates) - 1]


def _period_keys(dates: pd.DatetimeIndex, frequency: str) -> np.ndarray:
    if frequency == "weekly":
        # Monday of each date's week, as an integer day count: one key per calendar week
        days = dates.values.astype("datetime64[D]").astype(np.int64)
        return days - dates.day_of_week.values
    if frequency == "monthly":
        return dates.year.values * 12 + dates.month.values
    if frequency == "quarterly":
        return dates.year.values * 4 + (dates.month.values - 1) // 3
    raise ValueError(f"schedule frequency must be daily, weekly, monthly or quarterly; got {frequency!r}")


def _weekday_rows(dates: pd.DatetimeIndex, week: np.ndarray, weekday: int) -> np.ndarray:
    rows = np.flatnonzero(dates.day_of_week.values <= weekday)
    key = week[rows]
    chosen = rows[np.r_[key[1:] != key[:-1], True]] if len(rows) else rows
    firsts = np.flatnonzero(np.r_[True, week[1:] != week[:-1]])
    missing = firsts[~np.isin(week[firsts], week[chosen])]
    return np.sort(np.r_[chosen, missing]).astype(np.int64)
