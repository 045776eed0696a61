"""The universe's instrument specs applied to market data: futures chains stitched, facts per asset.

:func:`apply_instruments` takes a MarketData and the specs a universe file gives (read
duck-typed: ``kind`` and the kind's fields, :mod:`simlab.config.instruments`) and returns
the data the engine runs on: each futures chain's contract columns replaced by one column
named after the chain, holding its continuous series (what signals read), and an
:class:`Instruments` table holding what the book needs beyond a price.

Calendars: a market on ``every_day`` (crypto) has rows on weekends and its annualised
numbers use 365 periods a year; a market on ``trading_days`` (the default) uses 252.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import pandas as pd

from simlab.data.futures import ContinuousFuture, continuous_future
from simlab.data.market import MarketData
from simlab.errors import ConfigError, SimlabWarning

PERIODS = {"trading_days": 252, "every_day": 365}
"""Return observations per year of each calendar: what every annualised metric scales by."""


@dataclass(frozen=True)
class Instruments:
    """What the book needs to know about each asset beyond its price.

    Attributes
    ----------
    kind : Series, asset -> ``equity``, ``etf``, ``future`` or ``crypto``.
    multiplier : Series, money per point of a future's quote (1 for the others).
    margin : Series, a future's initial margin as a fraction of its notional (0 for the others).
    accrued_fee : Series, annual fee the book accrues on the position's value (an ETF whose data
        is gross of its expense ratio), 0 elsewhere.
    futures : dict, chain name -> :class:`~simlab.data.futures.ContinuousFuture`.
    """

    kind: pd.Series
    multiplier: pd.Series
    margin: pd.Series
    accrued_fee: pd.Series
    futures: dict = field(default_factory=dict)

    def select(self, assets) -> Instruments:
        """Only ``assets``, in that order (an asset not described is an equity)."""
        assets = pd.Index(list(assets))
        return Instruments(
            kind=self.kind.reindex(assets).fillna("equity"), multiplier=self.multiplier.reindex(assets).fillna(1.0),
            margin=self.margin.reindex(assets).fillna(0.0), accrued_fee=self.accrued_fee.reindex(assets).fillna(0.0),
            futures={a: f for a, f in self.futures.items() if a in assets},
        )

    def slice(self, start=None, end=None) -> Instruments:
        """The futures' series cut to the dates ``start`` .. ``end``."""
        rows = slice(start, end)
        cut = {}
        for asset, f in self.futures.items():
            quote = f.quote.loc[rows]
            rolls = f.rolls[f.rolls["date"].isin(quote.index)].reset_index(drop=True)
            cut[asset] = ContinuousFuture(quote, f.change.loc[rows], f.continuous.loc[rows], f.held.loc[rows], rolls)
        return replace(self, futures=cut)


def apply_instruments(md: MarketData, specs: dict, where="universe", calendar: str = "trading_days",
                      fractional: bool = True) -> MarketData:
    """``md`` with the instrument ``specs`` (asset -> spec) applied (see the module docstring).

    Raises
    ------
    ConfigError
        A futures chain that does not fit the data (:func:`~simlab.data.futures.continuous_future`);
        a crypto asset in a book that rounds to lots (``execution.fractional: false``).
    """
    futures = {a: s for a, s in specs.items() if s.kind == "future"}
    crypto = [a for a, s in specs.items() if s.kind == "crypto"]
    if crypto and not fractional:
        raise ConfigError(f"execution.fractional: false rounds trades to lots, but {where} asset {crypto[0]!r} is "
                          "crypto, which trades in fractional units; set execution.fractional: true")
    if crypto and calendar != "every_day":
        warnings.warn(f"{where}: asset {crypto[0]!r} is crypto, which trades every calendar day, but the data is on "
                      "trading days (data.calendar: trading_days); set data.calendar: every_day to keep its weekends "
                      "and annualise over 365 days", SimlabWarning, stacklevel=2)
    chains = {a: continuous_future(a, md.close, dict(s.contracts), s.roll.days_before_expiry, s.adjust, where)
              for a, s in futures.items()}
    md = _with_chains(md, futures, chains)
    assets = md.assets
    table = Instruments(
        kind=pd.Series({a: specs[a].kind if a in specs else "equity" for a in assets}, dtype=object),
        multiplier=pd.Series({a: float(futures[a].multiplier) if a in futures else 1.0 for a in assets}),
        margin=pd.Series({a: float(futures[a].margin) if a in futures else 0.0 for a in assets}),
        accrued_fee=pd.Series({a: _accrued(specs.get(a)) for a in assets}),
        futures=chains,
    )
    return replace(md, instruments=table)


def _accrued(spec) -> float:
    if spec is None or spec.kind != "etf" or spec.fee_in_price:
        return 0.0
    return float(spec.expense_ratio)


def _with_chains(md: MarketData, futures: dict, chains: dict) -> MarketData:
    """Each chain's contract columns replaced by one column, its continuous series."""
    if not chains:
        return md
    if md.open is not None or md.volume is not None:
        raise ConfigError("futures chains: the data has open or volume tables; a chain is stitched from closes "
                          "only, so load closes only for a book with futures")
    used = {name for spec in futures.values() for name in spec.contracts}
    clash = [a for a in chains if a in md.close.columns and a not in used]
    if clash:
        raise ConfigError(f"futures chain {clash[0]!r}: the data already has a column of that name; name the chain "
                          "differently from its contracts")
    keep = [c for c in md.close.columns if c not in used]
    close = pd.concat([md.close[keep]] + [chains[a].continuous for a in chains], axis=1)
    close.columns.name = md.close.columns.name
    return replace(md, close=close)


def periods_per_year(calendar: str) -> int:
    """Return observations per year on ``calendar`` (``trading_days`` 252, ``every_day`` 365)."""
    return PERIODS[calendar]


def held_contracts(md: MarketData) -> pd.DataFrame:
    """(T, F) the contract each futures chain holds after each close (empty without futures)."""
    if md.instruments is None or not md.instruments.futures:
        return pd.DataFrame(index=md.dates)
    return pd.DataFrame({a: f.held for a, f in md.instruments.futures.items()})


__all__ = ["PERIODS", "Instruments", "apply_instruments", "held_contracts", "periods_per_year"]
