"""The book: holdings, cash, NAV and peak NAV of B scenarios, and what happened to them.

State is plain arrays owned by the engine (Steps hold configuration only). The recorder
keeps what a Result needs, as arrays; labels go on in :mod:`simlab.engine.result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Book:
    """Mutable state of the batch: (B, N) holdings, (B,) cash and peak NAV, (T, B) NAV."""

    holdings: np.ndarray
    cash: np.ndarray
    peak_nav: np.ndarray
    nav: np.ndarray
    fees: np.ndarray  # (T, B) holding costs (borrow fees) charged each day
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
            last_rebalance=np.full(n_scenarios, -1, dtype=np.int64),
            last_targets=np.zeros((n_scenarios, n_assets)),
            last_signal=np.full((n_scenarios, n_assets), np.nan),
        )

    def weights(self, row: int, price: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """End-of-day weights (B, N) at ``row`` given valuation prices (N,) (no NaN)."""
        value = self.holdings[rows] * price[None, :]
        nav = self.nav[row, rows][:, None]
        if nav.all():
            return value / nav
        return np.divide(value, nav, out=np.zeros_like(value), where=nav != 0)


@dataclass(frozen=True)
class FillRecord:
    """The trades of one fill day, kept sparse: one entry per traded (scenario, asset)."""

    row: int
    scenario: np.ndarray  # (K,) positions in the batch axis
    asset: np.ndarray  # (K,) positions in the asset axis
    shares: np.ndarray  # (K,) signed shares
    price: np.ndarray  # (K,) fill prices
    cost: np.ndarray  # (K,) money paid

    reason: str = "rebalance"


@dataclass
class Recorder:
    """Append-only logs: holdings snapshots, fills, and Step diagnostics."""

    snapshot_rows: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    fills: list = field(default_factory=list)  # FillRecord per fill day, sparse
    diagnostics: list = field(default_factory=list)  # (row, scenario rows, step label, dict)

    def snapshot(self, row: int, holdings: np.ndarray) -> None:
        """Holdings in force from the close of ``row`` on."""
        if self.snapshot_rows and self.snapshot_rows[-1] == row:
            self.snapshots[-1] = holdings.copy()
        else:
            self.snapshot_rows.append(row)
            self.snapshots.append(holdings.copy())

    def fill(self, row: int, shares: np.ndarray, price: np.ndarray, cost: np.ndarray, reason: str,
             scenario_rows: np.ndarray | None = None) -> None:
        """One fill day's trades; ``shares``/``cost`` (B_g, N) for ``scenario_rows`` (default all)."""
        b, n = np.nonzero(shares)
        rows = b if scenario_rows is None else np.asarray(scenario_rows)[b]
        self.fills.append(FillRecord(row, rows, n, shares[b, n], price[n], cost[b, n], reason))

    def diag(self, row: int, scenario_rows: np.ndarray, step: str, values: dict) -> None:
        """One Step's diagnostics for a group of scenarios."""
        if values:
            self.diagnostics.append((row, scenario_rows, step, values))
