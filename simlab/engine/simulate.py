"""The simulation loop: decide on schedule, fill after the lag, account every day.

For each event row in time order (a decision day, a fill day, a delisting):

1. the accounting kernel advances the book to that row's close;
2. orders due that day fill at its close (sells first, buys scaled to cash, costs paid);
3. on a decision day each group of scenarios runs its Steps on a point-in-time context,
   and the targets fill at row + lag (lag 0: at once, at this close).

Between events only the numba kernel runs, so a sweep of B scenarios costs one pass over
time. The strategy's causal signal panel is computed once, before the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.config import registry
from simlab.config.loader import Config
from simlab.data.market import MarketData, PointInTimeView
from simlab.engine.book import Book, Recorder
from simlab.engine.pipeline import Group, build_groups, distinct_strategies
from simlab.errors import DataError, StepError
from simlab.kernels.accounting import forward_fill_nb, mark_to_market_nb
from simlab.portfolio.orders import fill_linear, plan_fill
from simlab.portfolio.rebalance import schedule_rows
from simlab.portfolio.step import StepContext


@dataclass(frozen=True)
class Inputs:
    """Arrays the loop reads, computed once."""

    dates: pd.DatetimeIndex
    assets: tuple[str, ...]
    close: np.ndarray  # (T, N) raw, NaN where untradeable
    tradeable: np.ndarray  # (T, N) bool, a price that day
    price: np.ndarray  # (T, N) forward-filled, for valuation
    value_price: np.ndarray  # (T, N) forward-filled, 0 before listing (holdings there are 0)
    delist_row: np.ndarray  # (N,) row after the last price, -1 if none in range
    signals: np.ndarray  # (S, T, N) one panel per distinct strategy
    arrays: dict  # what the point-in-time view serves
    first: int  # first simulated row
    last: int  # last simulated row


def prepare(cfg: Config, md: MarketData) -> Inputs:
    """Arrays, signal panels and the simulated span for one run."""
    close = np.ascontiguousarray(md.close.to_numpy(dtype=np.float64))
    price = forward_fill_nb(close)
    first, last = _span(cfg, md.dates)
    configs, _ = distinct_strategies(list(cfg.scenarios))
    signals = np.stack([_signal(c, md) for c in configs]) if configs else np.empty((0,) + close.shape)
    arrays = {"close": close, "returns": md.returns().to_numpy(dtype=np.float64)}
    if md.benchmark is not None:
        arrays["benchmark"] = md.benchmark.to_numpy(dtype=np.float64)
    for a in arrays.values():
        a.flags.writeable = False
    return Inputs(md.dates, tuple(md.assets), close, np.isfinite(close), price, np.nan_to_num(price),
                  _delist_rows(close, last), signals, arrays, first, last)


def _span(cfg: Config, dates: pd.DatetimeIndex) -> tuple[int, int]:
    start, end = cfg.experiment.data.start, cfg.experiment.data.end
    first = 0 if start is None else int(dates.searchsorted(pd.Timestamp(start)))
    last = len(dates) - 1 if end is None else int(dates.searchsorted(pd.Timestamp(end), side="right")) - 1
    if first > last:
        raise DataError(f"data.start {start} .. data.end {end} holds no trading day of the data "
                        f"({dates[0].date()} .. {dates[-1].date()})")
    return first, last


def _signal(config: dict, md: MarketData) -> np.ndarray:
    strategy = registry.build("strategy", config)
    panel = strategy.signal(md)
    if panel.shape != md.close.shape:
        raise StepError(f"strategy {config['type']!r} returned shape {panel.shape}; expected {md.close.shape}")
    return panel.reindex(index=md.dates, columns=md.assets).to_numpy(dtype=np.float64)


def _delist_rows(close: np.ndarray, last: int) -> np.ndarray:
    finite = np.isfinite(close)
    n_rows = close.shape[0]
    last_price = n_rows - 1 - np.argmax(finite[::-1], axis=0)
    delist = np.where(finite.any(axis=0) & (last_price < last), last_price + 1, -1)
    return delist.astype(np.int64)


def simulate(cfg: Config, md: MarketData):
    """Run every scenario of ``cfg`` on ``md``; return the raw book and records."""
    inputs = prepare(cfg, md)
    scenarios = list(cfg.scenarios)
    _, strategy_index = distinct_strategies(scenarios)
    groups = build_groups(scenarios, strategy_index)
    exe = cfg.experiment.execution
    book = Book.empty(len(inputs.dates), len(scenarios), len(inputs.assets), exe.init_cash)
    rec = Recorder()
    loop = _Loop(cfg, md, inputs, groups, book, rec, tuple(s.name for s in scenarios))
    loop.run()
    return inputs, book, rec


class _Loop:
    """One run of the event loop; holds references, no logic beyond sequencing."""

    def __init__(self, cfg, md, inputs: Inputs, groups: list[Group], book: Book, rec: Recorder, names):
        self.cfg, self.md, self.inputs, self.groups, self.book, self.rec = cfg, md, inputs, groups, book, rec
        self.names = names
        self.exe = cfg.experiment.execution
        self.rng = np.random.default_rng(cfg.experiment.seed)
        self.delisted = np.zeros_like(book.holdings)
        self.pos = inputs.first

    def run(self) -> None:
        inp = self.inputs
        sched = self.cfg.experiment.schedule
        decisions = schedule_rows(inp.dates, sched.frequency, sched.day)
        decisions = decisions[(decisions >= inp.first) & (decisions <= inp.last)]
        lag = self.exe.lag
        delists = inp.delist_row[(inp.delist_row >= inp.first) & (inp.delist_row <= inp.last)]
        fills = decisions + lag
        events = np.unique(np.r_[decisions, fills[fills <= inp.last], delists])
        is_decision = np.isin(events, decisions)
        pending: dict[int, np.ndarray] = {}
        self.rec.snapshot(inp.first, self.book.holdings)
        for row, decide in zip(events.tolist(), is_decision.tolist()):
            self._advance(row)
            if row in pending:
                self._fill(row, pending.pop(row))
            if decide:
                targets = self._decide(row)
                if lag == 0:
                    self._fill(row, targets)
                elif row + lag <= inp.last:
                    pending[row + lag] = targets
        self._advance_to(inp.last + 1)

    def _advance_to(self, stop: int) -> None:
        b, inp = self.book, self.inputs
        if stop > self.pos:
            closed = mark_to_market_nb(b.holdings, b.cash, inp.value_price, inp.delist_row, self.pos, stop,
                                       b.nav, b.peak_nav, self.delisted)
            self.pos = stop
            if closed:
                self._record_delisting(stop - 1)

    def _advance(self, row: int) -> None:
        """Advance through ``row``'s close; keep the peak before it so a fill can correct it."""
        self._advance_to(row)
        self.peak_before = self.book.peak_nav.copy()
        self._advance_to(row + 1)

    def _record_delisting(self, row: int) -> None:
        closed = -self.delisted
        self.rec.fill(row, closed.copy(), self.inputs.value_price[row], np.zeros_like(closed), "delisted")
        self.rec.diag(row, np.arange(len(self.names)), "engine", {"delisted_positions": (closed != 0).sum(axis=1)})
        self.rec.snapshot(row, self.book.holdings)
        self.delisted[:] = 0.0

    def _fill(self, row: int, targets: np.ndarray) -> None:
        b, inp = self.book, self.inputs
        raw, safe = inp.close[row], inp.value_price[row]
        for g in self.groups:
            r = g.rows
            fill = self._plan(g, row, targets[r])
            b.holdings[r] += fill.shares
            b.cash[r] -= (fill.shares * safe).sum(axis=1) + fill.cost.sum(axis=1)
            self.rec.fill(row, _scatter(fill.shares, r, b.holdings.shape), safe, _scatter(fill.cost, r, b.holdings.shape), "rebalance")
            self.rec.diag(row, r, "engine", {"buy_scale": fill.buy_scale, "blocked_orders": fill.blocked.sum(axis=1), "cost": fill.cost.sum(axis=1)})
        b.nav[row] = b.cash + b.holdings @ safe
        b.peak_nav[:] = np.maximum(self.peak_before, b.nav[row])
        self.rec.snapshot(row, b.holdings)

    def _plan(self, g: Group, row: int, targets: np.ndarray):
        b, inp, r = self.book, self.inputs, g.rows
        rate = g.cost.linear_rate(len(r))
        if rate is None:
            return plan_fill(b.holdings[r], b.cash[r], b.nav[row, r], inp.close[row], targets, g.cost, self.exe)
        return fill_linear(b.holdings[r], b.cash[r], b.nav[row, r], inp.value_price[row], inp.tradeable[row],
                           np.ascontiguousarray(targets), rate, self.exe)

    def _decide(self, row: int) -> np.ndarray:
        inp, b = self.inputs, self.book
        view = PointInTimeView(inp.arrays, inp.dates, row)
        tradeable = inp.tradeable[row]
        targets = b.weights(row, inp.value_price[row])
        for g in self.groups:
            ctx = StepContext(
                t=row, date=inp.dates[row], view=view, assets=inp.assets, tradeable=tradeable,
                signal=None if g.strategy_index[0] < 0 else inp.signals[g.strategy_index, row],
                weights=targets[g.rows].copy(), nav=b.nav[row, g.rows].copy(), peak_nav=b.peak_nav[g.rows].copy(),
                meta=self.md.meta, scenarios=g.names, rng=self.rng,
            )
            targets[g.rows] = self._run_steps(g, ctx)
        return targets

    def _run_steps(self, g: Group, ctx: StepContext) -> np.ndarray:
        w = ctx.weights
        for step, label in zip(g.steps, g.step_labels):
            try:
                w, diag = step(w, ctx)
            except Exception as err:
                err.add_note(f"in step {label} ({step}) on {ctx.date.date()}")
                raise
            _check_weights(w, ctx, label)
            self.rec.diag(ctx.t, g.rows, label, diag)
        return w


def _scatter(values: np.ndarray, rows: np.ndarray, shape: tuple) -> np.ndarray:
    if len(rows) == shape[0]:
        return values
    out = np.zeros(shape)
    out[rows] = values
    return out


def _check_weights(w: np.ndarray, ctx: StepContext, label: str) -> None:
    if w.shape != ctx.weights.shape:
        raise StepError(f"step {label} on {ctx.date.date()} returned shape {w.shape}; expected {ctx.weights.shape}")
    bad = ~np.isfinite(w)
    if bad.any():
        b, n = np.argwhere(bad)[0]
        raise StepError(
            f"step {label} on {ctx.date.date()} returned a non-finite weight for asset "
            f"{ctx.assets[n]!r} in scenario {ctx.scenarios[b]!r}"
        )
