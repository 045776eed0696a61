"""MarketData, the container every loader returns, and the point-in-time view.

Prices are adjusted closes on the trading calendar of the data (no holiday library).
A NaN close means the asset does not trade that day: leading NaNs are an asset listed
later, trailing NaNs an asset delisted. Validation lives in :mod:`simlab.data.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from simlab.errors import LookaheadError


@dataclass(frozen=True)
class MarketData:
    """Daily market data on one calendar.

    Attributes
    ----------
    close : DataFrame (T, N)
        Adjusted close; index a sorted ``DatetimeIndex`` named ``date``, columns asset names.
    open, volume : DataFrame (T, N) or None
        Optional, same index and columns as ``close``.
    benchmark : Series (T,) or None
        Benchmark level on the same index (NaN where the benchmark has no value).
    macro : DataFrame (T, K) or None
        Macro series on the same index, for example a ``vix`` column.
    meta : DataFrame or None
        Asset metadata indexed by asset (for example ``sector``).
    instruments : Instruments or None
        What the universe's instrument specs say about each asset, and each futures chain's
        held contract, quote and daily change (:mod:`simlab.data.instruments`); None: all equities.
    source : str
        Where the data came from (``builtin:sp500_20``, ``csv:PATH``, ...).
    """

    close: pd.DataFrame
    open: pd.DataFrame | None = None
    volume: pd.DataFrame | None = None
    benchmark: pd.Series | None = None
    macro: pd.DataFrame | None = None
    meta: pd.DataFrame | None = None
    source: str = ""
    provenance: dict = field(default_factory=dict)
    instruments: object = None

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Trading dates, shape (T,)."""
        return self.close.index

    @property
    def assets(self) -> pd.Index:
        """Asset names, shape (N,)."""
        return self.close.columns

    def returns(self) -> pd.DataFrame:
        """Daily simple returns (T, N); NaN on the first day and where a price is missing."""
        return self.close.pct_change(fill_method=None)

    def slice(self, start=None, end=None) -> MarketData:
        """Rows between ``start`` and ``end`` inclusive (either may be None)."""
        rows = slice(start, end)
        return replace(
            self,
            close=self.close.loc[rows],
            open=None if self.open is None else self.open.loc[rows],
            volume=None if self.volume is None else self.volume.loc[rows],
            benchmark=None if self.benchmark is None else self.benchmark.loc[rows],
            macro=None if self.macro is None else self.macro.loc[rows],
            instruments=None if self.instruments is None else self.instruments.slice(start, end),
        )

    def select(self, assets) -> MarketData:
        """Only the given assets, in the given order."""
        assets = list(assets)
        return replace(
            self,
            close=self.close[assets],
            open=None if self.open is None else self.open[assets],
            volume=None if self.volume is None else self.volume[assets],
            meta=None if self.meta is None else self.meta.reindex(assets),
            instruments=None if self.instruments is None else self.instruments.select(assets),
        )

    def with_benchmark(self, level: pd.Series) -> MarketData:
        """A copy whose benchmark is ``level`` reindexed onto this calendar."""
        return replace(self, benchmark=level.reindex(self.dates).rename(level.name or "benchmark"))


class PointInTimeView:
    """Read-only access to named (T, ...) arrays up to and including row ``t``.

    The one door through which Steps see market data. Slicing past ``t`` is impossible:
    every array is cut at ``t + 1`` and asking for a later row raises ``LookaheadError``.
    """

    __slots__ = ("_arrays", "_t", "dates")

    def __init__(self, arrays: dict[str, np.ndarray], dates: pd.DatetimeIndex, t: int):
        self._arrays = arrays
        self._t = int(t)
        self.dates = dates

    @property
    def t(self) -> int:
        """Row of the decision day."""
        return self._t

    @property
    def date(self) -> pd.Timestamp:
        """The decision day."""
        return self.dates[self._t]

    def history(self, name: str, window: int | None = None) -> np.ndarray:
        """Rows ``[t - window + 1, t]`` of array ``name`` (all rows up to t if no window)."""
        arr = self._arrays[name]
        start = 0 if window is None else max(0, self._t + 1 - int(window))
        out = arr[start : self._t + 1]
        out.flags.writeable = False
        return out

    def at(self, name: str, row: int | None = None) -> np.ndarray:
        """Row ``row`` (default t) of array ``name``; a row after t raises ``LookaheadError``."""
        row = self._t if row is None else int(row)
        if row < 0:
            raise LookaheadError(
                f"asked for {name!r} at row {row}: rows count from the start of the data, and a "
                f"negative row would wrap around to the end, past {self.date.date()}"
            )
        if row > self._t:
            raise LookaheadError(
                f"asked for {name!r} on {self.dates[min(row, len(self.dates) - 1)].date()} "
                f"(row {row}) while deciding on {self.date.date()} (row {self._t})"
            )
        out = self._arrays[name][row]
        if isinstance(out, np.ndarray):
            out.flags.writeable = False
        return out

    def names(self) -> list[str]:
        """Names of the arrays this view serves."""
        return sorted(self._arrays)
