"""Resume the backtest's replay on a stored book: the rows from its last close to ``--as-of``.

The book is the engine's :class:`~simlab.execution.book.Book` with one scenario, filled from a
:class:`~simlab.production.state.PortfolioState`; the loop is the engine's
:class:`~simlab.engine.simulate.EventLoop`, so the accounting between closes, the fills, the
costs and every Step are the backtest's own. What differs is only where the replay starts
(after the state's close, with its orders still waiting and its Steps' memory) and which
days it decides on (``--as-of``, when the schedule says so; a decision day the book missed is
not traded in the past).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.config.loader import Config
from simlab.data.market import MarketData
from simlab.engine.pipeline import build_groups, distinct_strategies
from simlab.engine.record import Recorder
from simlab.engine.simulate import EventLoop, prepare
from simlab.execution.book import Book
from simlab.execution.orders import Order
from simlab.portfolio.calendar import schedule_rows
from simlab.production.state import PortfolioState, decode, encode


class _BookReplay(EventLoop):
    """The engine's replay, keeping the order decided at each decision row."""

    decided: dict

    def _decide(self, row: int) -> Order:
        order = super()._decide(row)
        self.decided[row] = order
        return order


@dataclass
class Resumed:
    """What one resumed replay left: the loop (book, recorder, broker), the rows it covered."""

    replay: _BookReplay
    dates: pd.DatetimeIndex
    start_row: int  # first row replayed
    as_of_row: int
    first_row: int  # the book's first close
    missed: list  # decision days between the last run and --as-of that were not taken

    @property
    def book(self) -> Book:
        return self.replay.book

    @property
    def recorder(self) -> Recorder:
        return self.replay.rec

    @property
    def order(self) -> Order | None:
        """The order decided at ``--as-of``, or None when it is not a decision day."""
        return self.replay.decided.get(self.as_of_row)


def resume(cfg: Config, md: MarketData, state: PortfolioState, fresh: bool) -> Resumed:
    """Replay ``state``'s book on ``md`` (cut at the as-of day) from its last close to the data's last row.

    ``fresh``: the state was just created (its as-of row is replayed too, as a backtest's first).
    """
    data = cfg.experiment.data.model_copy(update={"start": pd.Timestamp(state.start).date(),
                                                  "end": md.dates[-1].date()})
    run_cfg = dataclasses.replace(cfg, experiment=cfg.experiment.model_copy(update={"data": data}))
    inputs = prepare(run_cfg, md)
    dates = inputs.dates
    last_close = int(dates.get_loc(pd.Timestamp(state.as_of)))
    start = last_close if fresh else last_close + 1
    scenarios = list(cfg.scenarios)
    _, strategy_index = distinct_strategies(scenarios)
    groups = build_groups(scenarios, strategy_index)
    book = _book_from_state(state, dates, cfg.experiment.execution.init_cash)
    sched = cfg.experiment.schedule
    scheduled = schedule_rows(dates, sched.frequency, sched.day)
    due = scheduled[(scheduled >= start) & (scheduled >= inputs.first)]
    decisions = due[due == inputs.last]
    replay = _BookReplay(run_cfg, md, inputs, groups, book, Recorder(), tuple(s.name for s in scenarios),
                         strategy_index, decisions=decisions)
    replay.decided = {}
    replay.memory = {_memory_key(k): decode(v) for k, v in state.memory.items()}
    if state.rng is not None:
        replay.rng.bit_generator.state = state.rng
    replay.run(start=start, pending=_pending_orders(state, last_close))
    return Resumed(replay, dates, start, inputs.last, inputs.first,
                   [dates[r].date().isoformat() for r in due[due < inputs.last]])


def _book_from_state(state: PortfolioState, dates: pd.DatetimeIndex, init_cash: float) -> Book:
    n_assets = len(state.assets)
    book = Book.empty(len(dates), 1, n_assets, init_cash)
    book.holdings[0] = state.holdings
    book.cash[0] = state.cash
    book.peak_nav[0] = state.peak_nav
    if state.nav_dates:
        rows = dates.get_indexer(pd.DatetimeIndex(state.nav_dates))
        book.nav[rows[rows >= 0], 0] = np.asarray(state.nav_values, dtype=float)[rows >= 0]
    if state.last_rebalance is not None:
        book.last_rebalance[0] = int(dates.get_loc(pd.Timestamp(state.last_rebalance)))
    book.last_targets[0] = state.last_targets
    book.last_signal[0] = _floats(state.last_signal)
    return book


def _floats(values: list) -> np.ndarray:
    """A list with None for NaN (as JSON holds it) as a float array."""
    return np.asarray(values, dtype=float)


def _memory_key(text: str) -> tuple[int, str]:
    group, label = text.split(":", 1)
    return int(group), label


def _pending_orders(state: PortfolioState, last_close: int) -> dict[int, Order]:
    """The state's waiting orders, keyed by their fill row in the data now loaded."""
    out = {}
    for entry in state.pending:
        o = entry["order"]
        shares = o["target_shares"]
        out[last_close + int(entry["due_in"])] = Order(
            decided=last_close + np.asarray(o["decided_offset"], dtype=np.int64),
            targets=np.asarray(o["targets"], dtype=float), trade=np.asarray(o["trade"], dtype=bool),
            signal=np.asarray(o["signal"], dtype=float), carried=np.asarray(o["carried"], dtype=bool),
            target_shares=None if shares is None else np.asarray(shares, dtype=float))
    return out


def pending_entries(orders: dict[int, Order], last_row: int) -> list[dict]:
    """Orders due after ``last_row`` as plain data: fill row and decision row relative to it."""
    out = []
    for row, order in sorted(orders.items()):
        out.append({"due_in": int(row - last_row), "order": {
            "decided_offset": (order.decided - last_row).tolist(), "targets": _plain(order.targets),
            "trade": order.trade.tolist(), "signal": _plain(order.signal), "carried": order.carried.tolist(),
            "target_shares": None if order.target_shares is None else _plain(order.target_shares)}})
    return out


def _plain(values: np.ndarray):
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.atleast_2d(values)]


def memory_entries(memory: dict) -> dict:
    """The Steps' memory as plain data, keyed ``"group:label"``."""
    return {f"{k}:{label}": encode(v) for (k, label), v in memory.items()}
