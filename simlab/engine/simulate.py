"""The simulation loop: decide on schedule, fill after the lag, account every day.

For each event row in time order (a decision day, a fill day, a delisting):

1. the accounting kernel advances the book to that row's close;
2. orders due that day fill at its close (sells first, buys scaled to cash, costs paid);
3. on a decision day each group of scenarios runs its Steps on a point-in-time context,
   and the targets fill at row + lag (lag 0: at once, at this close).

The loop only sequences: what a fill does (orders, lots, the participation cap, the cost
models' inputs, the book) is :mod:`simlab.execution`'s, built once per run and called here.

Between events only the numba kernel runs, so a sweep of B scenarios costs one pass over
time. The strategy's causal signal panel is computed once, before the loop.

Delisting is a data event: trailing NaN prices are the data's record that an asset stopped
trading on its first missing day, and a held position is closed then at its last price.
A NaN inside an asset's life is a day it does not trade (held, valued at its last price).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from simlab.config import registry
from simlab.config.loader import Config
from simlab.config.universe import asset_flags
from simlab.data.instruments import PERIODS
from simlab.data.market import MarketData, PointInTimeView
from simlab.contract.step import HOLD, StepContext
from simlab.engine.fill_day import LinearFillDay
from simlab.engine.pipeline import Group, build_groups, distinct_strategies
from simlab.engine.record import Recorder
from simlab.errors import DataError, StepError
from simlab.execution.book import NO_CASH_RATES, Book
from simlab.execution.broker import Broker, Prices
from simlab.execution.cost_inputs import borrow_rates, financing_rates
from simlab.execution.margin import margin_targets, restricted_targets
from simlab.execution.fills import fill_diagnostics
from simlab.execution.instruments import InstrumentBook
from simlab.execution.orders import Order
from simlab.features.base import FeatureInputs, FeatureTable
from simlab.kernels.accounting import advance_day_nb, book_weights_nb, forward_fill_nb
from simlab.portfolio.calendar import schedule_rows


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
    features: FeatureInputs  # what Features compute from
    instruments: InstrumentBook | None = None  # futures and accruing ETFs; None: every asset a cash equity
    trade_close: np.ndarray | None = None  # (T, N) fill prices where they differ from ``close`` (futures' notional)


def prepare(cfg: Config, md: MarketData) -> Inputs:
    """Arrays, signal panels and the simulated span for one run."""
    close = np.ascontiguousarray(md.close.to_numpy(dtype=np.float64))
    assets = tuple(md.assets.tolist())  # plain str names (quicker than iterating the index)
    instruments = InstrumentBook.build(md, close, PERIODS[cfg.experiment.data.calendar])
    traded = close if instruments is None else instruments.trade_close
    price = forward_fill_nb(traded)
    first, last = _span(cfg, md.dates)
    configs, _ = distinct_strategies(list(cfg.scenarios))
    signals = np.stack([_signal(c, md) for c in configs]) if configs else np.empty((0,) + close.shape)
    arrays = {"close": close, "returns": _simple_returns(close)}
    if md.benchmark is not None:
        arrays["benchmark"] = md.benchmark.to_numpy(dtype=np.float64)
    for a in arrays.values():
        a.flags.writeable = False
    features = FeatureInputs(
        dates=md.dates, assets=assets, close=close, returns=arrays["returns"],
        volume=None if md.volume is None else md.volume.to_numpy(dtype=np.float64),
        benchmark=arrays.get("benchmark"),
        macro={} if md.macro is None else {c: md.macro[c].to_numpy(dtype=np.float64) for c in md.macro},
        meta=md.meta,
    )
    tradeable = np.isfinite(traded)
    return Inputs(md.dates, assets, close, tradeable, price, _finite(price),
                  _delist_rows(traded, last, tradeable), signals, arrays, first, last, features, instruments,
                  None if instruments is None else traded)


def _finite(values: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(values)``, in one pass where every value is finite (the common case)."""
    out = values.copy()
    bad = ~np.isfinite(out)
    if bad.any():
        out[bad] = np.nan_to_num(out[bad])
    return out


def _simple_returns(close: np.ndarray) -> np.ndarray:
    """(T, N) daily simple returns, NaN on the first row and where either price is missing.

    Equals ``DataFrame.pct_change(fill_method=None)``.
    """
    out = np.full_like(close, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(close[1:], close[:-1], out=out[1:])
    out[1:] -= 1.0
    return out


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
    if not (panel.index.equals(md.dates) and panel.columns.equals(md.close.columns)):
        panel = panel.reindex(index=md.dates, columns=md.assets)
    return panel.to_numpy(dtype=np.float64)


def _delist_rows(close: np.ndarray, last: int, finite: np.ndarray | None = None) -> np.ndarray:
    finite = np.isfinite(close) if finite is None else finite
    n_rows, n_assets = close.shape
    last_price = np.full(n_assets, n_rows - 1)
    priced = np.ones(n_assets, dtype=bool)
    ended = np.flatnonzero(~finite[-1])  # only assets without a price on the last row can have stopped
    if len(ended):
        seen = finite[:, ended]
        last_price[ended] = n_rows - 1 - np.argmax(seen[::-1], axis=0)
        priced[ended] = seen.any(axis=0)
    delist = np.where(priced & (last_price < last), last_price + 1, -1)
    return delist.astype(np.int64)


def simulate(cfg: Config, md: MarketData, progress=None):
    """Run every scenario of ``cfg`` on ``md``; return the raw book and records.

    ``progress``, if given, is called as ``progress(days_done, days_total)`` as the replay
    moves through the simulated span (a progress bar's hook; it sees no data).
    """
    inputs = prepare(cfg, md)
    scenarios = list(cfg.scenarios)
    _, strategy_index = distinct_strategies(scenarios)
    groups = build_groups(scenarios, strategy_index)
    exe = cfg.experiment.execution
    book = Book.empty(len(inputs.dates), len(scenarios), len(inputs.assets), exe.init_cash)
    rec = Recorder()
    loop = EventLoop(cfg, md, inputs, groups, book, rec, tuple(s.name for s in scenarios), strategy_index)
    loop.run(progress=progress)
    return inputs, book, rec


def _broker(cfg, md, exe, prices, costs, rows) -> Broker:
    """The run's broker, with its realized-cost ("true") model when the experiment gives one."""
    spec = cfg.experiment.realized_costs
    if spec is None:
        return Broker.build(md, exe, prices, costs, rows)
    true_model = registry.build("cost", spec.model)
    return Broker.build(md, exe, prices, costs, rows, realized=true_model, noise=spec.noise, seed=spec.seed)


class EventLoop:
    """One run of the event loop; holds references, no logic beyond sequencing.

    A backtest replays ``inputs.first .. inputs.last`` from an empty book. A book kept
    between runs (:mod:`simlab.production`) resumes: it hands in its own ``book``, the
    ``decisions`` it takes, and to :meth:`run` the row to start from, the orders still
    waiting and the Steps' memory; orders due after ``inputs.last`` are kept in
    ``beyond`` (a backtest drops them: its history ends there).
    """

    def __init__(self, cfg, md, inputs: Inputs, groups: list[Group], book: Book, rec: Recorder, names, strategy_index,
                 decisions: np.ndarray | None = None):
        self.cfg, self.md, self.inputs, self.groups, self.book, self.rec = cfg, md, inputs, groups, book, rec
        self.names = names
        self.strategy_index = strategy_index
        first = strategy_index[0]
        self.one_strategy = int(first) if first >= 0 and (strategy_index == first).all() else None
        self.no_signal = None
        if (strategy_index < 0).all():
            self.no_signal = _frozen(np.full((len(names), len(inputs.assets)), np.nan))
        self.exe = cfg.experiment.execution
        self.rng = np.random.default_rng(cfg.experiment.seed)
        self.delisted = np.zeros_like(book.holdings)
        self.pos = inputs.first
        if decisions is None:
            sched = cfg.experiment.schedule
            decisions = schedule_rows(inputs.dates, sched.frequency, sched.day)
        self.decisions = decisions[(decisions >= inputs.first) & (decisions <= inputs.last)]
        self.table = FeatureTable(inputs.features, self.decisions)
        self.step_features = [self._declare_features(g) for g in groups]
        costs, rows = [g.cost for g in groups], [g.rows for g in groups]
        prices = Prices(inputs.close if inputs.trade_close is None else inputs.trade_close, inputs.value_price,
                        inputs.tradeable)
        self.broker = _broker(cfg, md, self.exe, prices, costs, rows)
        self.borrow_rate = borrow_rates(costs, rows, len(names), len(inputs.assets), md.meta,
                                        PERIODS[cfg.experiment.data.calendar])
        self.cash_rates = financing_rates(self.exe, len(names), PERIODS[cfg.experiment.data.calendar])
        self.accrue_from = inputs.first + 1
        self.restricted = asset_flags(md.meta, "restricted", inputs.assets)
        self.book_rules = self.exe.margin is not None or bool(self.restricted.any())
        self.memory: dict = {}  # (group position, step label) -> the Step's memory across decisions
        self.beyond: dict[int, Order] = {}  # orders due after inputs.last
        self.dates = dict(zip(self.decisions.tolist(), inputs.dates[self.decisions]))
        self.group_views = [_BookViews.of(book, g) for g in groups]
        self.instruments = inputs.instruments
        # a book with futures is levered by their notional, checked against their margin at the fill
        futures = self.instruments is not None and self.instruments.has_futures
        self.step_leverage = None if futures else self.exe.leverage
        self.periods_per_year = PERIODS[cfg.experiment.data.calendar]
        self.book_price = inputs.value_price if self.instruments is None else self.instruments.book_price(
            inputs.value_price)
        self.peak_before = book.peak_nav.copy()  # the peak before the day being filled
        self.linear_fill = LinearFillDay.build(self)  # None: a fill day goes through the general path
        self.run_fields = {"assets": inputs.assets, "meta": md.meta, "rng": self.rng, "leverage": self.step_leverage,
                           "margin": self.exe.margin, "periods_per_year": self.periods_per_year}  # every decision's
        self.wants_history = [any("nav_history" in step.requires for step in g.steps) for g in groups]
        self.group_fields = [{**self.run_fields, "scenarios": g.names, **_views_fields(views)}
                             for g, views in zip(groups, self.group_views)]  # each group's, every decision's
        self.every_scenario = np.ones(len(names), dtype=bool)  # a copy trades at a decision no Step holds

    def _declare_features(self, g: Group) -> list[dict]:
        declared = []
        for step in g.steps:
            specs = step.features(len(g.rows))
            for name, per_scenario in specs.items():
                if len(per_scenario) != len(g.rows):
                    raise StepError(f"{step}: feature {name!r} lists {len(per_scenario)} values for {len(g.rows)} scenarios")
                for feature in per_scenario:
                    self.table.add(feature)
            declared.append(specs)
        return declared

    def run(self, start: int | None = None, pending: dict[int, Order] | None = None, progress=None) -> None:
        """Replay rows ``start`` (default ``inputs.first``) .. ``inputs.last``; ``pending`` orders by fill row.

        ``progress(days_done, days_total)`` is called after each event row, if given.
        """
        inp, lag = self.inputs, self.exe.lag
        start = inp.first if start is None else start
        self.pos = start
        delists = inp.delist_row[(inp.delist_row >= start) & (inp.delist_row <= inp.last)]
        fills = self.decisions + lag
        static = np.unique(np.r_[self.decisions, fills[fills <= inp.last], delists]).tolist()
        decision_rows = set(self.decisions.tolist())
        self.pending: dict[int, Order] = dict(pending or {})
        self.rec.snapshot(start, self.book.holdings)
        for row in _merged_rows(static, self.pending):
            self._advance(row)
            if row in self.pending:
                self._fill(row, self.pending.pop(row))
            if row in decision_rows:
                order = self._decide(row)
                if lag == 0:
                    self._fill(row, order)
                else:
                    self._queue(row + lag, order)
            if progress is not None:
                progress(row - inp.first + 1, inp.last - inp.first + 1)
        self._advance_to(inp.last + 1)

    def _queue(self, row: int, order: Order) -> None:
        """Queue ``order`` for ``row``; a newer order replaces an older one per scenario."""
        queue = self.pending if row <= self.inputs.last else self.beyond
        old = queue.get(row)
        queue[row] = order if old is None else old.superseded_by(order)

    def _advance_to(self, stop: int) -> None:
        inp = self.inputs
        if self.instruments is not None:
            self._settle_to(stop)
        elif stop > self.pos:
            closed = self.book.mark_to_market(inp.value_price, inp.delist_row, self.pos, stop, self.delisted,
                                              self.borrow_rate, self.cash_rates, self.accrue_from)
            self.pos = stop
            if closed:
                self._record_delisting(stop - 1)

    def _settle_to(self, stop: int) -> None:
        """:meth:`_advance_to` one day at a time, settling futures and accruing fees before each NAV."""
        inp, ins = self.inputs, self.instruments
        for row in range(self.pos, stop):
            ins.settle_day(self.book, row, inp.value_price[row])
            rolled = ins.roll(self.book, row, self.broker.cost_models, [g.rows for g in self.groups],
                              self.broker.cost_inputs.context(row)) if row in ins.roll_rows else {}
            if rolled:
                self.rec.diag(row, np.arange(len(self.names)), "engine", rolled)
            closed = self.book.mark_to_market(self.book_price, inp.delist_row, row, row + 1, self.delisted,
                                              self.borrow_rate, self.cash_rates, self.accrue_from)
            self.pos = row + 1
            if closed:
                self._record_delisting(row)

    def _advance(self, row: int) -> None:
        """Advance through ``row``'s close; keep the peak before it so a fill can correct it."""
        if self.instruments is None and row >= self.pos:  # both segments in one call
            b, financed = self.book, self.cash_rates is not None
            closed, through = advance_day_nb(
                b.holdings, b.cash, self.inputs.value_price, self.inputs.delist_row, self.pos, row, b.nav, b.peak_nav,
                self.delisted, self.borrow_rate, b.fees, self.cash_rates if financed else NO_CASH_RATES,
                b.financing if financed else b.fees, self.accrue_from, self.peak_before)
            self.pos = row + 1 if through else row
            if closed:
                self._record_delisting(row if through else row - 1)
            if through:
                return
        self._advance_to(row)
        self.peak_before[:] = self.book.peak_nav
        self._advance_to(row + 1)

    def _record_delisting(self, row: int) -> None:
        closed = -self.delisted
        self.rec.fill(row, closed, self.inputs.value_price[row], np.zeros_like(closed), "delisted")
        self.rec.diag(row, np.arange(len(self.names)), "engine", {"delisted_positions": (closed != 0).sum(axis=1)})
        self.rec.snapshot(row, self.book.holdings)
        self.delisted[:] = 0.0

    def _fill(self, row: int, order: Order) -> None:
        if self.linear_fill is not None:
            self.linear_fill.fill(self, row, order)
            return
        b, inp = self.book, self.inputs
        safe = inp.value_price[row]
        targets = order.targets_at(b.holdings, b.nav[row], safe)
        rules_diag: dict = {}
        if self.book_rules:
            order, targets, rules_diag = self._apply_book_rules(row, order, targets, safe)
        unfilled, all_trade, capped = None, order.all_trade, self.broker.capped
        for k, g in enumerate(self.groups):
            trade = order.trade[g.sel]
            some, every = (True, True) if all_trade else (trade.any(), trade.all())
            if rules_diag:
                self.rec.diag(row, g.rows, "engine", {key: v[g.sel] for key, v in rules_diag.items()})
            if not some:
                continue
            futures = self.instruments is not None and self.instruments.has_futures
            if futures:
                estimated, margin = self.instruments.fill(self.broker, k, b, g.sel, row, targets[g.sel], self.exe,
                                                          safe, trade)
            else:
                estimated = self.broker.fill(k, b, g.sel, row, targets[g.sel])
            if not every:
                estimated = estimated.only(trade)
            fill = self.broker.realize(row, estimated, g.rows)
            b.book_fill(g.sel, fill, self.book_price[row])
            if futures:
                self.rec.diag(row, g.rows, "engine", {**margin, **self.instruments.positions(b.holdings[g.sel], safe)})
            self.broker.remember(k, row, fill)
            if capped and fill.unfilled.any():
                unfilled = np.zeros_like(b.holdings) if unfilled is None else unfilled
                unfilled[g.sel] = fill.unfilled
            self.rec.fill(row, fill.shares, safe, fill.cost, order.reason, g.rows,
                          None if fill is estimated else estimated.cost)
            self.rec.diag(row, g.rows, "engine", fill_diagnostics(fill, capped))
            self.rec.diag(row, g.rows, "costs", self.broker.calibration(k, row, len(g.rows)))
        b.revalue(row, self.book_price[row], self.peak_before)
        self.rec.snapshot(row, b.holdings)
        order.book_keeping(b)
        if unfilled is not None:
            self._carry(row, unfilled, order)

    def _apply_book_rules(self, row: int, order: Order, targets: np.ndarray, price: np.ndarray):
        """The margin requirement and the restricted names on ``order``'s targets at ``row``
        (:mod:`simlab.execution.margin`); the order as it will trade, its targets, diagnostics."""
        current = self.book.weights(row, price)
        targets, restricted_diag = restricted_targets(targets, current, self.restricted)
        targets, allowed, margin_diag = margin_targets(targets, current, self.exe.margin, self.exe.margin_action)
        held = ~order.trade  # a scenario a Step held trades nothing: no rule acted on it
        if "short_blocked" in restricted_diag:
            restricted_diag["short_blocked"] = np.where(held, 0.0, restricted_diag["short_blocked"])
        if margin_diag:
            margin_diag["gross_margin_scale"] = np.where(held, 1.0, margin_diag["gross_margin_scale"])
            margin_diag["gross_margin_blocked"] = np.where(held, 0.0, margin_diag["gross_margin_blocked"])
        order = dataclasses.replace(order, targets=targets, trade=order.trade & allowed)
        return order, targets, {**restricted_diag, **margin_diag}

    def _carry(self, row: int, unfilled: np.ndarray, order: Order) -> None:
        """Retry what the participation cap left unfilled on the next trading day."""
        rest = order.unfilled_rest(row, self.book.holdings, unfilled)
        if rest is not None:
            self._queue(row + 1, rest)

    def _decide(self, row: int) -> Order:
        inp, b = self.inputs, self.book
        view = PointInTimeView(inp.arrays, inp.dates, row)
        tradeable = inp.tradeable[row]
        targets = book_weights_nb(b.holdings, inp.value_price[row], b.nav[row])  # Book.weights of every book
        hold = None  # (B,) bool once a Step holds a scenario
        for k, (g, declared) in enumerate(zip(self.groups, self.step_features)):
            sel = g.sel
            weights, nav = targets[sel], b.nav[row, sel]
            weights.flags.writeable = nav.flags.writeable = False  # views (or copies) of the book's: read-only
            fields = {
                **self.group_fields[k], "t": row, "date": self.dates[row], "view": view, "tradeable": tradeable,
                "signal": self._signal(g, row), "weights": weights, "nav": nav,
                "nav_history": self._nav_history(g, row) if self.wants_history[k] else None,
            }
            if self.group_views[k] is None:  # rows not a slice of the batch: copies of this decision's
                fields.update(_views_fields(_BookViews.of(b, g, copies=True)))
            targets[sel], group_hold = self._run_steps(k, g, StepContext.from_fields(fields), declared)
            if group_hold is not None:
                hold = np.zeros(len(self.names), dtype=bool) if hold is None else hold
                hold[sel] = group_hold
        trade = self.every_scenario.copy() if hold is None else ~hold
        return Order.decision(row, targets, trade, self._signal_all(row))

    def _signal_all(self, row: int) -> np.ndarray:
        """(B, N) every scenario's signal at ``row`` (NaN for scenarios without a strategy)."""
        index, n_assets = self.strategy_index, len(self.inputs.assets)
        if self.one_strategy is not None:
            return np.repeat(self.inputs.signals[self.one_strategy, row][None, :], len(index), axis=0)
        if self.no_signal is not None:
            return self.no_signal
        out = np.full((len(index), n_assets), np.nan)
        has = index >= 0
        out[has] = self.inputs.signals[index[has], row]
        return out

    def _signal(self, g: Group, row: int) -> np.ndarray | None:
        """(B_g, N) signal at ``row``, read-only; one shared row when the group has one strategy."""
        first = g.strategy_index[0]
        if first < 0:
            return None
        if g.one_strategy:
            return _frozen(np.repeat(self.inputs.signals[first, row][None, :], len(g.rows), axis=0))
        return _frozen(self.inputs.signals[g.strategy_index, row])

    def _nav_history(self, g: Group, row: int) -> np.ndarray | None:
        """NAV from the first simulated close through ``row`` (for groups that ask for it)."""
        history = self.book.nav[self.inputs.first : row + 1]
        history = history if len(g.rows) == history.shape[1] else history[:, g.rows]
        history = history.view()
        history.flags.writeable = False
        return history

    def _run_steps(self, k: int, g: Group, ctx: StepContext,
                   declared: list[dict]) -> tuple[np.ndarray, np.ndarray | None]:
        """The group's Steps on ``ctx``: its targets, and which scenarios they hold (None: none)."""
        w, hold = ctx.weights, None
        for step, label, specs in zip(g.steps, g.step_labels, declared):
            step_ctx = ctx
            if specs or step.stateful:
                values = {name: self.table.at(per_scenario, ctx.t) for name, per_scenario in specs.items()}
                memory = self.memory.setdefault((k, label), {}) if step.stateful else {}
                step_ctx = replace(ctx, features=values, memory=memory)
            try:
                w, diag = step(w, step_ctx)
            except Exception as err:
                err.add_note(f"in step {label} ({step}) on {ctx.date.date()}")
                raise
            _check_weights(w, ctx, label)
            if HOLD in diag:
                hold = np.zeros(len(g.rows), dtype=bool) if hold is None else hold
                hold |= np.broadcast_to(np.asarray(diag[HOLD], dtype=bool), hold.shape)
            self.rec.diag(ctx.t, g.rows, label, diag, type(step))
        return w, hold


@dataclass(frozen=True)
class _BookViews:
    """Read-only views of a group's rows of the book's per-scenario state, made once per run.

    The book's arrays are written in place, so a view made at the start reads each
    decision's values; a group that is not the whole batch gets copies at each decision.
    """

    peak_nav: np.ndarray
    last_rebalance: np.ndarray
    last_targets: np.ndarray
    last_signal: np.ndarray | None

    @classmethod
    def of(cls, book: Book, g: Group, copies: bool = False) -> _BookViews | None:
        """The views for group ``g``; None when its rows are not a slice of the batch (unless ``copies``)."""
        if not (g.whole or copies):
            return None
        sel = g.sel
        signal = None if g.strategy_index[0] < 0 else _frozen(book.last_signal[sel])
        return cls(_frozen(book.peak_nav[sel]), _frozen(book.last_rebalance[sel]), _frozen(book.last_targets[sel]),
                   signal)


def _views_fields(views: _BookViews | None) -> dict:
    """The context's fields ``views`` serve (none without views)."""
    if views is None:
        return {}
    return {"peak_nav": views.peak_nav, "last_rebalance": views.last_rebalance, "last_targets": views.last_targets,
            "last_signal": views.last_signal}


def _merged_rows(static: list[int], pending: dict):
    """Static event rows in order, plus any row queued in ``pending`` while iterating."""
    i, last = 0, -1
    while True:
        if not pending:  # nothing queued: the next static row
            if i == len(static):
                return
            last = static[i]
            i += 1
            yield last
            continue
        later = [r for r in pending if r > last]
        candidates = ([static[i]] if i < len(static) else []) + ([min(later)] if later else [])
        if not candidates:
            return
        last = min(candidates)
        while i < len(static) and static[i] <= last:
            i += 1
        yield last


def _frozen(values: np.ndarray) -> np.ndarray:
    """A read-only view: Steps read the book, they never write it."""
    out = values.view()
    out.flags.writeable = False
    return out


def _check_weights(w: np.ndarray, ctx: StepContext, label: str) -> None:
    if w.shape != ctx.weights.shape:
        raise StepError(f"step {label} on {ctx.date.date()} returned shape {w.shape}; expected {ctx.weights.shape}")
    if math.isfinite(np.add.reduce(w, axis=None)):  # w.sum() without its Python wrapper
        return
    bad = ~np.isfinite(w)
    if bad.any():
        b, n = np.argwhere(bad)[0]
        raise StepError(
            f"step {label} on {ctx.date.date()} returned a non-finite weight for asset "
            f"{ctx.assets[n]!r} in scenario {ctx.scenarios[b]!r}"
        )
