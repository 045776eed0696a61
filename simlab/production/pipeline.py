"""The production pipeline: one run of a paper or live book at ``--as-of``.

``run_pipeline`` loads the book's state (or starts one from ``execution.init_cash``), resumes
the backtest's replay on it through the as-of close (:mod:`simlab.production.replay`: waiting
orders fill on their day, NAV is marked at every close), runs the config's Steps when the
schedule makes the as-of day a decision day, and returns a :class:`Decision`: the orders, the
targets, every Step's diagnostics, the checks, and the status

* ``pending``: orders to trade (a dry run, or an order waiting ``execution.lag`` days to fill);
* ``executed``: a paper book filled them at the as-of close (lag 0);
* ``no_rebalance``: not a decision day, or a policy Step (drift band, cooldown) held;
* ``blocked``: a pre-trade check held the book, or the approval rule wants ``--approve``.

With ``execute`` the new state is committed in one transaction, except when the approval
rule blocks (then nothing is written: approving later trades what the backtest trades).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.config.loader import Config
from simlab.contract.roles import role_of
from simlab.contract.step import HOLD
from simlab.data.market import MarketData
from simlab.errors import ConfigError, DataError
from simlab.production.replay import Resumed, memory_entries, pending_entries, resume
from simlab.production.state import PortfolioState, basis_after_fill, book_identity, check_same_book
from simlab.production.stores import Store


@dataclass(frozen=True)
class Approval:
    """Orders that need ``--approve``: one-way turnover or the largest order's value above a limit."""

    max_turnover: float | None = None  # fraction of NAV
    max_order_value: float | None = None  # money

    def reasons(self, turnover: float, largest: float) -> list[str]:
        """Why the orders need approval (empty: they do not)."""
        out = []
        if self.max_turnover is not None and turnover > self.max_turnover:
            out.append(f"turnover {turnover:.4f} of NAV is above the approval limit {self.max_turnover}")
        if self.max_order_value is not None and largest > self.max_order_value:
            out.append(f"an order of {largest:,.2f} is above the approval limit {self.max_order_value:,.2f}")
        return out


@dataclass
class Decision:
    """What one pipeline run decided and, when committed, the state it left."""

    status: str
    as_of: str
    scenario: str
    orders: pd.DataFrame
    targets: dict
    diagnostics: list
    checks: dict  # scheduled (the schedule makes --as-of a decision day), held_by (Steps that held), approval
    filled: pd.DataFrame
    state: PortfolioState
    committed: bool = False
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """decision.json's content."""
        return {"status": self.status, "as_of": self.as_of, "scenario": self.scenario, "book": self.state.book,
                "nav": self.state.nav, "cash": self.state.cash, "targets": self.targets, "checks": self.checks,
                "diagnostics": self.diagnostics, "orders": self.orders.to_dict(orient="records"),
                "filled": self.filled.to_dict(orient="records"), "committed": self.committed,
                "version": self.state.version, "notes": self.notes}

    def write(self, out: str | Path) -> tuple[Path, Path]:
        """Write ``orders.csv`` and ``decision.json`` under ``out``; their paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        orders, decision = out / "orders.csv", out / "decision.json"
        self.orders.to_csv(orders, index=False)
        decision.write_text(json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n")
        return orders, decision


ORDER_COLUMNS = ["asset", "side", "shares", "reference_price", "estimated_cost", "reason"]


def select_scenario(cfg: Config, scenario: str | None) -> Config:
    """``cfg`` with only the scenario named ``scenario`` (None: the config's only or first one)."""
    _refuse_sleeves(cfg)
    names = [s.name for s in cfg.scenarios]
    if scenario is None:
        chosen = cfg.scenarios[0]
    elif scenario in names:
        chosen = cfg.scenarios[names.index(scenario)]
    else:
        raise ConfigError(f"--scenario {scenario!r} is not a scenario of {cfg.name!r} (it has: {', '.join(names)})")
    return dataclasses.replace(cfg, scenarios=(chosen,))


def _refuse_sleeves(cfg: Config) -> None:
    if cfg.experiment.sleeves is not None:
        raise ConfigError(f"sleeves: {cfg.name!r} is a book with sleeves, which simlab runs as a backtest only "
                          "(simlab run); a production book runs one strategy and pipeline")


def book_settings(cfg: Config) -> dict:
    """The resolved settings that decide a one-scenario book's trades (hashed into its identity)."""
    exp, s = cfg.experiment, cfg.scenarios[0]
    return {"data": exp.data.source, "universe": exp.universe, "schedule": exp.schedule.model_dump(mode="json"),
            "execution": exp.execution.model_dump(mode="json"), "seed": exp.seed,
            "strategy": s.strategy, "costs": s.costs, "pipeline": list(s.pipeline)}


def run_pipeline(cfg: Config, md: MarketData, store: Store, as_of, *, execute: bool = False,
                 approve: bool = False, approval: Approval = Approval()) -> Decision:
    """One run of the book of ``cfg`` (one scenario, see :func:`select_scenario`) at the close of ``as_of``."""
    _refuse_sleeves(cfg)
    if len(cfg.scenarios) != 1:
        raise ConfigError(f"a book runs one scenario; {cfg.name!r} has {len(cfg.scenarios)} (pick one)")
    info = md.instruments
    if info is not None and ((info.kind == "future").any() or (info.accrued_fee > 0).any()):
        raise ConfigError(f"universe {cfg.experiment.universe}: the book (simlab pipeline) does not hold futures or "
                          "ETFs that accrue their fee (fee_in_price: false); backtest them with simlab run")
    day = _trading_day(md, as_of)
    md = md.slice(None, day)
    book = book_identity(cfg.name, cfg.scenarios[0].name, book_settings(cfg))
    state = store.load()
    fresh = state is None
    if fresh:
        state = PortfolioState.new(book, md.assets, day.date().isoformat(), cfg.experiment.execution.init_cash)
    else:
        check_same_book(state, book, md.assets, store.url)
        if pd.Timestamp(state.as_of) >= day:
            raise DataError(f"{store.url}: the book is already at the close of {state.as_of}; "
                            f"--as-of {day.date()} must be a later trading day")
    resumed = resume(cfg, md, state, fresh)
    new = _new_state(state, resumed)
    draft = _decision(resumed, new, md, cfg, approve, approval)
    decision = draft.decision
    if execute and not draft.needs_approval:
        decision.state = store.commit(new, decision.status, {"orders": len(decision.orders),
                                                             "filled": len(decision.filled),
                                                             "held_by": decision.checks["held_by"],
                                                             "flags": _flagged(decision.diagnostics)})
        decision.committed = True
    return decision


def _trading_day(md: MarketData, as_of) -> pd.Timestamp:
    day = pd.Timestamp(as_of)
    if day not in md.dates:
        later = md.dates[md.dates > day]
        hint = f"the next is {later[0].date()}" if len(later) else f"the data ends {md.dates[-1].date()}"
        raise DataError(f"--as-of {day.date()} is not a trading day of the data ({hint})")
    return day


def _new_state(state: PortfolioState, r: Resumed) -> PortfolioState:
    """The state at the as-of close, from the replayed book."""
    b, dates, last = r.book, r.dates, r.as_of_row
    rows = range(r.start_row, last + 1)
    last_reb = int(b.last_rebalance[0])
    nav_dates = [d for d in state.nav_dates if pd.Timestamp(d) < dates[r.start_row]]
    nav_values = state.nav_values[:len(nav_dates)]
    return dataclasses.replace(
        state, as_of=dates[last].date().isoformat(), holdings=b.holdings[0].tolist(),
        cost_basis=_cost_basis(state, r), cash=float(b.cash[0]), nav=float(b.nav[last, 0]),
        peak_nav=float(b.peak_nav[0]),
        last_rebalance=None if last_reb < 0 else dates[last_reb].date().isoformat(),
        last_targets=b.last_targets[0].tolist(),
        last_signal=[None if not np.isfinite(v) else float(v) for v in b.last_signal[0]],
        pending=pending_entries(r.replay.beyond, last), memory=memory_entries(r.replay.memory),
        rng=r.replay.rng.bit_generator.state,
        nav_dates=nav_dates + [dates[i].date().isoformat() for i in rows],
        nav_values=nav_values + [float(b.nav[i, 0]) for i in rows])


def _cost_basis(state: PortfolioState, r: Resumed) -> list:
    """Average cost per share after this run's fills (a fill's cost adds to the basis of a buy)."""
    held = np.asarray(state.holdings, dtype=float).copy()
    basis = np.asarray(state.cost_basis, dtype=float).copy()
    for rec in r.recorder.fills:
        for asset, shares, price, cost in zip(rec.asset, rec.shares, rec.price, rec.cost):
            basis[asset] = basis_after_fill(basis[asset], held[asset], shares, price, cost)
            held[asset] += shares
    return basis.tolist()


@dataclass
class _Draft:
    decision: Decision
    needs_approval: bool


def _decision(r: Resumed, new: PortfolioState, md: MarketData, cfg: Config, approve: bool,
              approval: Approval) -> _Draft:
    last, assets = r.as_of_row, list(md.assets)
    order = r.order
    diagnostics = _diagnostics(r, last, assets)
    held_by = [d["step"] for d in diagnostics if d["key"] == HOLD and d["value"]]
    checks = {"scheduled": order is not None, "held_by": held_by, "approval": []}
    notes = [f"decision day(s) {', '.join(r.missed)} passed without a run: not traded in the past"] if r.missed else []
    filled = _filled(r, md, before=last if order is not None and cfg.experiment.execution.lag == 0 else None)
    if order is None:
        status, orders = "no_rebalance", _empty_orders()
    elif not order.trade[0]:
        status, orders = ("blocked" if any(_is_check(r, s) for s in held_by) else "no_rebalance"), _empty_orders()
    else:
        orders = _orders(r, order, md, cfg)
        status = "executed" if cfg.experiment.execution.lag == 0 else "pending"
    targets = {} if order is None else dict(zip(assets, order.targets[0].tolist()))
    block = False
    if len(orders):
        value = float((orders["shares"] * orders["reference_price"]).abs().sum())
        nav_before = float(r.book.nav[last - 1, 0]) if last > r.first_row else new.nav
        reasons = approval.reasons(value / 2.0 / nav_before, float((orders["shares"] * orders["reference_price"]).max()))
        checks["approval"] = reasons
        if reasons and not approve:
            status, block = "blocked", True
            notes.append("approval needed: " + "; ".join(reasons) + " (run again with --approve)")
    return _Draft(Decision(status, new.as_of, new.book["scenario"], orders, targets, diagnostics, checks, filled, new,
                           notes=notes), block)


def _is_check(r: Resumed, label: str) -> bool:
    steps = dict(zip(r.replay.groups[0].step_labels, r.replay.groups[0].steps))
    return type(steps[label]).__module__.endswith(".checks")


def _diagnostics(r: Resumed, row: int, assets: list) -> list:
    out = []
    for at, _, step, values, step_class in r.recorder.diagnostics:
        if at != row or step == "engine":
            continue
        for key, value in values.items():
            arr = np.asarray(value)
            role = role_of(step_class, key)
            role = None if role is None else str(role)
            if arr.ndim == 2:
                out.extend({"step": step, "key": key, "role": role, "asset": a, "value": _scalar(v)}
                           for a, v in zip(assets, arr[0]))
            else:
                out.append({"step": step, "key": key, "role": role, "value": _scalar(arr if arr.ndim == 0 else arr[0])})
    return out


def _flagged(diagnostics: list) -> list:
    """The diagnostics the monitors read (utilization and fallback roles), kept with the commit."""
    return [d for d in diagnostics if d.get("role") in ("utilization", "fallback")]


def _scalar(value):
    value = np.asarray(value).item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _orders(r: Resumed, order, md: MarketData, cfg: Config) -> pd.DataFrame:
    """The orders of the as-of decision: the fill itself (lag 0) or a fill planned at the as-of close."""
    last = r.as_of_row
    if cfg.experiment.execution.lag == 0:
        shares = np.zeros(len(md.assets))
        cost = np.zeros(len(md.assets))
        for rec in r.recorder.fills:
            if rec.row == last and rec.reason == "rebalance":
                np.add.at(shares, rec.asset, rec.shares)
                np.add.at(cost, rec.asset, rec.cost)
    else:
        book = dataclasses.replace(r.book, holdings=r.book.holdings.copy(), cash=r.book.cash.copy())
        fill = r.replay.broker.fill(0, book, slice(None), last, order.targets)
        shares, cost = fill.shares[0], fill.cost[0]
    price = r.replay.inputs.close[last]
    rows = [{"asset": a, "side": "BUY" if s > 0 else "SELL", "shares": abs(float(s)), "reference_price": float(p),
             "estimated_cost": float(c), "reason": "rebalance"}
            for a, s, p, c in zip(md.assets, shares, price, cost) if s != 0]
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def _filled(r: Resumed, md: MarketData, before: int | None) -> pd.DataFrame:
    """Fills this run booked (orders that waited, delistings), except the as-of decision's own."""
    rows = []
    for rec in r.recorder.fills:
        if before is not None and rec.row == before and rec.reason == "rebalance":
            continue
        for a, s, p, c in zip(rec.asset, rec.shares, rec.price, rec.cost):
            rows.append({"date": r.dates[rec.row].date().isoformat(), "asset": md.assets[a], "shares": float(s),
                         "price": float(p), "cost": float(c), "reason": rec.reason})
    return pd.DataFrame(rows, columns=["date", "asset", "shares", "price", "cost", "reason"])


def _empty_orders() -> pd.DataFrame:
    return pd.DataFrame(columns=ORDER_COLUMNS)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
