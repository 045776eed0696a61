"""The sleeves of a multi-strategy book, labelled: their NAVs, weights, costs and attribution.

Definitions in :mod:`simlab.engine.sleeves`. Every table has one column per (scenario,
sleeve) pair (a two-level column index), or per scenario for what belongs to the book.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from simlab.engine.sleeves import SleeveRun


class Sleeves:
    """What each sleeve of a finished book did (``Result.sleeves``)."""

    def __init__(self, replay, run: SleeveRun):
        self._replay = replay
        self._run = run
        self.names = run.layout.names
        self._span = replay._span
        self.dates = replay.dates
        self._columns = pd.MultiIndex.from_product([replay.scenarios, self.names], names=["scenario", "sleeve"])

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=self.dates, columns=self._columns)

    @cached_property
    def nav(self) -> pd.DataFrame:
        """Each sleeve's own NAV: its shadow book at its share of the capital."""
        return self._frame(self._run.book.nav[self._span])

    @cached_property
    def transfers(self) -> pd.DataFrame:
        """Money moved into each sleeve at each close by the sleeve weights (negative: out)."""
        return self._frame(self._run.allocation.transfers[self._span])

    @cached_property
    def returns(self) -> pd.DataFrame:
        """Each sleeve's daily simple return, transfers taken out; the first day from its starting capital."""
        nav = self._run.book.nav[self._span]
        start = self._replay.config.experiment.execution.init_cash * self._run.layout.fixed.ravel()
        before = np.vstack([start[None, :], nav[:-1]])
        moved = self._run.allocation.transfers[self._span]
        out = np.divide(nav - moved, before, out=np.ones_like(nav), where=before > 0) - 1.0
        return self._frame(out)

    @cached_property
    def weights(self) -> pd.DataFrame:
        """Each sleeve's share of the sleeves' capital (``NAV_k / sum_j NAV_j``) at each close."""
        nav = self._run.book.nav[self._span]
        n_scen, k = self._run.layout.fixed.shape
        total = np.repeat(nav.reshape(len(nav), n_scen, k).sum(axis=2), k, axis=1)
        return self._frame(np.divide(nav, total, out=np.zeros_like(nav), where=total != 0))

    @cached_property
    def decided_weights(self) -> pd.DataFrame:
        """The sleeve weights set at each decision (the fixed ones, or the allocator's), indexed by decision date."""
        alloc = self._run.allocation
        if not alloc.rows:
            return pd.DataFrame(columns=self._columns, dtype=float)
        values = np.stack([w.ravel() for w in alloc.weights])
        index = pd.DatetimeIndex(self._replay._inputs.dates[alloc.rows], name="date")
        return pd.DataFrame(values, index=index, columns=self._columns)

    @cached_property
    def costs(self) -> pd.DataFrame:
        """Money each sleeve paid in costs per day (its own trades' costs plus its holding costs)."""
        return self._frame(self._run.sleeve_cost[self._span] + self._run.book.fees[self._span])

    @cached_property
    def netting_saving(self) -> pd.DataFrame:
        """Per day and scenario, the sleeves' fill costs minus the book's cost of their net trade."""
        return self._replay._frame(self._run.saving[self._span])

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Each sleeve's own fills (the book's are ``Result.trades``), with a ``sleeve`` column."""
        rec = self._run.recorder
        if not rec.fills:
            return pd.DataFrame(columns=["date", "scenario", "sleeve", "asset", "shares", "price", "value", "cost",
                                         "reason"])
        k = len(self.names)
        scen = np.concatenate([f.scenario for f in rec.fills])
        rows = np.concatenate([np.full(len(f.shares), f.row) for f in rec.fills])
        shares = np.concatenate([f.shares for f in rec.fills])
        price = np.concatenate([f.price for f in rec.fills])
        return pd.DataFrame({
            "date": self._replay._inputs.dates[rows],
            "scenario": np.asarray(self._replay.scenarios, dtype=object)[scen // k],
            "sleeve": np.asarray(self.names, dtype=object)[scen % k],
            "asset": np.asarray(self._replay.assets, dtype=object)[np.concatenate([f.asset for f in rec.fills])],
            "shares": shares, "price": price, "value": shares * price,
            "cost": np.concatenate([f.cost for f in rec.fills]),
            "reason": np.concatenate([np.full(len(f.shares), f.reason, dtype=object) for f in rec.fills]),
        })

    def attribution(self) -> pd.DataFrame:
        """Where each scenario's profit came from: one row per (scenario, part), parts the sleeves and ``netting``.

        Columns: ``capital`` (the part's starting capital), ``transfers_in`` (capital moved in by
        the sleeve weights), ``pnl`` (end NAV - capital - transfers in; for ``netting``, the
        saving), ``costs`` (fill and holding costs paid; for ``netting``, minus the saving),
        ``contribution`` (pnl as a fraction of the book's starting capital). The parts' ``pnl``
        sums to the book's (end NAV - starting capital) and their ``contribution`` to its total return.
        """
        init_cash = self._replay.config.experiment.execution.init_cash
        capital = init_cash * self._run.layout.fixed.ravel()
        end = self.nav.iloc[-1].to_numpy()
        moved = self.transfers.sum().to_numpy()
        pnl = end - capital - moved
        costs = self.costs.sum().to_numpy()
        rows = []
        for b, scenario in enumerate(self._replay.scenarios):
            for j, name in enumerate(self.names):
                i = b * len(self.names) + j
                rows.append((scenario, name, capital[i], moved[i], pnl[i], costs[i], pnl[i] / init_cash))
            saving = float(self.netting_saving[scenario].sum())
            rows.append((scenario, "netting", 0.0, 0.0, saving, -saving, saving / init_cash))
        frame = pd.DataFrame(rows, columns=["scenario", "part", "capital", "transfers_in", "pnl", "costs",
                                            "contribution"])
        return frame.set_index(["scenario", "part"])

    def __repr__(self) -> str:
        return f"Sleeves({', '.join(self.names)}: {len(self._replay.scenarios)} scenario(s))"
