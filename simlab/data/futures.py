"""A futures chain as one continuous position: which contract is held, its price, its daily change.

The data holds one column per contract (NaN outside the days it trades). The book holds the
nearest contract and leaves it at the close of the trading day ``days_before_expiry`` rows
before the contract's last trading day on or before its expiry, for the next contract in
expiry order, keeping the number of contracts. Expiries and the trading calendar are known
in advance (an exchange publishes both), so the roll days are too.

From the chain, on the data's calendar (T rows):

- ``quote``: the price of the contract held after each close (on a roll day, the new one);
  the book sizes orders and measures exposure on it (notional = contracts x multiplier x quote);
- ``change``: the day's price change of the contract held overnight (the old one on a roll
  day), which is what the book settles into cash (variation margin); it never contains a
  roll gap, so a roll creates no P&L;
- ``continuous``: the series signals read, stitched from the held contracts' own moves and
  anchored at the first quote: ``ratio`` compounds their daily returns, ``difference`` adds
  their daily changes. It is built forward, so its value at day t uses prices up to t only;
  the classical back-adjusted series as known on day t (:func:`back_adjusted`) is the same
  series rescaled (ratio) or shifted (difference) so that it ends at ``quote[t]``: the same
  returns (ratio) or the same changes (difference), and no look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.errors import ConfigError, DataError


@dataclass(frozen=True)
class ContinuousFuture:
    """One futures chain on the data's calendar (see the module docstring).

    Attributes
    ----------
    quote : Series (T,) price of the contract held after each close; NaN on a day it has no price.
    change : Series (T,) price change of the contract held overnight into each day; 0 on the first.
    continuous : Series (T,) the stitched series, anchored at the first quote.
    held : Series (T,) name of the contract held after each close.
    rolls : DataFrame, one row per roll: date, from, to, old (price), new (price), gap (new - old).
    """

    quote: pd.Series
    change: pd.Series
    continuous: pd.Series
    held: pd.Series
    rolls: pd.DataFrame


def continuous_future(asset: str, prices: pd.DataFrame, contracts: dict, days_before_expiry: int = 5,
                      adjust: str = "ratio", where="universe") -> ContinuousFuture:
    """Stitch the contracts ``prices`` (T, K columns) of ``asset`` into one held position.

    Parameters
    ----------
    asset : str
        The chain's name (in error messages and as the series' name).
    prices : DataFrame
        The data's close, holding every contract column (other columns are ignored).
    contracts : dict
        Contract column -> expiry date.
    days_before_expiry : int
        Roll rule (see the module docstring).
    adjust : {"ratio", "difference"}
        How ``continuous`` is stitched.
    where : str
        The universe file, named in errors.

    Raises
    ------
    ConfigError
        A contract not in the data; an expiry in the past (before the data starts, or before
        a price of the contract); a chain that ends before the data does. Each names the
        asset and the key.
    DataError
        The next contract has no price on a roll day.
    """
    names, expiries = _ordered(asset, prices, contracts, where)
    table = prices[names].to_numpy(dtype=np.float64)
    dates = prices.index
    last_rows = _last_rows(asset, dates, table, names, expiries, where)
    roll_rows = np.maximum(last_rows - days_before_expiry, -1)
    held = np.searchsorted(roll_rows, np.arange(len(dates)), side="right")  # first k whose roll row is after t
    held = np.minimum(held, len(names) - 1)  # the last contract is held to its expiry
    _check_roll_prices(asset, dates, table, names, roll_rows, held)
    filled = pd.DataFrame(table).ffill().to_numpy()
    rows = np.arange(len(dates))
    quote = np.where(np.isfinite(table[rows, held]), filled[rows, held], np.nan)
    before = np.r_[held[0], held[:-1]]
    today, yesterday = filled[rows, before], filled[np.maximum(rows - 1, 0), before]
    change = np.nan_to_num(today - yesterday)
    change[0] = 0.0
    continuous = _stitch(filled[rows, held], today, yesterday, adjust)
    _check_positive(asset, dates, continuous, where)
    label = [names[k] for k in held]
    return ContinuousFuture(
        quote=pd.Series(quote, index=dates, name=asset), change=pd.Series(change, index=dates, name=asset),
        continuous=pd.Series(continuous, index=dates, name=asset), held=pd.Series(label, index=dates, name=asset),
        rolls=_rolls(dates, filled, names, roll_rows),
    )


def back_adjusted(future: ContinuousFuture, as_of, adjust: str = "ratio") -> pd.Series:
    """The back-adjusted series as known at the close of ``as_of``: ``continuous`` up to that day,
    rescaled (``ratio``) or shifted (``difference``) so that it ends at that day's quote."""
    known = future.continuous.loc[:as_of]
    anchor = future.quote.loc[:as_of].ffill().iloc[-1]
    if adjust == "ratio":
        return known * (anchor / known.iloc[-1])
    return known + (anchor - known.iloc[-1])


def _ordered(asset, prices, contracts, where) -> tuple[list[str], list[pd.Timestamp]]:
    missing = [name for name in contracts if name not in prices.columns]
    if missing:
        raise ConfigError(f"{where}: asset {asset!r} (future), key 'instrument.contracts.{missing[0]}': no column "
                          f"{missing[0]!r} in the data (it has {', '.join(map(str, prices.columns[:12]))}"
                          f"{', ...' if len(prices.columns) > 12 else ''})")
    ordered = sorted(contracts.items(), key=lambda item: item[1])
    return [name for name, _ in ordered], [pd.Timestamp(expiry) for _, expiry in ordered]


def _last_rows(asset, dates, table, names, expiries, where) -> np.ndarray:
    """Each contract's last trading row on or before its expiry; an expiry in the past is an error."""
    key = f"{where}: asset {asset!r} (future), key 'instrument.contracts"
    rows = dates.searchsorted(pd.DatetimeIndex(expiries), side="right") - 1
    for k, (name, expiry) in enumerate(zip(names, expiries)):
        if expiry < dates[0]:
            raise ConfigError(f"{key}.{name}': expiry {expiry.date()} is in the past: the data starts on "
                              f"{dates[0].date()}; remove the contract or load earlier data")
        priced = np.flatnonzero(np.isfinite(table[:, k]))
        if len(priced) and priced[-1] > rows[k]:
            raise ConfigError(f"{key}.{name}': expiry {expiry.date()} is in the past while the contract still "
                              f"trades: it has a price on {dates[priced[-1]].date()}, and a contract does not trade "
                              "after it expires; check its expiry")
    if rows[-1] < len(dates) - 1:
        raise ConfigError(f"{key}': the chain ends: its last contract {names[-1]!r} expires on "
                          f"{expiries[-1].date()}, but the data runs to {dates[-1].date()}; list later contracts "
                          "or end the data (data.end) by then")
    return rows


def _check_roll_prices(asset, dates, table, names, roll_rows, held) -> None:
    """The contract rolled into has a price on the roll day (and the first one on the first row it is held)."""
    for k, row in enumerate(roll_rows[:-1]):
        if 0 <= row < len(dates) and not np.isfinite(table[row, k + 1]):
            raise DataError(f"futures {asset!r}: no price for {names[k + 1]!r} on {dates[row].date()}, the day the "
                            f"book rolls into it from {names[k]!r}; the next contract must trade on the roll day")


def _check_positive(asset, dates, continuous, where) -> None:
    """A difference-adjusted series can fall to zero over a long history in contango: say so."""
    with np.errstate(invalid="ignore"):
        bad = continuous <= 0
    if bad.any():
        row = int(np.argmax(bad))
        raise ConfigError(f"{where}: asset {asset!r} (future), key 'instrument.adjust': the difference-adjusted "
                          f"series falls to {continuous[row]:.4g} on {dates[row].date()}, and signals need a "
                          "positive price; use adjust: ratio")


def _stitch(quote, today, yesterday, adjust: str) -> np.ndarray:
    """The continuous series: anchored at the first quote, moved by the held contract's own changes."""
    start = int(np.argmax(np.isfinite(quote))) if np.isfinite(quote).any() else len(quote)
    out = np.full(len(quote), np.nan)
    if start == len(quote):
        return out
    if adjust == "ratio":
        step = np.where(np.isfinite(today / yesterday), today / yesterday, 1.0)
        step[: start + 1] = 1.0
        out[start:] = quote[start] * np.cumprod(step[start:])
    else:
        step = np.nan_to_num(today - yesterday)
        step[: start + 1] = 0.0
        out[start:] = quote[start] + np.cumsum(step[start:])
    return out


def _rolls(dates, filled, names, roll_rows) -> pd.DataFrame:
    rows = [(dates[r], names[k], names[k + 1], filled[r, k], filled[r, k + 1])
            for k, r in enumerate(roll_rows[:-1]) if 0 <= r < len(dates)]
    table = pd.DataFrame(rows, columns=["date", "from", "to", "old", "new"])
    table["gap"] = table["new"] - table["old"]
    return table
