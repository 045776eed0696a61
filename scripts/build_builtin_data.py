"""Regenerate the built-in datasets shipped in ``simlab/data/builtin/``.

Every file is rebuilt from the public package that carries it (skfolio, arch), written
as a gzip CSV with a fixed layout, and described in ``PROVENANCE.md``. Rebuilding with
the same source versions gives byte-identical files:

- values are written with Python's shortest round-trip float repr (no precision lost,
  the source's own decimals kept), dates as ``YYYY-MM-DD``, ``\\n`` line ends;
- gzip headers carry no file name and ``mtime=0``.

Usage::

    python scripts/build_builtin_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

OUT_DIR = Path(__file__).resolve().parents[1] / "simlab" / "data" / "builtin"

SKFOLIO_LICENCE = "BSD-3-Clause (Copyright (c) 2023-2026 The skfolio developers)"
ARCH_LICENCE = "NCSA (Copyright (c) 2017 Kevin Sheppard)"
SKFOLIO_CAUTION = (
    "skfolio ships this data 'solely for testing and example purposes'; it is stale and "
    "not authoritative market data."
)


@dataclass(frozen=True)
class Dataset:
    """One built-in file: its name, where it comes from and how it is produced."""

    name: str
    package: str
    module: str
    function: str
    licence: str
    produce: Callable[[], pd.DataFrame]
    how: str
    caveats: tuple[str, ...] = ()

    @property
    def file(self) -> str:
        """File name under ``simlab/data/builtin/``."""
        return f"{self.name}.csv.gz"


def _skfolio(function: str) -> pd.DataFrame:
    """Call ``skfolio.datasets.<function>()`` and name the index ``date``."""
    import skfolio.datasets

    frame = getattr(skfolio.datasets, function)()
    return frame.rename_axis("date")


def _sp500_20() -> pd.DataFrame:
    return _skfolio("load_sp500_dataset")


def _sp500_index() -> pd.DataFrame:
    return _skfolio("load_sp500_index")


def _factor_etfs() -> pd.DataFrame:
    return _skfolio("load_factors_dataset")


def _vix() -> pd.DataFrame:
    """arch's VIX close without the exchange-holiday rows that carry no value."""
    from arch.data import vix

    frame = vix.load().rename_axis("date")
    return frame.dropna(how="all")


def _sp500_ohlcv() -> pd.DataFrame:
    """arch's S&P 500 daily open, high, low, close, adjusted close and volume."""
    from arch.data import sp500

    frame = sp500.load().rename_axis("date")
    frame["Volume"] = frame["Volume"].astype("int64")
    return frame


def _yyyymm(index: pd.Index) -> pd.Index:
    """Recover the integer ``yyyymm`` labels of arch's French data.

    ``arch.data.frenchdata.load`` passes the integer column through ``pd.to_datetime``,
    which reads ``192607`` as nanoseconds after the epoch; the integers are recovered
    from those nanoseconds. An integer index is returned as it is.
    """
    if isinstance(index, pd.DatetimeIndex):
        return pd.Index(index.as_unit("ns").asi8)
    return pd.Index(index.astype("int64"))


def _ff_factors() -> pd.DataFrame:
    """Monthly Fama-French factors as fractions, indexed by month-end date."""
    from arch.data import frenchdata

    frame = frenchdata.load()
    codes = _yyyymm(frame.index)
    if not ((codes >= 192601) & (codes % 100 >= 1) & (codes % 100 <= 12)).all():
        raise ValueError(f"unexpected French data index, first labels {list(codes[:3])}")
    month_end = pd.to_datetime(codes.astype(str), format="%Y%m") + pd.offsets.MonthEnd(0)
    # the source holds percents with two decimals: dividing by 100 and rounding to six
    # decimals gives the nearest double to the exact decimal fraction (2.96 -> 0.0296)
    out = (frame.astype("float64") / 100.0).round(6)
    out.index = pd.DatetimeIndex(month_end, name="date")
    return out[["Mkt-RF", "SMB", "HML", "RF"]]


DATASETS = (
    Dataset(
        "sp500_20", "skfolio", "skfolio.datasets", "load_sp500_dataset", SKFOLIO_LICENCE,
        _sp500_20, "copied as published: adjusted daily close, 3 decimals",
        (
            "Survivorship bias: the 20 stocks are today's survivors picked with hindsight; "
            "results on them overstate what a 1990 investor could have had.",
            "Prices carry 3 decimals, so daily returns of the early low-priced stocks "
            "(AAPL, BBY, UNH below 0.5) are coarsely quantized.",
            "Adjusted closes only: no open, volume, market cap or fundamentals.",
            SKFOLIO_CAUTION,
        ),
    ),
    Dataset(
        "sp500_index", "skfolio", "skfolio.datasets", "load_sp500_index", SKFOLIO_LICENCE,
        _sp500_index, "copied as published: S&P 500 index level, column SP500",
        ("A price index (no dividends), so it understates a total-return benchmark.",
         SKFOLIO_CAUTION),
    ),
    Dataset(
        "factor_etfs", "skfolio", "skfolio.datasets", "load_factors_dataset",
        SKFOLIO_LICENCE, _factor_etfs,
        "copied as published: adjusted daily close of MTUM QUAL SIZE USMV VLUE",
        ("Starts 2014-01-02, well after the stock data.", SKFOLIO_CAUTION),
    ),
    Dataset(
        "vix", "arch", "arch.data.vix", "load", ARCH_LICENCE, _vix,
        "VIX close; rows of exchange holidays that hold no value in the source dropped",
        ("Covers 2014-01-03 .. 2019-01-03 only; outside that span a documented proxy "
         "(scaled trailing realized volatility of the index) must stand in.",),
    ),
    Dataset(
        "sp500_ohlcv", "arch", "arch.data.sp500", "load", ARCH_LICENCE, _sp500_ohlcv,
        "copied as published: Open High Low Close 'Adj Close' Volume (shares, integer)",
        ("Index-level volume only: there is no per-stock volume.",
         "Close equals Adj Close on every row of this price index."),
    ),
    Dataset(
        "ff_factors", "arch", "arch.data.frenchdata", "load", ARCH_LICENCE, _ff_factors,
        "integer yyyymm labels parsed to month-end dates; percents divided by 100 "
        "(values are fractions: 0.0296 means 2.96 %)",
        ("Monthly returns, not prices: read it with simlab.data.load_table('ff_factors').",
         "Ends 2018-11 (the source's last month), not 2018-12.",
         "Data from the Kenneth R. French Data Library, as packaged by arch."),
    ),
)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV text with a fixed, lossless layout."""
    return frame.to_csv(date_format="%Y-%m-%d", lineterminator="\n").encode("utf-8")


def gzip_bytes(raw: bytes) -> bytes:
    """Gzip ``raw`` with an empty file name and ``mtime=0`` so output is reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    return buf.getvalue()


def build(dataset: Dataset, out_dir: Path) -> dict:
    """Write one dataset and return the facts ``PROVENANCE.md`` reports about it."""
    frame = dataset.produce()
    raw = to_csv_bytes(frame)
    packed = gzip_bytes(raw)
    (out_dir / dataset.file).write_bytes(packed)
    return {
        "rows": len(frame),
        "columns": list(frame.columns),
        "start": frame.index[0].date().isoformat(),
        "end": frame.index[-1].date().isoformat(),
        "bytes": len(packed),
        "sha256_csv": hashlib.sha256(raw).hexdigest(),
    }


def provenance_section(dataset: Dataset, facts: dict) -> str:
    """The ``PROVENANCE.md`` section of one file."""
    version = importlib.metadata.version(dataset.package)
    lines = [
        f"## `{dataset.file}`",
        "",
        f"- source: `{dataset.package}` {version}, `{dataset.module}.{dataset.function}()`",
        f"- licence: {dataset.licence}",
        f"- span: {facts['start']} .. {facts['end']}, {facts['rows']} rows",
        f"- columns: {', '.join(facts['columns'])}",
        f"- produced: {dataset.how}",
        f"- sha256 of the uncompressed CSV: `{facts['sha256_csv']}`",
    ]
    if dataset.caveats:
        lines += ["- caveats:"] + [f"  - {c}" for c in dataset.caveats]
    return "\n".join(lines) + "\n"


HEADER = """# Built-in datasets: provenance

Real market data shipped inside simlab so that experiments and tests run offline. Every
file is a gzip CSV (first column `date`, ISO dates) regenerated from its source package by
`scripts/build_builtin_data.py`; rebuilding with the same source versions gives identical
bytes, and the checksums below are of the uncompressed CSV text. Each file is
redistributed under its source package's licence, whose copyright notice is kept here.
The underlying prices were collected by the source packages' authors from public data
vendors; they are for research and testing, not for trading decisions.

Load them with `simlab.data.load("builtin:NAME")` (prices) or
`simlab.data.load_table("NAME")` (the table as stored).
"""


def main(argv: list[str] | None = None) -> None:
    """Build every dataset and write ``PROVENANCE.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    out_dir = parser.parse_args(argv).out
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [HEADER]
    for dataset in DATASETS:
        facts = build(dataset, out_dir)
        sections.append(provenance_section(dataset, facts))
        print(f"{dataset.file}: {facts['rows']} rows, {facts['bytes']} bytes")
    (out_dir / "PROVENANCE.md").write_text("\n".join(sections), encoding="utf-8")


if __name__ == "__main__":
    main()
