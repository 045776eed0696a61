"""How the book holds instruments that are not cash equities: futures and fee-accruing ETFs.

Built once per run from the data's :class:`~simlab.data.instruments.Instruments` (None when
every asset is an equity, or an ETF whose fee is already in its price: then nothing here
runs and the book behaves as it always has).

Futures, in contracts of ``multiplier`` money per point:

- **Valued by notional.** The price the book sizes orders on, measures weights on and records
  trades at is the contract's notional, ``multiplier x quote`` of the contract held; a
  weight of 1.5 is a notional of 1.5 x NAV.
- **Not paid for.** A fill moves no notional through cash (only its costs); the position's
  value in NAV is zero once settled, because each day the held contract's change,
  ``contracts x multiplier x change``, is settled into cash (variation margin) before the
  day's NAV is written. So cash holds the margin, never the notional.
- **Margin.** The initial margin, ``margin x |notional|`` summed over futures, is the part of
  cash that is posted. On a fill day the margin of the futures' targets is set aside first,
  the other assets trade with the rest of the cash (their buys scaled to it as usual), then
  the futures trade: if their margin still does not fit the cash left plus the borrowing the
  execution allows (``(leverage - 1) x NAV``), the trades that add to a position are scaled
  down together, one factor per scenario (``margin_scale`` in the diagnostics, beside
  ``futures_margin`` and ``futures_notional``). A loss between rebalances that leaves less
  cash than the posted margin is reported (``margin_shortfall``) on the next fill day, not
  liquidated.
- **Rolls.** At the close of a roll day the book leaves the held contract for the next one,
  keeping the number of contracts. The settlement that day is the old contract's change and
  the notional from the next day on the new one's, so the roll itself moves no money but its
  costs: each leg priced by the scenario's cost model, charged as a holding cost.

ETFs whose data is gross of the expense ratio (``fee_in_price: false``) accrue
``expense_ratio / periods`` of the position's value each day, from cash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.data.market import MarketData
from simlab.execution.fills import Fill
from simlab.execution.lots import round_down_lots, round_lots
from simlab.kernels.accounting import DUST
from simlab.kernels.instruments import settle_day_nb


@dataclass(frozen=True)
class InstrumentBook:
    """Arrays the book needs for futures and accruing ETFs, (T, N) or (N,), computed once.

    Attributes
    ----------
    futures : (N,) bool, the futures columns.
    margin : (N,) initial margin as a fraction of notional (0 elsewhere).
    trade_close : (T, N) the price trades fill at: a future's notional per contract, NaN on a
        day its held contract has no price; the close elsewhere.
    settle : (T, N) money settled per unit held each day (futures' multiplier x change; 0 elsewhere).
    fee_rate : (N,) daily fee per unit of value (accruing ETFs; 0 elsewhere).
    roll_rows : dict, row -> (N,) bool, the futures rolling at that row's close.
    roll_legs : dict, row -> (old, new) (N,) notional per contract of the contract left and taken.
    """

    futures: np.ndarray
    margin: np.ndarray
    trade_close: np.ndarray
    settle: np.ndarray
    fee_rate: np.ndarray
    roll_rows: dict
    roll_legs: dict

    @classmethod
    def build(cls, md: MarketData, close: np.ndarray, periods: int) -> InstrumentBook | None:
        """The instrument book of a run on ``md`` (``close`` (T, N) its closes), or None when not needed."""
        info = md.instruments
        if info is None:
            return None
        futures = (info.kind == "future").to_numpy()
        fee_rate = info.accrued_fee.to_numpy(dtype=np.float64) / periods
        if not futures.any() and not fee_rate.any():
            return None
        trade_close, settle = close.copy(), np.zeros_like(close)
        multiplier = info.multiplier.to_numpy(dtype=np.float64)
        roll_rows: dict = {}
        roll_legs: dict = {}
        for n in np.flatnonzero(futures):
            chain = info.futures[md.assets[n]]
            trade_close[:, n] = multiplier[n] * chain.quote.to_numpy(dtype=np.float64)
            settle[:, n] = multiplier[n] * chain.change.to_numpy(dtype=np.float64)
            for date, old, new in zip(chain.rolls["date"], chain.rolls["old"], chain.rolls["new"]):
                row = int(md.dates.get_loc(date))
                mask = roll_rows.setdefault(row, np.zeros(len(futures), dtype=bool))
                mask[n] = True
                legs = roll_legs.setdefault(row, (np.zeros(len(futures)), np.zeros(len(futures))))
                legs[0][n], legs[1][n] = multiplier[n] * old, multiplier[n] * new
        return cls(futures, info.margin.to_numpy(dtype=np.float64), trade_close, settle, fee_rate,
                   roll_rows, roll_legs)

    @property
    def has_futures(self) -> bool:
        """Whether any asset is a future."""
        return bool(self.futures.any())

    def book_price(self, value_price: np.ndarray) -> np.ndarray:
        """(T, N) the price the book's cash and NAV see: 0 for futures (settled daily), else ``value_price``."""
        out = value_price.copy()
        out[:, self.futures] = 0.0
        return out

    def settle_day(self, book, row: int, value_price: np.ndarray) -> None:
        """Settle ``row`` into the book's cash before its NAV: variation margin and accrued fees."""
        settle_day_nb(book.holdings, book.cash, self.settle[row], self.fee_rate, value_price, book.fees[row])

    def roll(self, book, row: int, cost_models, group_rows, context) -> dict:
        """Charge ``row``'s rolls (their two legs, each priced by its group's cost model); the diagnostics."""
        rolling = self.roll_rows.get(row)
        if rolling is None:
            return {}
        old, new = (np.where(rolling, leg, 1.0) for leg in self.roll_legs[row])  # no zero price outside the rolls
        contracts = np.where(rolling[None, :], book.holdings, 0.0)
        cost = np.zeros(len(book.cash))
        for model, rows in zip(cost_models, group_rows):
            held = contracts[rows]
            legs = (model(-held * old, -held, old, context) + model(held * new, held, new, context))
            cost[rows] = np.where(rolling[None, :] & (held != 0), legs, 0.0).sum(axis=1)
        book.cash -= cost
        book.fees[row] += cost
        return {"rolled_futures": (contracts != 0).sum(axis=1), "roll_cost": cost}

    def posted_margin(self, holdings: np.ndarray, notional: np.ndarray) -> np.ndarray:
        """(B,) initial margin of ``holdings`` at ``notional`` (N,) per contract."""
        return (np.abs(holdings) * np.where(self.futures, notional * self.margin, 0.0)).sum(axis=1)

    def fill(self, broker, group: int, book, rows, row: int, targets: np.ndarray, execution, value_price,
             trade: np.ndarray) -> tuple:
        """Group ``group``'s fill at ``row`` (see the module docstring): the margin of the futures'
        targets is set aside, the other assets fill through ``broker`` on the rest of the cash, then
        the futures trade, scaled to the margin room left. Returns the combined Fill (every scenario
        planned; the caller keeps those in ``trade`` (B_g,)) and its diagnostics."""
        notional = value_price
        holdings, nav = book.holdings[rows], book.nav[row, rows]
        posted = self.posted_margin(holdings, notional)
        wanted = self._futures_delta(holdings, nav, row, targets, execution)
        reserve = self.posted_margin(holdings + wanted, notional)
        hold_futures = np.where(self.futures[None, :], _weights(holdings, notional, nav), targets)
        free_book = _CashView(book.holdings, book.cash - _spread(reserve, rows, len(book.cash)), book.nav)
        others = _without_futures(broker.fill(group, free_book, rows, row, hold_futures), self.futures)
        cash_left = book.cash[rows] - (others.shares * notional).sum(axis=1) - others.cost.sum(axis=1)
        shares, cost, scale = self._fit_margin(broker, group, holdings, wanted, nav, row, cash_left, execution,
                                               notional)
        fill = Fill(shares=others.shares + shares, cost=others.cost + cost, buy_scale=others.buy_scale,
                    blocked=others.blocked | _blocked(self.futures, self.trade_close[row], targets, holdings),
                    unfilled=others.unfilled)
        diag = {"margin_scale": np.where(trade, scale, 1.0),
                "margin_shortfall": np.maximum(posted - book.cash[rows], 0.0)}
        return fill, diag

    def positions(self, holdings: np.ndarray, notional: np.ndarray) -> dict:
        """What a fill day reports of the futures held: posted margin and gross notional, (B,) each."""
        gross = (np.abs(holdings) * np.where(self.futures, notional, 0.0)).sum(axis=1)
        return {"futures_margin": self.posted_margin(holdings, notional), "futures_notional": gross}

    def _futures_delta(self, holdings, nav, row, targets, execution) -> np.ndarray:
        """(B, N) contracts to trade toward the target weights (0 outside the tradeable futures)."""
        price = self.trade_close[row]
        tradeable = self.futures & np.isfinite(price) & (price > 0)
        safe = np.where(tradeable, price, 1.0)
        delta = round_lots(targets * nav[:, None] / safe - holdings, execution)
        delta = np.where(tradeable[None, :], delta, 0.0)
        return np.where(np.abs(delta * safe) <= DUST * np.abs(nav)[:, None], 0.0, delta)

    def _fit_margin(self, broker, group, holdings, delta, nav, row, cash, execution, notional):
        """(shares, cost, scale): the trades that add to a position scaled down together so the
        margin after them fits ``cash`` plus the allowed borrowing, net of the trades' costs."""
        price = np.where(self.futures, notional, 1.0)
        adding = np.abs(holdings + delta) > np.abs(holdings)
        floor = self.posted_margin(holdings + np.where(adding, 0.0, delta), notional)
        full = self.posted_margin(holdings + delta, notional)
        cost = self._cost(broker, group, delta, price, row)
        room = cash + (execution.leverage - 1.0) * nav - cost.sum(axis=1)
        over = full > np.maximum(room, floor)
        scale = np.ones(len(nav))
        if over.any():
            scale = np.where(over, np.clip((room - floor) / np.where(over, full - floor, 1.0), 0.0, 1.0), 1.0)
            scaled = np.sign(delta) * round_down_lots(np.abs(delta) * scale[:, None], execution)
            delta = np.where(adding & over[:, None], scaled, delta)
            cost = self._cost(broker, group, delta, price, row)
        return delta, cost, scale

    def _cost(self, broker, group, delta, price, row) -> np.ndarray:
        """The group's cost model on the futures' traded notional (0 where nothing trades)."""
        if not delta.any():
            return np.zeros_like(delta)
        rate = broker.linear_rates[group]
        value = delta * price
        if rate is not None:
            return rate[:, None] * np.abs(value)
        cost = np.asarray(broker.cost_models[group](value, delta, price, broker.cost_inputs.context(row)), dtype=float)
        return np.where(delta != 0, cost, 0.0)


@dataclass(frozen=True)
class _CashView:
    """What the broker reads of a book, with the cash posted as margin set aside."""

    holdings: np.ndarray
    cash: np.ndarray
    nav: np.ndarray


def _spread(values: np.ndarray, rows, size: int) -> np.ndarray:
    out = np.zeros(size)
    out[rows] = values
    return out


def _weights(holdings: np.ndarray, price: np.ndarray, nav: np.ndarray) -> np.ndarray:
    value = holdings * price[None, :]
    return np.divide(value, nav[:, None], out=np.zeros_like(value), where=nav[:, None] != 0)


def _without_futures(fill: Fill, futures: np.ndarray) -> Fill:
    """``fill`` with its futures columns zeroed (they are held at their weights, so only dust remains)."""
    keep = ~futures[None, :]
    return Fill(shares=np.where(keep, fill.shares, 0.0), cost=np.where(keep, fill.cost, 0.0),
                buy_scale=fill.buy_scale, blocked=fill.blocked & keep, unfilled=np.where(keep, fill.unfilled, 0.0))


def _blocked(futures: np.ndarray, price: np.ndarray, targets: np.ndarray, holdings: np.ndarray) -> np.ndarray:
    untradeable = futures & ~(np.isfinite(price) & (price > 0))
    return untradeable[None, :] & ((targets != 0) | (holdings != 0))
