"""What happened to the book during a run: holdings snapshots, fills and diagnostics.

The recorder keeps what a Result needs, as arrays; labels go on in
:mod:`simlab.engine.result`. The book itself is :class:`simlab.execution.book.Book`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FillRecord:
    """The trades of one fill day, kept sparse: one entry per traded (scenario, asset)."""

    row: int
    scenario: np.ndarray  # (K,) int32 positions in the batch axis
    asset: np.ndarray  # (K,) int32 positions in the asset axis
    shares: np.ndarray  # (K,) signed shares
    price: np.ndarray  # (K,) fill prices
    cost: np.ndarray  # (K,) money paid (realized)

    reason: str = "rebalance"
    estimated_cost: np.ndarray | None = None  # (K,) what the decision's cost model assumed; None: = cost

    @classmethod
    def of_trades(cls, row: int, positions: np.ndarray, trades: np.ndarray, reason: str) -> FillRecord:
        """The record of ``positions`` (2, K) (scenario, asset) and ``trades`` (3, K) (shares, price,
        cost), without an estimated cost, built without the frozen ``__init__``'s one ``__setattr__``
        per field (one per fill day)."""
        record = object.__new__(cls)
        record.__dict__.update(row=row, scenario=positions[0], asset=positions[1], shares=trades[0], price=trades[1],
                               cost=trades[2], reason=reason, estimated_cost=None)
        return record


@dataclass
class Recorder:
    """Append-only logs: holdings snapshots, fills, and Step diagnostics."""

    snapshot_rows: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    fills: list = field(default_factory=list)  # FillRecord per fill day, sparse
    diagnostics: list = field(default_factory=list)  # (row, scenario rows, step label, dict, step class)

    def snapshot(self, row: int, holdings: np.ndarray) -> None:
        """Holdings in force from the close of ``row`` on."""
        if self.snapshot_rows and self.snapshot_rows[-1] == row:
            self.snapshots[-1] = holdings.copy()
        else:
            self.snapshot_rows.append(row)
            self.snapshots.append(holdings.copy())

    def fill(self, row: int, shares: np.ndarray, price: np.ndarray, cost: np.ndarray, reason: str,
             scenario_rows: np.ndarray | None = None, estimated_cost: np.ndarray | None = None) -> None:
        """One fill day's trades; ``shares``/``cost`` (B_g, N) for ``scenario_rows`` (default all);
        ``estimated_cost`` (B_g, N) when the realized cost differs from the decision's estimate."""
        b, n = np.nonzero(shares)
        rows = b if scenario_rows is None else np.asarray(scenario_rows)[b]
        est = None if estimated_cost is None else estimated_cost[b, n]
        self.fills.append(FillRecord(row, rows.astype(np.int32), n.astype(np.int32), shares[b, n], price[n], cost[b, n],
                                     reason, est))

    def diag(self, row: int, scenario_rows: np.ndarray, step: str, values: dict, step_class: type | None = None) -> None:
        """One Step's diagnostics for a group of scenarios; ``step_class`` declares their roles (None: none)."""
        if values:
            self.diagnostics.append((row, scenario_rows, step, values, step_class))
