"""Seeded synthetic markets for the instrument kinds, each with a known answer.

- :func:`generate_futures_chain`: quarterly futures on a lognormal spot, priced with a
  constant carry (``F = S * exp(carry * years to expiry)``), so each roll into the next
  contract meets a price gap (contango for a positive carry). Known answer: the book's
  P&L over any span is ``contracts * multiplier * sum of the held contract's own daily
  changes``; a roll adds nothing.
- :func:`generate_etf`: a gross index ``IDX`` and the fund ``ETF`` that tracks it net of its
  expense ratio, ``ETF = IDX * (1 - expense_ratio) ** (row / 252)``. Known answer: over
  any 252 rows the fund trails the index by exactly the expense ratio.
- :func:`generate_crypto`: coins on every calendar day (weekends included), volatility
  given per year of 365 days. Known answer: the daily volatility is ``vol / sqrt(365)``.

Every generator takes a ``seed`` (``numpy.random.default_rng``) and gives bit-identical
output for the same arguments; the truth is in ``provenance["truth"]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.data.market import MarketData
from simlab.errors import ConfigError

MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}


def third_friday(year: int, month: int) -> pd.Timestamp:
    """The third Friday of ``month``: the usual expiry of equity-index futures."""
    first = pd.Timestamp(year=year, month=month, day=1)
    return first + pd.Timedelta(days=(4 - first.day_of_week) % 7 + 14)


def quarterly_expiries(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Third Fridays of March, June, September and December from ``start`` until one after ``end``."""
    out, year, month = [], start.year, 3
    while not out or out[-1] <= end:
        expiry = third_friday(year, month)
        if expiry >= start:
            out.append(expiry)
        year, month = (year + 1, 3) if month == 12 else (year, month + 3)
    return out


def generate_futures_chain(n_days: int = 756, seed: int = 0, *, root: str = "SF", start: str = "2020-01-02",
                           spot: float = 3000.0, vol: float = 0.18, drift: float = 0.05, carry: float = 0.04,
                           listed: int = 2) -> MarketData:
    """Quarterly futures on one synthetic spot (see the module docstring).

    Parameters
    ----------
    n_days : int
        Business days T.
    seed : int
        Seed of the spot's returns.
    root : str
        Contract columns are ``{root}_{month code}{year}`` (``SF_H2020``: March 2020).
    spot, vol, drift, carry : float
        Spot's first price, annual volatility and drift (log, 252 days a year), and the
        annual carry of the futures over the spot.
    listed : int
        How many contracts trade at once (each is listed ``listed`` quarters before its expiry).

    Returns
    -------
    MarketData
        ``close`` (T, K) one column per contract, NaN outside the days it trades;
        ``provenance["truth"]`` holds ``expiries`` (column -> date), ``spot`` (T,) and ``carry``.
    """
    if int(n_days) != n_days or n_days < 2:
        raise ConfigError(f"n_days must be an integer of at least 2; got {n_days!r}")
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days, name="date")
    logret = rng.normal((drift - 0.5 * vol**2) / 252, vol / np.sqrt(252), n_days)
    logret[0] = 0.0
    path = spot * np.exp(np.cumsum(logret))
    expiries = quarterly_expiries(dates[0], dates[-1])
    columns, names = {}, {}
    for k, expiry in enumerate(expiries):
        name = f"{root}_{MONTH_CODES[expiry.month]}{expiry.year}"
        listing = expiries[k - listed] if k >= listed else dates[0] - pd.Timedelta(days=1)
        years = (expiry - dates).days.to_numpy() / 365.0
        price = path * np.exp(carry * years)
        live = (dates > listing) & (dates <= expiry)
        columns[name] = np.where(live, price, np.nan)
        names[name] = expiry.date()
    close = pd.DataFrame(columns, index=dates)
    close.columns.name = "asset"
    truth = {"expiries": names, "spot": path, "carry": carry}
    provenance = {"source": "synthetic:futures", "rows": n_days, "start": dates[0].date().isoformat(),
                  "end": dates[-1].date().isoformat(), "seed": seed, "licence": "generated",
                  "origin": "simlab.data.synthetic_instruments.generate_futures_chain", "truth": truth}
    return MarketData(close=close, source="synthetic:futures", provenance=provenance)


def futures_universe(md: MarketData, root: str = "SF", multiplier: float = 50.0, margin: float = 0.1,
                     days_before_expiry: int = 5) -> dict:
    """A universe (plain data, for :func:`simlab.config.universe.parse_universe`) trading the chain of ``md``."""
    contracts = {name: expiry for name, expiry in md.provenance["truth"]["expiries"].items()}
    return {"name": f"synthetic_{root.lower()}", "assets": {root: {"instrument": {
        "kind": "future", "multiplier": multiplier, "margin": margin, "contracts": contracts,
        "roll": {"days_before_expiry": days_before_expiry}}}}}


def generate_etf(n_days: int = 504, seed: int = 0, *, expense_ratio: float = 0.0075, start: str = "2020-01-02",
                 vol: float = 0.15, drift: float = 0.06) -> MarketData:
    """A gross index ``IDX`` and the fund ``ETF`` tracking it net of ``expense_ratio`` (module docstring)."""
    if not 0 <= expense_ratio < 1:
        raise ConfigError(f"expense_ratio must lie in [0, 1); got {expense_ratio!r}")
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days, name="date")
    logret = rng.normal((drift - 0.5 * vol**2) / 252, vol / np.sqrt(252), n_days)
    logret[0] = 0.0
    index = 100.0 * np.exp(np.cumsum(logret))
    fund = index * (1.0 - expense_ratio) ** (np.arange(n_days) / 252.0)
    close = pd.DataFrame({"IDX": index, "ETF": fund}, index=dates)
    close.columns.name = "asset"
    provenance = {"source": "synthetic:etf", "rows": n_days, "start": dates[0].date().isoformat(),
                  "end": dates[-1].date().isoformat(), "seed": seed, "licence": "generated",
                  "origin": "simlab.data.synthetic_instruments.generate_etf",
                  "truth": {"expense_ratio": expense_ratio}}
    return MarketData(close=close, source="synthetic:etf", provenance=provenance)


def generate_crypto(n_days: int = 730, seed: int = 0, *, start: str = "2021-01-01",
                    vols: tuple[float, ...] = (0.6, 0.8), drift: float = 0.1) -> MarketData:
    """Coins ``C0``, ``C1``.. on every calendar day, annual volatilities ``vols`` over 365 days."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n_days, freq="D", name="date")
    vol = np.asarray(vols, dtype=float)
    logret = rng.normal((drift - 0.5 * vol**2) / 365, vol / np.sqrt(365), (n_days, len(vol)))
    logret[0] = 0.0
    close = pd.DataFrame(100.0 * np.exp(np.cumsum(logret, axis=0)), index=dates,
                         columns=pd.Index([f"C{i}" for i in range(len(vol))], name="asset"))
    provenance = {"source": "synthetic:crypto", "rows": n_days, "start": dates[0].date().isoformat(),
                  "end": dates[-1].date().isoformat(), "seed": seed, "licence": "generated",
                  "origin": "simlab.data.synthetic_instruments.generate_crypto",
                  "truth": {"daily_vol": vol / np.sqrt(365), "periods": 365}}
    return MarketData(close=close, source="synthetic:crypto", provenance=provenance)
