"""Orders waiting for their fill day.

An order says, per scenario, whether it trades at all (a Step may hold a scenario) and
where to: the target weights of a decision taken at the close of ``decided``, or, for a
trade the participation cap left partly unfilled, the holdings in shares it still aims at
(``carried``). A newer order takes over, scenario by scenario, from an older one due the
same day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Order:
    """What to trade on a fill day; every array has the batch axis B first."""

    decided: np.ndarray  # (B,) decision row
    targets: np.ndarray  # (B, N) target weights (rows of decisions)
    trade: np.ndarray  # (B,) bool, the scenarios this order trades
    signal: np.ndarray  # (B, N) signal at the decision (NaN without a strategy)
    carried: np.ndarray  # (B,) bool, the scenario aims at target_shares instead
    target_shares: np.ndarray | None  # (B, N) holdings a carried rest aims at (None: none carried)

    @classmethod
    def decision(cls, row: int, targets: np.ndarray, trade: np.ndarray, signal: np.ndarray) -> Order:
        """Target weights decided at the close of ``row`` (nothing carried), built without the frozen
        ``__init__``'s one ``__setattr__`` per field (the engine makes one per decision)."""
        n_scen = len(trade)
        decided = np.empty(n_scen, dtype=np.int64)
        decided.fill(row)
        order = object.__new__(cls)
        order.__dict__.update(decided=decided, targets=targets, trade=trade, signal=signal,
                              carried=np.zeros(n_scen, dtype=bool), target_shares=None)
        return order

    @classmethod
    def rest(cls, row: int, holdings: np.ndarray, unfilled: np.ndarray, trade: np.ndarray) -> Order:
        """Retry the ``unfilled`` shares of a fill on ``row``: aim at holdings + unfilled."""
        n_scen = len(trade)
        return cls(np.full(n_scen, row), np.zeros_like(holdings), trade, np.full(holdings.shape, np.nan),
                   trade.copy(), holdings + unfilled)

    def unfilled_rest(self, row: int, holdings: np.ndarray, unfilled: np.ndarray) -> Order | None:
        """What this order's fill on ``row`` left ``unfilled`` (B, N), to retry; None if nothing."""
        left = (unfilled != 0).any(axis=1) & self.trade
        return Order.rest(row, holdings, unfilled, left) if left.any() else None

    @property
    def all_trade(self) -> bool:
        """Every scenario trades (the common case, checked once per order)."""
        return bool(self.trade.all())

    @property
    def reason(self) -> str:
        """The reason recorded with this order's fills."""
        return "carried" if self.carried[self.trade].all() else "rebalance"

    def targets_at(self, holdings: np.ndarray, nav: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Target weights (B, N) on the fill day; a carried rest is valued at the day's prices."""
        if not self.carried.any():
            return self.targets
        value = self.target_shares * price[None, :]
        carried_w = np.divide(value, nav[:, None], out=np.zeros_like(value), where=nav[:, None] != 0)
        return np.where(self.carried[:, None], carried_w, self.targets)

    def superseded_by(self, newer: Order) -> Order:
        """This order, with ``newer`` taking over the scenarios it trades."""
        take = newer.trade
        pick = lambda new, old: np.where(take.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)  # noqa: E731
        shares = [o.target_shares if o.target_shares is not None else np.zeros_like(o.targets) for o in (newer, self)]
        return Order(
            decided=pick(newer.decided, self.decided), targets=pick(newer.targets, self.targets),
            trade=self.trade | take, signal=pick(newer.signal, self.signal),
            carried=pick(newer.carried, self.carried), target_shares=pick(*shares),
        )

    def book_keeping(self, book) -> None:
        """Record each freshly decided, traded scenario's last rebalance row, targets and signal."""
        fresh = self.trade & ~self.carried
        if fresh.all():
            book.last_rebalance[:] = self.decided
            book.last_targets[:] = self.targets
            book.last_signal[:] = self.signal
            return
        book.last_rebalance[fresh] = self.decided[fresh]
        book.last_targets[fresh] = self.targets[fresh]
        book.last_signal[fresh] = self.signal[fresh]
