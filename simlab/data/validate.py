"""Checks that market data is well formed before anything trades on it.

:func:`validate_market` runs every check in turn and raises :class:`~simlab.errors.DataError`
at the first problem, naming the asset, the date and the value at fault.

What is legal: NaN closes. A run of leading NaNs is an asset listed later, trailing NaNs an
asset delisted, and an internal NaN a day the asset did not trade; the engine treats a NaN
day as untradeable. What is not: a calendar that is not sorted, unique dates, a price at or
below zero, an asset with no price at all, companion tables (open, volume, benchmark,
macro) that do not sit on the calendar of ``close``, and a calendar that is not one of
trading days (:func:`check_frequency`: weekends, intraday stamps, weekly or monthly rows),
since every annualised number assumes 252 trading days a year. A market that trades every
calendar day (crypto) opts in with ``calendar="every_day"`` (``data.calendar`` in a config):
its weekends are then legal and its annualised numbers use 365 days.

What is suspicious in a researcher's file, and warned about (:class:`~simlab.errors.SimlabWarning`, naming the
asset and the date): a one-day spike, a daily move beyond :data:`JUMP_SIGMAS` robust
deviations of the asset's own log returns and beyond :data:`JUMP_FLOOR` that is undone the
next day (:func:`find_jumps`): a bad tick more often than news.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from simlab.data.market import MarketData
from simlab.errors import DataError, SimlabWarning

JUMP_SIGMAS = 25.0
"""A daily log move this many robust deviations (1.4826 x MAD) from the asset's median is a jump."""
JUMP_FLOOR = 0.4
"""... and only if it is also larger than this absolute log move (about +49% / -33%)."""
WEEKEND_SHARE = 0.05
"""More than this share of dates on a Saturday or a Sunday is a calendar-day file."""


def validate_market(md: MarketData, jump_sigmas: float | None = None, calendar: str = "trading_days") -> MarketData:
    """Check ``md`` and return it unchanged.

    Parameters
    ----------
    md : MarketData
        Data to check.
    jump_sigmas : float, optional
        Warn about one-day spikes beyond this many robust deviations (:func:`find_jumps`);
        None (the default) skips the search. The file loaders pass :data:`JUMP_SIGMAS`.
    calendar : {"trading_days", "every_day"}
        ``every_day`` allows rows on weekends (crypto); see :func:`check_frequency`.

    Returns
    -------
    MarketData
        ``md`` itself, so a loader can write ``return validate_market(md)``.

    Raises
    ------
    DataError
        At the first problem found; the message names the table, the asset and the date.
    """
    check_calendar(md.close.index, "close")
    check_frequency(md.close.index, "close", calendar)
    check_assets(md.close)
    check_prices(md.close, "close")
    if jump_sigmas is not None:
        for line in find_jumps(md.close, jump_sigmas):
            warnings.warn(f"close: {line}", SimlabWarning, stacklevel=2)
    if md.open is not None:
        check_aligned(md.open, md.close, "open")
        check_prices(md.open, "open", require_values=False)
    if md.volume is not None:
        check_aligned(md.volume, md.close, "volume")
        check_volume(md.volume)
    if md.benchmark is not None:
        check_benchmark(md.benchmark, md.close.index)
    if md.macro is not None:
        check_same_dates(md.macro.index, md.close.index, "macro")
    return md


def _day(ts) -> str:
    """A date as ``YYYY-MM-DD`` (or its repr when it is not a timestamp)."""
    return ts.date().isoformat() if isinstance(ts, pd.Timestamp) else repr(ts)


def check_calendar(index: pd.Index, what: str) -> None:
    """The index is a sorted, duplicate-free ``DatetimeIndex`` without missing dates."""
    if not isinstance(index, pd.DatetimeIndex):
        parsed = pd.to_datetime(pd.Series(index, dtype=object), errors="coerce", format="mixed")
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise DataError(
                f"{what}: index value {index[int(np.argmax(bad))]!r} (row "
                f"{int(np.argmax(bad))}) is not a date; the index must be a DatetimeIndex"
            )
        raise DataError(
            f"{what}: index is a {type(index).__name__} of {index.dtype}, not a "
            f"DatetimeIndex; parse it with pandas.to_datetime (first value {index[0]!r})"
        )
    if len(index) == 0:
        raise DataError(f"{what}: no dates")
    if index.hasnans:
        row = int(np.argmax(index.isna()))
        raise DataError(f"{what}: missing date (NaT) at row {row}")
    check_sorted(index, what)


def check_sorted(index: pd.DatetimeIndex, what: str) -> None:
    """Dates strictly increase; names the first date out of order or repeated."""
    step = np.diff(index.asi8)
    if (step < 0).any():
        row = int(np.argmax(step < 0)) + 1
        raise DataError(
            f"{what}: dates are not sorted: {_day(index[row])} (row {row}) comes after "
            f"{_day(index[row - 1])}"
        )
    if (step == 0).any():
        row = int(np.argmax(step == 0)) + 1
        raise DataError(f"{what}: duplicate date {_day(index[row])} (rows {row - 1} and {row})")


def check_assets(close: pd.DataFrame) -> None:
    """At least one asset, unique asset names, numeric prices."""
    if close.shape[1] == 0:
        raise DataError("close: no assets (no columns)")
    dupes = close.columns[close.columns.duplicated()]
    if len(dupes):
        raise DataError(f"close: duplicate asset names {sorted(map(str, set(dupes)))}")
    for i, asset in enumerate(close.columns):
        if not pd.api.types.is_numeric_dtype(close.dtypes.iloc[i]):
            _raise_not_numeric(close.iloc[:, i], asset, "close")


def _raise_not_numeric(column: pd.Series, asset, what: str) -> None:
    """Name the first value of ``column`` that is not a number."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = (numbers.isna() & column.notna()).to_numpy()
    where = (
        f"; first bad value {column.iloc[int(np.argmax(bad))]!r} on "
        f"{_day(column.index[int(np.argmax(bad))])}"
        if bad.any()
        else ""
    )
    raise DataError(f"{what}: asset {asset!r} is not numeric (dtype {column.dtype}){where}")


def check_prices(prices: pd.DataFrame, what: str, *, require_values: bool = True) -> None:
    """Prices are finite and positive where present; every asset has at least one price."""
    values = prices.to_numpy(dtype="float64", na_value=np.nan)
    if require_values:
        empty = np.isnan(values).all(axis=0)
        if empty.any():
            names = [str(a) for a in prices.columns[empty]]
            raise DataError(f"{what}: asset(s) {names} have no price on any date (all NaN)")
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(
            f"{what}: asset {prices.columns[col]!r} has price {float(values[row, col])!r} on "
            f"{_day(prices.index[row])}; prices must be finite and > 0 (NaN marks no trade)"
        )


def check_same_dates(index: pd.Index, calendar: pd.DatetimeIndex, what: str) -> None:
    """``index`` equals the calendar of ``close``; names the first date that differs."""
    if index.equals(calendar):
        return
    extra = index.difference(calendar)
    missing = calendar.difference(index)
    if len(extra):
        detail = f"{_day(extra[0])} is not a date of close"
    elif len(missing):
        detail = f"close date {_day(missing[0])} is missing"
    else:
        detail = "dates are in a different order or repeated"
    raise DataError(f"{what}: dates not aligned with close ({len(index)} vs "
                    f"{len(calendar)} rows): {detail}; reindex it onto close.index")


def check_aligned(table: pd.DataFrame, close: pd.DataFrame, what: str) -> None:
    """``table`` has exactly the dates and assets of ``close``."""
    check_same_dates(table.index, close.index, what)
    if not table.columns.equals(close.columns):
        extra = [str(a) for a in table.columns.difference(close.columns)]
        missing = [str(a) for a in close.columns.difference(table.columns)]
        raise DataError(
            f"{what}: assets not aligned with close: extra {extra}, missing {missing}"
            + ("" if extra or missing else " (same assets, different order)")
        )


def check_volume(volume: pd.DataFrame) -> None:
    """Volume is never negative; names the asset, date and value."""
    values = volume.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = values < 0
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(
            f"volume: asset {volume.columns[col]!r} has negative volume "
            f"{float(values[row, col])!r} on {_day(volume.index[row])}"
        )


def check_benchmark(benchmark: pd.Series, calendar: pd.DatetimeIndex) -> None:
    """The benchmark sits on the calendar of ``close`` and has values on it."""
    name = benchmark.name if benchmark.name is not None else "benchmark"
    check_same_dates(benchmark.index, calendar, f"benchmark {name!r}")
    if benchmark.isna().all():
        raise DataError(
            f"benchmark {name!r}: no value between {_day(calendar[0])} and "
            f"{_day(calendar[-1])}; it does not overlap the data"
        )
    check_prices(benchmark.to_frame(name), f"benchmark {name!r}")


def check_header(names: list, where) -> None:
    """A file's asset names are unique (a reader would rename a repeat ``AAPL.1``)."""
    seen, dupes = set(), []
    for name in map(str, names):
        if name in seen and name not in dupes:
            dupes.append(name)
        seen.add(name)
    if dupes:
        raise DataError(f"{where}: asset column(s) {', '.join(map(repr, dupes))} appear more than once; "
                        "keep one column per asset")


def check_frequency(index: pd.DatetimeIndex, what: str, calendar: str = "trading_days") -> None:
    """One row per trading day: no intraday stamps, no weekends (unless ``calendar`` is
    ``every_day``), no weekly or monthly rows."""
    if len(index) < 3:
        return
    days = index.normalize()
    if days.has_duplicates:
        day = days[days.duplicated()][0]
        raise DataError(f"{what}: {int((days == day).sum())} rows on {_day(day)}: intraday timestamps; simlab "
                        "runs on one close per trading day (resample to daily closes)")
    weekend = index.day_of_week >= 5
    if calendar != "every_day" and weekend.mean() > WEEKEND_SHARE:
        raise DataError(f"{what}: {int(weekend.sum())} of {len(index)} dates fall on a weekend (first "
                        f"{_day(index[weekend][0])}): a calendar-day file; every annualised number assumes "
                        "252 trading days, so keep the trading days only, or, for a market that trades every "
                        "day (crypto), set data.calendar: every_day (365 days a year)")
    gap = float(np.median(np.diff(days.as_unit("s").asi8)) / 86_400)
    if gap >= 5:
        raise DataError(f"{what}: the median gap between dates is {gap:.0f} days (weekly or monthly rows); "
                        "simlab needs daily closes")


def find_jumps(close: pd.DataFrame, sigmas: float = JUMP_SIGMAS, floor: float = JUMP_FLOOR) -> list[str]:
    """One-day spikes, in words (asset, date, move): a daily log move beyond ``sigmas`` robust
    deviations and beyond ``floor``, undone by at least half the next day (a real crash that
    stays down is not one). The robust deviation of an asset is 1.4826 times the median absolute deviation
    of its log returns (NaN days skipped)."""
    values = close.to_numpy(dtype="float64", na_value=np.nan)
    if len(values) < 3:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        logret = np.diff(np.log(values), axis=0)
    out = []
    for col in range(logret.shape[1]):
        r = logret[:, col]
        ok = np.isfinite(r)
        if ok.sum() < 3:
            continue
        centre = np.median(r[ok])
        scale = 1.4826 * np.median(np.abs(r[ok] - centre))
        with np.errstate(invalid="ignore"):
            jump = ok & (np.abs(r - centre) > sigmas * scale) & (np.abs(r) > floor)
            after = np.append(r[1:], np.nan)
            jump &= (np.sign(after) == -np.sign(r)) & (np.abs(after) > 0.5 * np.abs(r))  # and back the next day
        for row in np.flatnonzero(jump)[:3]:
            out.append(f"asset {close.columns[col]!r} moved {np.expm1(r[row]):+.0%} on {_day(close.index[row + 1])} "
                       f"({abs(r[row] - centre) / scale if scale > 0 else np.inf:.0f} robust deviations); "
                       "and back the next day: a bad tick?")
    return out
