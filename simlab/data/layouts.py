"""A researcher's own table as MarketData, whichever of the common layouts it has.

:func:`from_frame` reads four layouts (column names match without regard to case, spaces
or underscores):

- **wide**: dates (a date column first, or a date index), then one column of closes per asset;
- **long** (tidy): a date column, an asset column (``asset``, ``symbol``, ``ticker``,
  ``permno``, ``secid``) and one column per field: ``close`` or ``adj close``, optionally
  ``open``, ``volume`` (``high`` and ``low`` are read and left out);
- **OHLCV**: one asset, a date column and field columns only (``Open, High, Low, Close,
  Adj Close, Volume``); the asset is named after the file (or ``asset=``);
- **two header rows** (field, ticker), as downloaders write several tickers: a
  ``MultiIndex`` on the columns, or a CSV whose second row starts with ``Ticker``.

Where both are given, ``adj close`` is the close (total-return prices for the simulation;
the unadjusted close is left out and said so in the provenance).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simlab.data.market import MarketData
from simlab.errors import DataError

ASSET_COLUMNS = ("asset", "symbol", "ticker", "permno", "secid")
DATE_COLUMNS = ("date", "datetime", "timestamp", "time")
CLOSE_FIELDS = ("adjclose", "adjustedclose", "close")
FIELDS = {"adjclose": "close", "adjustedclose": "close", "close": "close", "open": "open",
          "volume": "volume", "high": "high", "low": "low", "price": "close"}


def _key(name) -> str:
    """A column name without case, spaces, underscores or dots: ``Adj Close`` -> ``adjclose``."""
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def from_frame(frame: pd.DataFrame, source: str = "memory", where: str | Path = "<DataFrame>",
               asset: str | None = None) -> MarketData:
    """MarketData from a table in one of the module's layouts.

    Parameters
    ----------
    frame : DataFrame
        The table as read (dates in a column or the index).
    source : str
        The source recorded on the result (``csv:PATH``, ``memory``).
    where : str or Path
        Names the table in error messages.
    asset : str, optional
        Name of the asset of a single-asset OHLCV table (default: the file's stem).

    Returns
    -------
    MarketData
        ``close``, and ``open`` / ``volume`` where the table has them; ``provenance`` says
        which layout was read and which columns were left out.

    Raises
    ------
    DataError
        No dates, a (date, asset) pair twice, no close column, a value that is not a number.
    """
    if isinstance(frame.columns, pd.MultiIndex):
        return _from_two_headers(frame, source, where)
    keys = {_key(c): c for c in frame.columns}
    asset_col = next((keys[k] for k in ASSET_COLUMNS if k in keys), None)
    if asset_col is not None:
        return _from_long(frame, asset_col, source, where)
    dated = _dated(frame, where)
    fields = [_key(c) for c in dated.columns]
    if dated.shape[1] and all(f in FIELDS for f in fields) and any(f in CLOSE_FIELDS for f in fields):
        name = asset or (Path(str(where)).name.split(".")[0] if where != "<DataFrame>" else "asset")
        tables = {field: dated[[col]].set_axis([name], axis=1) for col, field in zip(dated.columns, fields)}
        return _market(tables, source, where, layout="ohlcv")
    return _market({"close": dated}, source, where, layout="wide")


def _dated(frame: pd.DataFrame, where) -> pd.DataFrame:
    """``frame`` indexed by its dates (the index if it holds dates, else a date column or the first)."""
    if not isinstance(frame.index, pd.DatetimeIndex):
        keys = {_key(c): c for c in frame.columns}
        col = next((keys[k] for k in DATE_COLUMNS if k in keys), None)
        if col is None and isinstance(frame.index, pd.RangeIndex):
            col = frame.columns[0]
        if col is not None:
            frame = frame.set_index(col)
        raw = frame.index
        dates = pd.to_datetime(pd.Series(raw, dtype=object), errors="coerce", format="mixed")
        bad = dates.isna().to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise DataError(f"{where}: date {raw[row]!r} (data row {row}) is not a date; the first column "
                            "(or a column named date, or the index) must hold the dates")
        frame = frame.set_axis(pd.DatetimeIndex(dates), axis=0)
    frame = frame.set_axis(frame.columns.map(str), axis=1)
    return frame.rename_axis("date").rename_axis(None, axis=1)


def _from_long(frame: pd.DataFrame, asset_col, source: str, where) -> MarketData:
    """Pivot a long (date, asset, field...) table to one wide table per field."""
    table = frame.reset_index(drop=not isinstance(frame.index, pd.DatetimeIndex))
    keys = {_key(c): c for c in table.columns}
    date_col = next((keys[k] for k in DATE_COLUMNS if k in keys), None)
    if date_col is None:
        date_col = table.columns[0] if table.columns[0] != asset_col else None
    if date_col is None:
        raise DataError(f"{where}: a long table needs a date column (one of {', '.join(DATE_COLUMNS)})")
    dated = _dated(table.set_index(date_col)[[c for c in table.columns if c != date_col]], where)
    twice = dated.reset_index().duplicated(["date", str(asset_col)], keep=False).to_numpy()
    if twice.any():
        row = dated.iloc[int(twice.argmax())]
        raise DataError(f"{where}: asset {row[str(asset_col)]!r} has two rows on "
                        f"{dated.index[int(twice.argmax())].date()}; a long table has one row per (date, asset)")
    tables = {}
    for col in dated.columns:
        if col == str(asset_col) or _key(col) not in FIELDS:
            continue
        wide = dated.pivot_table(index=dated.index, columns=str(asset_col), values=col, aggfunc="first",
                                 dropna=False, sort=True)
        tables[_key(col)] = wide.rename_axis("date").rename_axis(None, axis=1)
    left = [str(c) for c in dated.columns if c != str(asset_col) and _key(c) not in FIELDS]
    return _market(tables, source, where, layout="long", extra_left_out=left)


def _from_two_headers(frame: pd.DataFrame, source: str, where) -> MarketData:
    """Columns (field, ticker), or (ticker, field): one wide table per field."""
    level = next((i for i in range(frame.columns.nlevels)
                  if any(_key(v) in CLOSE_FIELDS for v in frame.columns.get_level_values(i))), None)
    if level is None:
        raise DataError(f"{where}: two header rows but no close field in either (expected Close or Adj Close)")
    tables = {}
    for field in dict.fromkeys(frame.columns.get_level_values(level)):
        if _key(field) in FIELDS:
            tables[_key(field)] = _dated(frame.xs(field, axis=1, level=level), where)
    return _market(tables, source, where, layout="two header rows")


def _market(tables: dict[str, pd.DataFrame], source: str, where, layout: str,
            extra_left_out: list[str] | None = None) -> MarketData:
    """MarketData from per-field wide tables keyed by :func:`_key` field names."""
    close_key = next((k for k in CLOSE_FIELDS if k in tables), None) or ("price" if "price" in tables else None)
    if close_key is None:
        raise DataError(f"{where}: no close column (expected one of Close, Adj Close, Price)")
    left_out = [k for k in tables if k not in (close_key, "open", "volume")] + list(extra_left_out or [])
    close = _numeric(tables[close_key], where, close_key).sort_index()
    others = {}
    for name in ("open", "volume"):
        if name in tables:
            others[name] = _numeric(tables[name], where, name).reindex(index=close.index, columns=close.columns)
    provenance = {"source": source, "layout": layout, "close": close_key, "rows": len(close),
                  "start": close.index[0].date().isoformat() if len(close) else None,
                  "end": close.index[-1].date().isoformat() if len(close) else None,
                  "fields": ["close", *others], "left_out": left_out}
    if isinstance(where, Path):
        provenance["file"] = str(where.absolute())
    return MarketData(close=close, source=source, provenance=provenance, **others)


def _numeric(table: pd.DataFrame, where, field: str) -> pd.DataFrame:
    """``table`` as float64; a value that is not a number raises DataError naming it."""
    try:
        return table.astype("float64")
    except (TypeError, ValueError):
        coerced = table.apply(pd.to_numeric, errors="coerce")
        bad = coerced.isna() & table.notna()
        col = bad.any().idxmax()
        date = bad[col].idxmax()
        raise DataError(f"{where}: {field} of {col!r} on {pd.Timestamp(date).date()} is "
                        f"{table.at[date, col]!r}, not a number") from None


def read_table(path: Path, kind: str) -> pd.DataFrame:
    """A CSV or Parquet file as read, two header rows recognised (CSV second row ``Ticker``)."""
    if kind == "parquet":
        return pd.read_parquet(path)
    with path.open() as fh:
        head = [fh.readline() for _ in range(3)]
    second = head[1].split(",")[0].strip().lower() if len(head) > 1 else ""
    if second in ("ticker", "symbol"):
        frame = pd.read_csv(path, header=[0, 1], index_col=0)
        frame = frame[~frame.index.astype(str).str.lower().isin(("date", "datetime", ""))]
        return frame[frame.index.notna()]
    return pd.read_csv(path)
