"""Replay: the one place labels go back on the engine's arrays.

Tables are built when first asked for and cached, so a sweep that only needs NAVs
never pays for a (T, B, N) weights cube or a long diagnostics table. What a researcher
gets back is :class:`simlab.lab.result.Result`, a Replay with its metrics and run folder.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from simlab.config.loader import Config
from simlab.contract.roles import role_of
from simlab.data.market import MarketData

TRADE_COLUMNS = ["date", "scenario", "asset", "shares", "price", "value", "cost", "reason"]
_GROSS_BLOCK = 1 << 18  # holdings values stacked at a time for the gross exposure
DIAG_COLUMNS = ["date", "scenario", "step", "key", "role", "asset", "value"]


class Replay:
    """A finished replay: the portfolio's path, its trades and its decisions, labelled."""

    def __init__(self, config: Config, md: MarketData, inputs, book, recorder, sleeve_run=None):
        self.config = config
        self._sleeve_run = sleeve_run
        self.market = md
        self._inputs = inputs
        self._book = book
        self._rec = recorder
        self.scenarios = tuple(s.name for s in config.scenarios)
        self.assets = tuple(inputs.assets)
        self._span = slice(inputs.first, inputs.last + 1)
        self.dates = inputs.dates[self._span]

    @cached_property
    def nav(self) -> pd.DataFrame:
        """Portfolio value at each close; index date, one column per scenario."""
        return self._frame(self._book.nav[self._span])

    @cached_property
    def returns(self) -> pd.DataFrame:
        """Daily simple returns; the first day is measured from the initial cash."""
        nav = self._book.nav[self._span]
        prev = np.vstack([np.full((1, nav.shape[1]), self.config.experiment.execution.init_cash), nav[:-1]])
        return self._frame(nav / prev - 1.0)

    @cached_property
    def sleeves(self):
        """The sleeves of a multi-strategy book (:class:`simlab.engine.sleeve_result.Sleeves`), or None."""
        if self._sleeve_run is None:
            return None
        from simlab.engine.sleeve_result import Sleeves

        return Sleeves(self, self._sleeve_run)

    @cached_property
    def benchmark(self) -> pd.Series | None:
        """Benchmark level over the simulated dates, or None."""
        if self.market.benchmark is None:
            return None
        return self.market.benchmark.iloc[self._span]

    @cached_property
    def benchmark_returns(self) -> pd.Series | None:
        """Benchmark daily simple returns, 0 on the first simulated day."""
        if self.benchmark is None:
            return None
        level = self.market.benchmark
        rets = level.pct_change(fill_method=None).iloc[self._span].copy()
        rets.iloc[0] = 0.0
        return rets

    @cached_property
    def gross_exposure(self) -> pd.DataFrame:
        """End-of-day gross exposure ``sum |weight|`` (date x scenario), without building the
        (date, scenario, asset) weights: one product per holdings snapshot."""
        rows = np.asarray(self._rec.snapshot_rows)
        days = np.arange(self._span.start, self._span.stop)
        idx = np.searchsorted(rows, days, side="right") - 1
        price = self._inputs.value_price[self._span]  # finite: NaN and inf already replaced
        nav = self._book.nav[self._span]
        value = np.zeros(nav.shape)
        # idx is sorted: each snapshot in force holds for one contiguous block of days
        snaps, starts = np.unique(idx, return_index=True)
        spans = list(zip(starts.tolist(), starts[1:].tolist() + [len(idx)]))
        per_block = max(1, _GROSS_BLOCK // max(1, self._rec.snapshots[0].size)) if len(snaps) else 1
        for first in range(0, len(snaps), per_block):
            chosen = snaps[first : first + per_block].tolist()
            held = np.stack([self._rec.snapshots[s] for s in chosen])  # a copy: made absolute in place
            if not np.isfinite(held).all():
                held = np.nan_to_num(held)
            np.abs(held, out=held)
            for j, (lo, hi) in enumerate(spans[first : first + per_block]):
                np.matmul(price[lo:hi], held[j].T, out=value[lo:hi])  # (days, scenarios)
        held_nav = nav != 0
        gross = np.divide(value, nav, out=value, where=held_nav)  # in place: no third (days, scenarios) array
        gross[~held_nav] = 0.0
        return pd.DataFrame(gross, index=self.dates, columns=pd.Index(list(self.scenarios), name="scenario"))

    def holdings_snapshots(self) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
        """What the weights are made of, without building them: the holdings snapshots (each
        (scenario, asset) shares; read them, do not change them), which one is in force at
        each date's close (T,), the valuation prices (T, asset) and the NAV (T, scenario).
        A date's weights are ``snapshot * price / nav`` (0 where ``nav`` is 0), as :attr:`weights`."""
        rows = np.asarray(self._rec.snapshot_rows)
        idx = np.searchsorted(rows, np.arange(self._span.start, self._span.stop), side="right") - 1
        if len(idx) and idx[0] < 0:
            raise RuntimeError(f"no holdings snapshot at or before the first date ({self.dates[0].date()})")
        return self._rec.snapshots, idx, self._inputs.value_price[self._span], self._book.nav[self._span]

    @cached_property
    def weights(self) -> xr.DataArray:
        """End-of-day weights, dims (date, scenario, asset)."""
        return self.weights_of(slice(None))

    def weights_of(self, scenarios: slice) -> xr.DataArray:
        """End-of-day weights of the scenarios ``scenarios`` (a slice of the scenario axis),
        as :attr:`weights` has them, without building the whole cube; not cached."""
        rows = np.asarray(self._rec.snapshot_rows)
        idx = np.searchsorted(rows, np.arange(self._span.start, self._span.stop), side="right") - 1
        holdings = np.stack([snap[scenarios] for snap in self._rec.snapshots])[idx]
        price = self._inputs.value_price[self._span][:, None, :]
        nav = self._book.nav[self._span][:, scenarios, None]
        data = np.divide(holdings * price, nav, out=np.zeros(holdings.shape), where=nav != 0)
        return xr.DataArray(
            data, dims=("date", "scenario", "asset"),
            coords={"date": self.dates, "scenario": list(self.scenarios)[scenarios], "asset": list(self.assets)},
            name="weight",
        )

    @cached_property
    def trades(self) -> pd.DataFrame:
        """One row per fill: date, scenario, asset, shares, price, value, cost, reason.

        With a realized-cost model (``realized_costs``), two more columns: ``estimated_cost``
        (what the decision's cost model assumed) and ``realized_cost`` (= ``cost``, paid).
        """
        fills = self._rec.fills
        with_estimates = self.config.experiment.realized_costs is not None
        columns = TRADE_COLUMNS + (["estimated_cost", "realized_cost"] if with_estimates else [])
        if not fills:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        rows = np.concatenate([np.full(len(f.shares), f.row) for f in fills])
        shares = np.concatenate([f.shares for f in fills])
        price = np.concatenate([f.price for f in fills])
        cost = np.concatenate([f.cost for f in fills])
        frame = pd.DataFrame({
            "date": self._inputs.dates[rows],
            "scenario": np.asarray(self.scenarios, dtype=object)[np.concatenate([f.scenario for f in fills])],
            "asset": np.asarray(self.assets, dtype=object)[np.concatenate([f.asset for f in fills])],
            "shares": shares,
            "price": price,
            "value": shares * price,
            "cost": cost,
            "reason": np.concatenate([np.full(len(f.shares), f.reason, dtype=object) for f in fills]),
        })
        if with_estimates:
            frame["estimated_cost"] = np.concatenate(
                [f.cost if f.estimated_cost is None else f.estimated_cost for f in fills])
            frame["realized_cost"] = cost
        return frame

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """Long table: date, scenario, step, key, role (the key's declared role, None if none),
        asset (None for per-scenario values), value."""
        names = np.asarray(self.scenarios, dtype=object)
        assets = np.asarray(self.assets, dtype=object)
        cols: dict[str, list] = {c: [] for c in DIAG_COLUMNS}
        roles: dict = {}
        for row, rows, step, values, step_class in self._rec.diagnostics:
            date = self._inputs.dates[row]
            for key, value in values.items():
                if (step_class, key) not in roles:
                    role = role_of(step_class, key)
                    roles[step_class, key] = None if role is None else str(role)
                _diag_columns(cols, date, names[rows], assets, step, key, roles[step_class, key], value)
        if not cols["value"]:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in DIAG_COLUMNS})
        out = {c: np.concatenate(parts) for c, parts in cols.items()}
        frame = pd.DataFrame(out)
        frame["date"] = pd.DatetimeIndex(frame["date"])
        return frame

    def trades_per_fill(self) -> tuple[np.ndarray, np.ndarray]:
        """Per recorded fill (a fill day's group, a delisting), in the order of :attr:`trades`: its row
        in the data's dates (K,), and how many trades each scenario made in it (K, scenario)."""
        fills = self._rec.fills
        rows = np.array([f.row for f in fills], dtype=np.int64)
        counts = np.zeros((len(fills), len(self.scenarios)), dtype=np.int64)
        for k, f in enumerate(fills):
            if len(self.scenarios) == 1:
                counts[k, 0] = len(f.scenario)
            else:
                counts[k] = np.bincount(f.scenario, minlength=len(self.scenarios))
        return rows, counts

    def diagnostic_records(self) -> list:
        """The recorded diagnostics, in the order of :attr:`diagnostics`: ``(row, scenario positions,
        step label, {key: value}, step class or None)`` per Step call (read them, do not change them)."""
        return self._rec.diagnostics

    def daily_traded_value(self) -> pd.DataFrame:
        """Sum of absolute traded value per day and scenario (rebalances and delistings)."""
        return self._daily_sum(lambda f: np.abs(f.shares * f.price))

    def daily_costs(self) -> pd.DataFrame:
        """Money paid in costs per day and scenario: fill costs plus holding costs (borrow fees)."""
        return self._daily_sum(lambda f: f.cost) + self._book.fees[self._span]

    def daily_financing(self) -> pd.DataFrame:
        """Interest on cash per day and scenario (``execution.cash_credit_rate`` earned on
        positive cash, positive; ``cash_borrow_rate`` paid on negative cash, negative); zeros
        when cash is not financed."""
        return self._frame(self._book.financing[self._span])

    def _daily_sum(self, amount) -> pd.DataFrame:
        out = np.zeros((len(self.dates), len(self.scenarios)))
        for f in self._rec.fills:
            np.add.at(out, (f.row - self._span.start, f.scenario), amount(f))
        return self._frame(out)

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=self.dates, columns=pd.Index(self.scenarios, name="scenario"))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.config.name!r}: {len(self.scenarios)} scenarios x {len(self.assets)} assets, "
                f"{self.dates[0].date()} .. {self.dates[-1].date()})")


def _diag_columns(cols: dict, date, scenario_names, assets, step, key, role, value) -> None:
    """Append one diagnostics entry, flattened to rows, to the column lists."""
    arr = np.asarray(value, dtype=float)
    n_scen = len(scenario_names)
    if arr.ndim == 2:
        n = arr.shape[0] * arr.shape[1]
        cols["scenario"].append(np.repeat(scenario_names, arr.shape[1]))
        cols["asset"].append(np.tile(assets, n_scen))
        cols["value"].append(arr.ravel())
    else:
        n = n_scen
        cols["scenario"].append(scenario_names)
        cols["asset"].append(np.full(n, None, dtype=object))
        cols["value"].append(np.broadcast_to(arr, (n_scen,)).astype(float))
    cols["date"].append(np.full(n, np.datetime64(date, "ns")))
    cols["step"].append(np.full(n, step, dtype=object))
    cols["key"].append(np.full(n, key, dtype=object))
    cols["role"].append(np.full(n, role, dtype=object))
