"""The book: holdings, cash, NAV and peak NAV of B scenarios, and how fills and days move it.

State is plain arrays owned by the run (Steps hold configuration only). Between fills the
daily accounting kernel (:mod:`simlab.kernels.accounting`) advances it; on a fill day the
fill's shares and costs are booked and the day's NAV is valued again at the fill prices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.execution.fills import Fill
from simlab.kernels.accounting import book_values_nb, book_weights_nb, mark_to_market_financed_nb

NO_CASH_RATES = np.zeros((0, 2))  # cash_rates of a book whose cash is not financed


@dataclass
class Book:
    """Mutable state of the batch: (B, N) holdings, (B,) cash and peak NAV, (T, B) NAV."""

    holdings: np.ndarray
    cash: np.ndarray
    peak_nav: np.ndarray
    nav: np.ndarray
    fees: np.ndarray  # (T, B) holding costs (borrow fees) charged each day
    financing: np.ndarray  # (T, B) interest on cash each day (earned positive, paid negative)
    last_rebalance: np.ndarray  # (B,) decision row of the last executed rebalance, -1 if none
    last_targets: np.ndarray  # (B, N) its target weights
    last_signal: np.ndarray  # (B, N) the signal it was decided on (NaN without a strategy)

    @classmethod
    def empty(cls, n_days: int, n_scenarios: int, n_assets: int, init_cash: float) -> Book:
        """All cash, NaN NAV until the simulation writes it."""
        return cls(
            holdings=np.zeros((n_scenarios, n_assets)),
            cash=np.full(n_scenarios, float(init_cash)),
            peak_nav=np.full(n_scenarios, float(init_cash)),
            nav=np.full((n_days, n_scenarios), np.nan),
            fees=np.zeros((n_days, n_scenarios)),
            financing=np.zeros((n_days, n_scenarios)),
            last_rebalance=np.full(n_scenarios, -1, dtype=np.int64),
            last_targets=np.zeros((n_scenarios, n_assets)),
            last_signal=np.full((n_scenarios, n_assets), np.nan),
        )

    def weights(self, row: int, price: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """End-of-day weights (B, N) at ``row`` given valuation prices (N,) (no NaN)."""
        if isinstance(rows, slice) and rows == slice(None):
            return book_weights_nb(self.holdings, price, self.nav[row])
        value = self.holdings[rows] * price[None, :]
        nav = self.nav[row, rows][:, None]
        if nav.all():
            return value / nav
        return np.divide(value, nav, out=np.zeros_like(value), where=nav != 0)

    def mark_to_market(self, price: np.ndarray, delist_row: np.ndarray, start: int, stop: int,
                       delisted: np.ndarray, borrow_rate: np.ndarray, cash_rates: np.ndarray | None = None,
                       accrue_from: int = 0) -> int:
        """Advance rows ``start .. stop - 1`` at ``price`` (T, N); the number of positions delisted.

        NAV, peak NAV and borrow fees are written for each row; a position closed by a
        delisting (``delist_row`` (N,)) is added to ``delisted`` (B, N). ``borrow_rate`` (B, N)
        is the daily fee per unit of short value, or (0, 0) for none. ``cash_rates`` (B, 2)
        are the daily interest rates on negative and positive cash (None: no financing),
        accrued from row ``accrue_from`` on into :attr:`financing`.
        """
        if cash_rates is None:  # as mark_to_market_nb, without compiling that wrapper too
            return mark_to_market_financed_nb(self.holdings, self.cash, price, delist_row, start, stop, self.nav,
                                              self.peak_nav, delisted, borrow_rate, self.fees, NO_CASH_RATES, self.fees,
                                              stop)
        return mark_to_market_financed_nb(self.holdings, self.cash, price, delist_row, start, stop, self.nav,
                                          self.peak_nav, delisted, borrow_rate, self.fees, cash_rates,
                                          self.financing, accrue_from)

    def book_fill(self, rows: np.ndarray | slice, fill: Fill, price: np.ndarray) -> None:
        """Add ``fill``'s shares to the holdings of ``rows`` and pay for them (and their costs) in cash."""
        self.holdings[rows] += fill.shares
        self.cash[rows] -= (fill.shares * price).sum(axis=1) + fill.cost.sum(axis=1)  # row sums: batch-independent

    def revalue(self, row: int, price: np.ndarray, peak_before: np.ndarray) -> None:
        """NAV at ``row`` after its fills, at ``price`` (N,); the peak from ``peak_before`` (B,) and it."""
        book_values_nb(self.holdings, self.cash, price, self.nav[row])
        np.maximum(peak_before, self.nav[row], out=self.peak_nav)
