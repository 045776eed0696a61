"""A fill day in one compiled call per group, for the common case.

When every group's cost model is linear in traded value and nothing else acts on a fill
(no participation cap, no realized-cost model, no futures or accruing instruments, no
margin or restricted names, no cost model learning from its fills), a fill day is: plan
each group's trades, book them, record them. :class:`LinearFillDay` does the three in
:func:`simlab.kernels.fill_book.fill_book_nb`, with the same bits as the general path in
:class:`simlab.engine.simulate.EventLoop` (which it replaces only where it applies).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.engine.record import FillRecord
from simlab.execution.orders import Order
from simlab.kernels.fill_book import fill_book_nb

# a call with no books only closes the day
_NO_ROWS, _NO_TRADE, _NO_RATE = np.empty(0, dtype=np.int64), np.empty(0, dtype=bool), np.empty(0)


@dataclass(frozen=True)
class LinearFillDay:
    """The run's constants for :meth:`fill`: per group its rows and cost rates, the execution rules."""

    rows: tuple  # per group, (B_g,) int64 positions in the batch
    rates: tuple  # per group, (B_g,) float64 cost per unit of traded value
    fractional: bool
    lot_size: float
    min_trade_value: float
    leverage: float
    no_cap: np.ndarray  # (N,) inf: no participation cap
    one_group: bool  # the batch is one group: a fill day is one compiled call

    @classmethod
    def build(cls, loop) -> LinearFillDay | None:
        """The fast fill of ``loop`` (an EventLoop), or None when something beyond a linear cost acts."""
        broker, exe = loop.broker, loop.exe
        if (loop.instruments is not None or loop.book_rules or broker.realized is not None or broker.capped
                or any(rate is None for rate in broker.linear_rates) or any(h is not None for h in broker.histories)):
            return None
        rows = tuple(np.ascontiguousarray(g.rows, dtype=np.int64) for g in loop.groups)
        rates = tuple(np.ascontiguousarray(r, dtype=np.float64) for r in broker.linear_rates)
        return cls(rows, rates, bool(exe.fractional), float(exe.lot_size), float(exe.min_trade_value),
                   float(exe.leverage), np.full(len(loop.inputs.assets), np.inf),
                   len(loop.groups) == 1 and loop.groups[0].whole)

    def fill(self, loop, row: int, order: Order) -> None:
        """Fill ``order`` at ``row``'s close, book it, revalue the day and record it all on ``loop``."""
        b, rec = loop.book, loop.rec
        price = loop.inputs.value_price[row]
        tradeable = loop.inputs.tradeable[row]
        order_targets = np.ascontiguousarray(order.targets)
        if order.target_shares is not None and order.carried.any():  # a rest the participation cap left
            targets, reason = np.ascontiguousarray(order.targets_at(b.holdings, b.nav[row], price)), order.reason
        else:
            targets, reason = order_targets, "rebalance"
        day = (loop.peak_before, b.peak_nav, order.trade, order.carried, order.decided, order_targets,
               np.ascontiguousarray(order.signal), b.last_rebalance, b.last_targets, b.last_signal)
        if self.one_group and np.count_nonzero(order.trade):  # the whole day in one call
            self._record(rec, row, loop.groups[0], reason, *fill_book_nb(
                b.holdings, b.cash, b.nav, row, price, tradeable, targets, self.rows[0], order.trade, self.rates[0],
                self.fractional, self.lot_size, self.min_trade_value, self.leverage, self.no_cap, True, *day))
        else:
            all_trade = order.all_trade
            for k, g in enumerate(loop.groups):
                trade = order.trade if g.whole else order.trade[g.rows]
                if not all_trade and not trade.any():
                    continue
                self._record(rec, row, g, reason, *fill_book_nb(
                    b.holdings, b.cash, b.nav, row, price, tradeable, targets, self.rows[k], trade, self.rates[k],
                    self.fractional, self.lot_size, self.min_trade_value, self.leverage, self.no_cap, False, *day))
            fill_book_nb(b.holdings, b.cash, b.nav, row, price, tradeable, targets, _NO_ROWS, _NO_TRADE, _NO_RATE,
                         self.fractional, self.lot_size, self.min_trade_value, self.leverage, self.no_cap, True, *day)
        rec.snapshot(row, b.holdings)

    @staticmethod
    def _record(rec, row: int, g, reason: str, positions, trades, per_book, blocked) -> None:
        """One group's trades and the fill's figures per scenario, as the general path records them."""
        rec.fills.append(FillRecord.of_trades(row, positions, trades, reason))
        rec.diag(row, g.rows, "engine", {"buy_scale": per_book[0], "blocked_orders": blocked, "cost": per_book[1]})
