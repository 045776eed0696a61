"""Instrument specs: what kind of thing an asset of the universe is, and how it is held.

A universe file gives an asset an ``instrument:`` mapping whose ``kind`` picks one spec
from :data:`KINDS`; an asset without one is an equity (the default, and the behaviour of
every universe written before instruments existed):

```yaml
assets:
  AAPL: {sector: Information Technology}            # equity
  SPY:  {instrument: {kind: etf, expense_ratio: 0.0009, fee_in_price: false}}
  BTC:  {instrument: {kind: crypto}}
  SF:
    instrument:
      kind: future
      multiplier: 50                 # money per point of the quote
      margin: 0.10                   # initial margin, a fraction of the notional
      contracts: {SF_H2021: 2021-03-19, SF_M2021: 2021-06-18}   # data columns and expiries
      roll: {days_before_expiry: 5}
      adjust: ratio                  # how the continuous series is stitched
```

equity
    Cash equity: bought with cash, valued at its price (today's behaviour).
etf
    Like an equity, with an annual ``expense_ratio``. ``fee_in_price: true`` (the default)
    says the data is the fund's own traded price, which already carries the fee (a fund takes
    its fee out of its assets every day), so nothing more is charged. ``fee_in_price: false``
    says the data is gross of the fee (an index standing in for the fund): the book then
    accrues ``expense_ratio / periods`` of the position's value from cash every day, so a
    position of constant value pays exactly ``expense_ratio`` of it over a year.
future
    Held in contracts of ``multiplier`` money per point; valued by notional (its weight is
    notional / NAV) but not paid for: the book posts ``margin`` x notional out of its cash and
    the daily change of the contract held is settled into cash (variation margin). The data
    holds one column per contract (``contracts``: column -> expiry); the book holds the
    nearest contract and rolls to the next ``roll.days_before_expiry`` trading days before
    its expiry, at the close, keeping the number of contracts (no P&L at a roll).
crypto
    Trades on every calendar day and in fractional units. A run on crypto sets
    ``data.calendar: every_day``; its metrics annualise over 365 days.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Union

from pydantic import Field, StrictBool

from simlab.config.schema import StrictModel
from simlab.errors import ConfigError

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class EquitySpec(StrictModel):
    """A cash equity: bought with cash, valued at its price."""

    kind: Literal["equity"] = "equity"


class EtfSpec(StrictModel):
    """An exchange-traded fund with an annual expense ratio (see the module docstring)."""

    kind: Literal["etf"]
    expense_ratio: Rate
    fee_in_price: StrictBool = True


class RollRule(StrictModel):
    """When the book leaves a contract: at the close ``days_before_expiry`` trading days before the
    last trading day on or before its expiry (0: on that day)."""

    days_before_expiry: Annotated[int, Field(ge=0, strict=True)] = 5


class FutureSpec(StrictModel):
    """A futures chain traded as one continuous position (see the module docstring)."""

    kind: Literal["future"]
    multiplier: Positive
    margin: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
    contracts: dict[str, dt.date]
    roll: RollRule = RollRule()
    adjust: Literal["ratio", "difference"] = "ratio"


class CryptoSpec(StrictModel):
    """A crypto asset: every calendar day, fractional units."""

    kind: Literal["crypto"]


InstrumentSpec = Annotated[Union[EquitySpec, EtfSpec, FutureSpec, CryptoSpec], Field(discriminator="kind")]

KINDS: dict[str, type[StrictModel]] = {"equity": EquitySpec, "etf": EtfSpec, "future": FutureSpec,
                                       "crypto": CryptoSpec}
"""The registry of instrument kinds: ``kind`` in a universe file -> its spec."""

DEFAULT = EquitySpec()


def fields_of(kind: str | None) -> list[str]:
    """The keys an ``instrument:`` mapping of ``kind`` accepts (every kind's when unknown)."""
    if kind in KINDS:
        return list(KINDS[kind].model_fields)
    return sorted({key for spec in KINDS.values() for key in spec.model_fields})


def check_instruments(instruments: dict[str, StrictModel], where) -> None:
    """What a spec alone can get wrong: a future without contracts, or two on one expiry.

    Whether the contracts are in the data, and whether their expiries fit its dates, is
    checked where the universe meets the data (:func:`simlab.data.futures.continuous_future`).

    Raises
    ------
    ConfigError
        Naming the file, the asset and the key.
    """
    for asset, spec in instruments.items():
        if not isinstance(spec, FutureSpec):
            continue
        if not spec.contracts:
            raise ConfigError(f"universe {where}: asset {asset!r} (future), key 'instrument.contracts': empty; "
                              "list each contract's data column and its expiry date")
        seen: dict[dt.date, str] = {}
        for name, expiry in spec.contracts.items():
            if expiry in seen:
                raise ConfigError(f"universe {where}: asset {asset!r} (future), key 'instrument.contracts.{name}': "
                                  f"expires on {expiry}, as {seen[expiry]!r} does; each contract needs its own expiry")
            seen[expiry] = name
