"""``schedule_rows``: decision days on the data's own calendar, holidays included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.portfolio.calendar import schedule_rows
from simlab.testing.strategies import calendars

FAST = settings(max_examples=40, deadline=None)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def cal(*days: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(days), name="date")


def picked(dates, frequency, day="first") -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in dates[schedule_rows(dates, frequency, day)]]


# A calendar with holidays: 2024-01-01 (Mon), 2024-01-15 (Mon), 2024-02-16 (Fri),
# 2024-03-29 (Fri, Good Friday), 2024-04-01 (Mon), and the whole week of 2024-02-26.
HOLIDAYS = ["2024-01-01", "2024-01-15", "2024-02-16", "2024-03-29", "2024-04-01"]
DATES = pd.bdate_range("2024-01-01", "2024-04-30", name="date")
DATES = DATES[~DATES.isin(pd.to_datetime(HOLIDAYS)) & ~((DATES >= "2024-02-26") & (DATES <= "2024-03-01"))]


def test_daily_is_every_row():
    np.testing.assert_array_equal(schedule_rows(DATES, "daily"), np.arange(len(DATES)))


def test_monthly_first_and_last_skip_holidays():
    assert picked(DATES, "monthly", "first") == ["2024-01-02", "2024-02-01", "2024-03-04", "2024-04-02"]
    assert picked(DATES, "monthly", "last") == ["2024-01-31", "2024-02-23", "2024-03-28", "2024-04-30"]


def test_quarterly_first_and_last():
    assert picked(DATES, "quarterly", "first") == ["2024-01-02", "2024-04-02"]
    assert picked(DATES, "quarterly", "last") == ["2024-03-28", "2024-04-30"]


def test_weekly_first_and_last():
    first = picked(DATES, "weekly", "first")
    last = picked(DATES, "weekly", "last")
    assert first[:3] == ["2024-01-02", "2024-01-08", "2024-01-16"]  # Monday holidays -> Tuesday
    assert "2024-02-26" not in first and "2024-03-04" in first  # a week without trading has no decision
    assert last[:3] == ["2024-01-05", "2024-01-12", "2024-01-19"]
    assert "2024-02-15" in last  # Friday holiday -> Thursday
    assert "2024-03-28" in last  # Good Friday -> Thursday


def test_weekly_weekday_with_holiday_fallbacks():
    fridays = picked(DATES, "weekly", "friday")
    assert "2024-02-15" in fridays and "2024-02-16" not in fridays  # Friday holiday -> the Thursday before
    assert "2024-03-28" in fridays
    mondays = picked(DATES, "weekly", "monday")
    assert "2024-01-02" in mondays and "2024-01-16" in mondays  # Monday holiday -> the week's first day
    assert "2024-04-02" in mondays
    wednesdays = picked(DATES, "weekly", "wednesday")
    assert all(pd.Timestamp(d).day_of_week == 2 for d in wednesdays[:-1])
    assert wednesdays[-1] == "2024-04-30"  # the data ends on a Tuesday: the last day before Wednesday


def test_weekday_holiday_midweek_takes_the_day_before():
    dates = cal("2024-06-03", "2024-06-04", "2024-06-06", "2024-06-07")  # Wednesday 5th closed
    assert picked(dates, "weekly", "wednesday") == ["2024-06-04"]
    dates = cal("2024-06-05", "2024-06-06", "2024-06-13", "2024-06-14")  # second week: Mon-Wed closed
    assert picked(dates, "weekly", "wednesday") == ["2024-06-05", "2024-06-13"]


def test_weekday_when_no_day_of_the_data_is_on_or_before_it():
    dates = cal("2024-06-06", "2024-06-07")  # Thursday and Friday only: falls back to Thursday
    assert picked(dates, "weekly", "wednesday") == ["2024-06-06"]


def test_year_boundaries():
    dates = pd.bdate_range("2023-12-20", "2024-01-10", name="date")
    assert picked(dates, "monthly", "first") == ["2023-12-20", "2024-01-01"]
    assert picked(dates, "quarterly", "last") == ["2023-12-29", "2024-01-10"]
    # the week of Mon 2024-01-01 spans the year boundary but not the week key
    assert picked(dates, "weekly", "first") == ["2023-12-20", "2023-12-25", "2024-01-01", "2024-01-08"]


def test_unknown_frequency_or_day_raises():
    with pytest.raises(ValueError, match="frequency"):
        schedule_rows(DATES, "hourly")
    with pytest.raises(ValueError, match="day"):
        schedule_rows(DATES, "monthly", "middle")


# --------------------------------------------------------------------------- against a reference


def reference(dates: pd.DatetimeIndex, frequency: str, day: str) -> list[int]:
    """Plain-Python schedule: group rows by period, pick per the documented rule."""
    if frequency == "daily":
        return list(range(len(dates)))
    groups: dict = {}
    for i, d in enumerate(dates):
        if frequency == "weekly":
            key = (d - pd.Timedelta(days=d.day_of_week)).normalize()
        elif frequency == "monthly":
            key = (d.year, d.month)
        else:
            key = (d.year, (d.month - 1) // 3)
        groups.setdefault(key, []).append(i)
    out = []
    for rows in groups.values():
        if day == "first":
            out.append(rows[0])
        elif day == "last":
            out.append(rows[-1])
        else:
            target = WEEKDAYS.index(day)
            before = [r for r in rows if dates[r].day_of_week <= target]
            out.append(before[-1] if before else rows[0])
    return sorted(out)


@FAST
@given(
    dates=calendars(),
    frequency=st.sampled_from(["daily", "weekly", "monthly", "quarterly"]),
    day=st.sampled_from(["first", "last"]),
)
def test_matches_reference_first_last(dates, frequency, day):
    rows = schedule_rows(dates, frequency, day)
    assert rows.tolist() == reference(dates, frequency, day)
    assert (np.diff(rows) > 0).all()


@FAST
@given(dates=calendars(), day=st.sampled_from(WEEKDAYS))
def test_matches_reference_weekday(dates, day):
    rows = schedule_rows(dates, "weekly", day)
    assert rows.tolist() == reference(dates, "weekly", day)
    # exactly one decision per calendar week that has a trading day
    weeks = (dates - pd.to_timedelta(dates.day_of_week, unit="D")).normalize()
    assert len(rows) == weeks.nunique()
