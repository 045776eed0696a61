"""Loading market data from a source string.

A source string names where prices come from:

- ``builtin:NAME``: real data shipped in the package (see :func:`available` and
  ``simlab/data/builtin/PROVENANCE.md``);
- ``csv:PATH`` and ``parquet:PATH``: a researcher's own price file, wide (dates, then one
  column per asset), long (date, asset, close[, open, volume]), single-asset OHLCV, or with
  two header rows (field, ticker); :mod:`simlab.data.layouts` says how each is recognised;
- ``synthetic``: a seeded factor market from :func:`simlab.data.synthetic.generate_market`;
  ``synthetic:futures``, ``synthetic:etf``, ``synthetic:crypto``: the seeded instrument
  markets of :mod:`simlab.data.synthetic_instruments` (a quarterly futures chain, an index
  and the ETF tracking it net of fees, coins trading every calendar day).

Each prefix maps to one loader function in ``LOADERS``; every loader returns a
:class:`~simlab.data.market.MarketData` whose ``provenance`` records the source, the rows
and the span (and, for built-ins, origin and licence).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from simlab.data.layouts import from_frame, read_table
from simlab.data.market import MarketData
from simlab.data.synthetic import generate_market
from simlab.data.synthetic_instruments import generate_crypto, generate_etf, generate_futures_chain
from simlab.data.validate import JUMP_SIGMAS, check_header, validate_market
from simlab.errors import ConfigError, DataError

SKFOLIO = "BSD-3-Clause (skfolio)"
ARCH = "NCSA (arch)"


@dataclass(frozen=True)
class Builtin:
    """A dataset shipped in ``simlab/data/builtin/``.

    Attributes
    ----------
    origin : str
        Package and function it was built from.
    licence : str
        Licence it is redistributed under.
    prices : bool
        Whether it is a price table ``load`` can serve (else only ``load_table``).
    caveats : tuple of str
        What a researcher must know before drawing conclusions from it.
    """

    origin: str
    licence: str
    prices: bool = True
    caveats: tuple[str, ...] = ()

    def file(self, name: str) -> str:
        """File name of dataset ``name``."""
        return f"{name}.csv.gz"


BUILTINS: dict[str, Builtin] = {
    "sp500_20": Builtin(
        "skfolio.datasets.load_sp500_dataset", SKFOLIO,
        caveats=("survivorship bias: the 20 stocks are today's survivors",),
    ),
    "sp500_index": Builtin("skfolio.datasets.load_sp500_index", SKFOLIO),
    "factor_etfs": Builtin("skfolio.datasets.load_factors_dataset", SKFOLIO),
    "vix": Builtin(
        "arch.data.vix.load", ARCH, caveats=("covers 2014-01-03 .. 2019-01-03 only",)
    ),
    "sp500_ohlcv": Builtin("arch.data.sp500.load", ARCH),
    "ff_factors": Builtin(
        "arch.data.frenchdata.load (Kenneth R. French Data Library)", ARCH, prices=False,
        caveats=("monthly factor returns as fractions, dated at month end",),
    ),
}


def available() -> list[str]:
    """Names of the built-in datasets, for ``builtin:NAME`` or :func:`load_table`.

    Returns
    -------
    list of str
        Sorted names. All but ``ff_factors`` are price data for :func:`load`;
        ``ff_factors`` (monthly factor returns) is read with :func:`load_table`.
    """
    return sorted(BUILTINS)


def _builtin(name: str) -> Builtin:
    """The catalogue entry of ``name``; unknown names suggest the nearest valid one."""
    if name in BUILTINS:
        return BUILTINS[name]
    near = difflib.get_close_matches(name, BUILTINS, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise DataError(f"unknown built-in dataset {name!r}{hint}; valid names: {available()}")


def load_table(name: str) -> pd.DataFrame:
    """A built-in dataset exactly as stored: dates as index, its own columns.

    Parameters
    ----------
    name : str
        A name from :func:`available` (with or without the ``builtin:`` prefix).

    Returns
    -------
    DataFrame
        Index a ``DatetimeIndex`` named ``date``. ``ff_factors`` holds the monthly
        Fama-French ``Mkt-RF``, ``SMB``, ``HML`` and ``RF`` as fractions (0.0296 is
        2.96 %), dated at month end; ``sp500_ohlcv`` holds ``Open``, ``High``, ``Low``,
        ``Close``, ``Adj Close`` and ``Volume``.
    """
    name = name.removeprefix("builtin:")
    entry = _builtin(name)
    resource = resources.files("simlab.data.builtin").joinpath(entry.file(name))
    with resources.as_file(resource) as path:
        frame = pd.read_csv(path, index_col=0, parse_dates=[0], compression="gzip")
    return frame.rename_axis("date")


def _provenance(source: str, close: pd.DataFrame, **extra) -> dict:
    """The provenance every loader records."""
    return {
        "source": source,
        "rows": len(close),
        "start": close.index[0].date().isoformat() if len(close) else None,
        "end": close.index[-1].date().isoformat() if len(close) else None,
        **extra,
    }


def _load_builtin(name: str) -> MarketData:
    """Price data of built-in dataset ``name`` as MarketData."""
    entry = _builtin(name)
    if not entry.prices:
        raise DataError(
            f"built-in dataset {name!r} holds monthly factor returns, not prices; read it "
            f"with simlab.data.load_table({name!r})"
        )
    table = load_table(name)
    close, volume, open_ = table, None, None
    if name == "sp500_ohlcv":
        close = table[["Adj Close"]].set_axis(["SP500"], axis=1)
        open_ = table[["Open"]].set_axis(["SP500"], axis=1)
        volume = table[["Volume"]].set_axis(["SP500"], axis=1).astype("float64")
    source = f"builtin:{name}"
    provenance = _provenance(source, close, origin=entry.origin, licence=entry.licence,
                             file=f"simlab/data/builtin/{entry.file(name)}",
                             caveats=list(entry.caveats))
    return MarketData(close=close, open=open_, volume=volume, source=source,
                      provenance=provenance)


def _existing(path: str) -> Path:
    """``path`` as a Path; a missing file raises DataError naming it."""
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise DataError(f"data file not found: {str(resolved.absolute())!r}")
    return resolved


def _csv_header(path: Path) -> list[str]:
    """The asset names of a CSV's header row (after its first, date column); none for a file
    with two header rows (field, ticker), whose first row repeats each field by design."""
    rows = _read(lambda p: pd.read_csv(p, header=None, nrows=2, dtype=str), path, "CSV")
    if len(rows) > 1 and str(rows.iloc[1, 0]).strip().lower() in ("ticker", "symbol"):
        return []
    return rows.iloc[0, 1:].tolist()


def _read(reader, path: Path, kind: str) -> pd.DataFrame:
    """``reader(path)``; an empty file or one that is not ``kind`` raises DataError naming it."""
    try:
        return reader(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (no header, no rows)") from None
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: cannot be read as {kind} ({type(err).__name__}: {err}); check the "
                        f"file and its prefix (csv:, parquet:)") from None


def _load_csv(path: str) -> MarketData:
    """A CSV of prices: wide, long, OHLCV or two header rows (:mod:`simlab.data.layouts`)."""
    resolved = _existing(path)
    check_header(_csv_header(resolved), resolved)  # a reader would rename a repeated name AAPL.1
    return from_frame(_read(lambda p: read_table(p, "csv"), resolved, "CSV"), f"csv:{path}", resolved)


def _load_parquet(path: str) -> MarketData:
    """A Parquet file of prices in any layout :mod:`simlab.data.layouts` reads."""
    resolved = _existing(path)
    return from_frame(_read(lambda p: read_table(p, "parquet"), resolved, "Parquet"), f"parquet:{path}", resolved)


SYNTHETIC_KINDS = {"futures": generate_futures_chain, "etf": generate_etf, "crypto": generate_crypto}


def _load_synthetic(kind: str, n_assets=None, n_days=None, seed=None) -> MarketData:
    """A synthetic market; ``None`` arguments take the defaults 20, 2520 and 0 (an instrument
    market ``kind`` has its own default length and no ``n_assets``)."""
    if kind:
        if n_assets is not None:
            raise ConfigError(f"n_assets: the synthetic:{kind} market has a fixed set of assets; leave it out")
        options = {k: v for k, v in (("n_days", n_days), ("seed", seed)) if v is not None}
        return SYNTHETIC_KINDS[kind](**options)
    return generate_market(
        n_assets=20 if n_assets is None else n_assets,
        n_days=2520 if n_days is None else n_days,
        seed=0 if seed is None else seed,
    )


LOADERS = {
    "builtin": _load_builtin,
    "csv": _load_csv,
    "parquet": _load_parquet,
    "synthetic": _load_synthetic,
}


ENTRY_POINT_GROUP = "simlab.loaders"
_ENTRY_POINTS_READ: list[bool] = []


def register_loader(prefix: str, loader) -> None:
    """Serve ``PREFIX:ARGUMENT`` sources with ``loader(argument) -> MarketData``.

    A package adds its loaders the same way through the entry-point group
    ``simlab.loaders`` (``name = "package.module:function"``; the name is the prefix),
    read on the first source whose prefix is not known. A config's relative argument is
    made absolute against the config file's folder before the loader sees it.

    Raises
    ------
    ConfigError
        The prefix is taken by another loader or is not a plain word.
    """
    if not prefix.isidentifier():
        raise ConfigError(f"loader prefix {prefix!r}: expected a plain word such as 'feather'")
    if prefix in LOADERS and LOADERS[prefix] is not loader:
        raise ConfigError(f"loader prefix {prefix!r} is already served by {LOADERS[prefix].__module__}."
                          f"{LOADERS[prefix].__qualname__}")
    LOADERS[prefix] = loader


def _read_entry_points() -> None:
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ.append(True)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        register_loader(ep.name, ep.load())


def load(
    source: str, *, n_assets: int | None = None, n_days: int | None = None,
    seed: int | None = None, validate: bool = True, calendar: str = "trading_days",
) -> MarketData:
    """Load market data from a source string.

    Parameters
    ----------
    source : str
        ``builtin:NAME`` (``sp500_20``, ``sp500_index``, ``factor_etfs``, ``vix``,
        ``sp500_ohlcv``), ``csv:PATH``, ``parquet:PATH`` or ``synthetic``.
    n_assets, n_days, seed : int, optional
        Size and seed of a ``synthetic`` market (defaults 20, 2520, 0); rejected for
        other sources.
    validate : bool
        Run :func:`~simlab.data.validate.validate_market` on the result.
    calendar : {"trading_days", "every_day"}
        The data's calendar; ``every_day`` (crypto) allows weekend rows.

    Returns
    -------
    MarketData
        ``builtin:sp500_20`` carries ``meta["sector"]`` (GICS); ``builtin:sp500_ohlcv``
        has the adjusted close as ``close``, plus ``open`` and ``volume``, all in one
        column named ``SP500``. Monthly Fama-French factors are not prices: read them
        with :func:`load_table` (``"ff_factors"``).

    Raises
    ------
    DataError
        Unknown source or built-in name, missing file, or malformed data.
    ConfigError
        ``n_assets``, ``n_days`` or ``seed`` given for a source other than ``synthetic``.
    """
    prefix, _, rest = source.partition(":")
    if prefix not in LOADERS:
        _read_entry_points()
    if prefix not in LOADERS or (prefix == "synthetic" and rest and rest not in SYNTHETIC_KINDS):
        others = "".join(f", {p}:..." for p in LOADERS if p not in ("builtin", "csv", "parquet", "synthetic"))
        kinds = "".join(f", synthetic:{k}" for k in SYNTHETIC_KINDS)
        raise DataError(f"unknown data source {source!r}; expected one of "
                        f"builtin:NAME, csv:PATH, parquet:PATH, synthetic{kinds}{others}")
    options = {"n_assets": n_assets, "n_days": n_days, "seed": seed}
    given = [key for key, value in options.items() if value is not None]
    if prefix != "synthetic" and given:
        raise ConfigError(f"{', '.join(given)}: only the 'synthetic' source takes "
                          f"n_assets, n_days and seed, not {source!r}")
    md = LOADERS[prefix](rest, **options) if given else LOADERS[prefix](rest)
    jumps = JUMP_SIGMAS if prefix in ("csv", "parquet") else None  # bad ticks come from files
    return validate_market(md, jump_sigmas=jumps, calendar=calendar) if validate else md


def load_series(source: str, calendar: str = "trading_days") -> pd.Series:
    """The single price series of a one-column source (a benchmark, the VIX).

    Parameters
    ----------
    source : str
        Any source :func:`load` accepts whose ``close`` has exactly one column.
    calendar : str
        The data's calendar, as for :func:`load` (``every_day`` accepts weekend rows).

    Returns
    -------
    Series
        Indexed by date; named after the built-in dataset (``"sp500_index"``, ``"vix"``,
        ``"sp500_ohlcv"``) or, for a file, after its column.
    """
    close = load(source, calendar=calendar).close
    if close.shape[1] != 1:
        raise DataError(f"{source!r} has {close.shape[1]} columns; load_series needs one "
                        "(use load(...).close[ASSET] to pick one)")
    prefix, _, rest = source.partition(":")
    name = rest if prefix == "builtin" else close.columns[0]
    return close.iloc[:, 0].rename(name)


__all__ = ["BUILTINS", "LOADERS", "available", "load", "load_series", "load_table", "register_loader"]
