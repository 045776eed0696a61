"""Multi-strategy books: several sleeves, each its own strategy and pipeline, netted into one book.

The definitions, for a book of K sleeves and each scenario of the batch:

- **A sleeve's book.** Each sleeve is replayed as a book of its own (a *shadow book*), at
  its share of the capital: it starts with ``weight * init_cash``, runs its own strategy and
  Steps on its own holdings and NAV, and pays its own costs on its own trades, under the
  experiment's schedule, execution and cost model. Its NAV is that shadow book's NAV.
- **Sleeve weights.** At each decision, before the sleeves decide, capital moves between the
  shadow books (as cash) so that sleeve k holds ``s_k * sum_j NAV_j`` (``sleeve_weights``:
  ``fixed`` weights, or ``inverse_volatility`` / ``risk_parity`` / ``min_variance`` of the
  sleeves' daily returns over the ``lookback`` days up to the decision, transfers taken
  out). With ``fixed`` and ``rebalance: false`` nothing moves: the sleeves drift.
- **The book.** On each fill day the book trades the net of the sleeves' trades (per asset,
  the sum of their signed shares): since its holdings are the sum of theirs, that is the trade
  from its holdings to the sum of the sleeves' target holdings. It pays the cost model's cost
  of that net trade. Its
  holdings are the sum of the sleeves' holdings at every close; its cash is theirs plus
  the **netting saving** so far: ``sum_k cost_k - cost(net trade)`` summed over the fill
  days, which is zero when no two sleeves trade an asset in opposite directions on the same
  day and the cost model is linear in traded value (``flat``, or ``spread`` + commission
  without a minimum), and positive when they do (any cost that grows with the size of a
  trade and is zero for no trade). So, at every close,

  ``NAV_book = sum_k NAV_k + netting saving``.

  With fixed weights and ``rebalance: false`` each ``NAV_k`` is ``weight_k`` times the
  sleeve's stand-alone run from the whole capital (fills scale with capital: fractional
  shares, no ``min_trade_value``), so the book's NAV is the sleeve-weighted NAV exactly when
  nothing nets. The saving stays in the book's cash (no sleeve is credited with it); holding
  costs (borrow fees) are charged per sleeve and summed.

Sleeves are the batch axis of one event loop (scenario b's sleeve k is row ``b * K + k``),
so a grid over the sleeves' parameters is still one pass over time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from simlab.config import registry
from simlab.config.loader import Config
from simlab.config.scenarios import Scenario
from simlab.costs.base import NoCost
from simlab.data.market import MarketData
from simlab.engine.pipeline import build_groups, distinct_strategies
from simlab.engine.record import FillRecord, Recorder
from simlab.engine.simulate import EventLoop, prepare
from simlab.errors import ConfigError
from simlab.execution.book import Book
from simlab.execution.cost_inputs import CostInputs
from simlab.portfolio import optimize

ALLOCATION_STEP = "sleeves"  # diagnostics step label of the sleeve weights


@dataclass(frozen=True)
class Layout:
    """Where each sleeve sits in the batch axis: scenario b's sleeve k is row ``b * K + k``."""

    names: tuple[str, ...]  # (K,) sleeve names
    scenarios: tuple[str, ...]  # (B,) scenario names
    fixed: np.ndarray  # (B, K) configured weights (equal when none is given)

    @property
    def n_sleeves(self) -> int:
        """K."""
        return len(self.names)

    @classmethod
    def of(cls, cfg: Config) -> Layout:
        """The layout of ``cfg``'s scenarios (every scenario has the same sleeves, in order)."""
        first = cfg.scenarios[0].sleeves
        names = tuple(s["name"] for s in first)
        fixed = []
        for s in cfg.scenarios:
            if tuple(x["name"] for x in s.sleeves) != names:
                raise ConfigError(f"scenarios: scenario {s.name!r} has sleeves "
                                  f"{[x['name'] for x in s.sleeves]}; every scenario needs the sleeves {list(names)}")
            given = [x.get("weight") for x in s.sleeves]
            fixed.append([1.0 / len(names)] * len(names) if given[0] is None else given)
        return cls(names, tuple(s.name for s in cfg.scenarios), np.asarray(fixed, dtype=np.float64))


def sleeve_scenarios(cfg: Config) -> tuple[Scenario, ...]:
    """Every scenario's sleeves as scenarios of their own, named ``scenario/sleeve``, b-major."""
    out = []
    for s in cfg.scenarios:
        for sleeve in s.sleeves:
            out.append(Scenario(name=f"{s.name}/{sleeve['name']}", strategy=sleeve["strategy"], costs=s.costs,
                                pipeline=tuple(sleeve["pipeline"])))
    return tuple(out)


def check_supported(cfg: Config) -> None:
    """Refuse, naming the key, what a book with sleeves does not model."""
    exe = cfg.experiment.execution
    if cfg.experiment.realized_costs is not None:
        raise ConfigError("realized_costs: not supported in a book with sleeves (the netted book's cost is the "
                          "cost model's cost of the net trade); remove realized_costs or the sleeves")
    if exe.max_participation is not None:
        raise ConfigError("execution.max_participation: not supported in a book with sleeves (the cap would "
                          "apply to each sleeve's trade, not to the book's net trade)")
    moves = cfg.experiment.sleeve_weights is None or cfg.experiment.sleeve_weights.rebalance
    for s in cfg.scenarios:
        for k, sleeve in enumerate(s.sleeves):
            for i, entry in enumerate(sleeve["pipeline"]):
                cls = registry.lookup("step", entry["type"], f"sleeves[{k}].pipeline[{i}]")
                if "nav_history" in cls.requires and moves:
                    raise ConfigError(
                        f"sleeves[{k}].pipeline[{i}] ({entry['type']}) reads the sleeve's NAV history, which "
                        "capital moved between sleeves would distort; use sleeve_weights: {method: fixed, "
                        "rebalance: false}, or a Step that reads prices")


class Allocation:
    """The sleeve weights at each decision, and the capital they move (point in time).

    Its diagnostics (step ``sleeves``): ``weight.<sleeve>``, ``transfer.<sleeve>``,
    ``from_returns`` (1: from the sleeves' returns, 0: the fixed weights) and ``fallback``
    (1 where the returns were there but gave no weights: a sleeve without risk in the
    window, all cash, say; the fixed weights served instead; the run's health reports it).
    """

    diagnostic_roles: ClassVar[dict[str, str]] = {"fallback": "fallback"}

    def __init__(self, cfg: Config, layout: Layout, n_days: int, first: int):
        spec = cfg.experiment.sleeve_weights
        self.method = "fixed" if spec is None else spec.method
        self.rebalance = True if spec is None else spec.rebalance
        self.lookback = 126 if spec is None else spec.lookback
        self.layout, self.first = layout, first
        n_books = len(layout.scenarios) * layout.n_sleeves
        self.transfers = np.zeros((n_days, n_books))  # money moved into each sleeve at each close
        self.rows: list[int] = []
        self.weights: list[np.ndarray] = []  # (B, K) per decision
        self.estimated: list[np.ndarray] = []  # (B,) bool, weights from the sleeves' returns (not the fixed ones)
        self.fell_back: list[np.ndarray] = []  # (B,) bool, returns there but no weights from them

    def reallocate(self, row: int, book: Book) -> None:
        """Move capital between each scenario's sleeves to the weights decided at ``row``."""
        n_scen, k = self.layout.fixed.shape
        nav = book.nav[row].reshape(n_scen, k)
        if not self.rebalance:  # drifting: record where the sleeves stand
            self.rows.append(row)
            total = nav.sum(axis=1, keepdims=True)
            self.weights.append(np.divide(nav, total, out=np.zeros_like(nav), where=total != 0))
            self.estimated.append(np.zeros(n_scen, dtype=bool))
            self.fell_back.append(np.zeros(n_scen, dtype=bool))
            return
        weights, estimated = self.target(row, book.nav)
        history = self.method != "fixed" and row - self.lookback >= self.first
        delta = (weights * nav.sum(axis=1, keepdims=True) - nav).ravel()
        old = book.nav[row].copy()
        book.cash += delta
        book.nav[row] += delta
        book.peak_nav *= np.divide(book.nav[row], old, out=np.ones_like(old), where=old > 0)
        self.transfers[row] += delta
        self.rows.append(row)
        self.weights.append(weights)
        self.estimated.append(estimated)
        self.fell_back.append(history & ~estimated)

    def target(self, row: int, nav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, K) sleeve weights at ``row`` from sleeve NAVs up to ``row`` only, and (B,) whether
        they came from the returns (False: the fixed weights, for want of history or of risk)."""
        fixed = self.layout.fixed
        n_scen = fixed.shape[0]
        start = row - self.lookback
        if self.method == "fixed" or start < self.first:
            return fixed.copy(), np.zeros(n_scen, dtype=bool)
        rets = self.sleeve_returns(nav, start + 1, row + 1).reshape(self.lookback, n_scen, -1)
        cov = np.einsum("tbi,tbj->bij", rets - rets.mean(axis=0), rets - rets.mean(axis=0)) / (self.lookback - 1)
        var = np.diagonal(cov, axis1=1, axis2=2)
        usable = np.isfinite(cov).all(axis=(1, 2)) & (var > 0).all(axis=1)
        weights = self._weights(cov, usable)
        ok = usable & np.isclose(weights.sum(axis=1), 1.0) & (weights >= 0).all(axis=1)
        return np.where(ok[:, None], weights, fixed), ok

    def sleeve_returns(self, nav: np.ndarray, start: int, stop: int) -> np.ndarray:
        """(stop - start, B*K) daily returns of the sleeves on rows ``start .. stop - 1``, transfers taken out."""
        before = nav[start - 1 : stop - 1]
        return np.divide(nav[start:stop] - self.transfers[start:stop], before,
                         out=np.zeros_like(before), where=before > 0) - np.where(before > 0, 1.0, 0.0)

    def _weights(self, cov: np.ndarray, usable: np.ndarray) -> np.ndarray:
        n_scen, k, _ = cov.shape
        safe = np.where(usable[:, None, None], cov, np.eye(k)[None])
        if self.method == "inverse_volatility":
            inv = 1.0 / np.sqrt(np.diagonal(safe, axis1=1, axis2=2))
            return inv / inv.sum(axis=1, keepdims=True)
        if self.method == "risk_parity":
            weights, _, _ = optimize.risk_parity_weights(safe, np.ones((n_scen, k), dtype=bool))
            return weights
        out = np.empty((n_scen, k))
        for b in range(n_scen):
            frame = pd.DataFrame(safe[b], index=self.layout.names, columns=self.layout.names)
            out[b] = optimize.min_variance(frame, bounds=(0.0, 1.0)).to_numpy()
        return out


class SleeveLoop(EventLoop):
    """The event loop over the sleeves' shadow books, moving capital between them before each decision."""

    def __init__(self, *args, allocation: Allocation, **options):
        super().__init__(*args, **options)
        self.allocation = allocation

    def _decide(self, row: int):
        self.allocation.reallocate(row, self.book)
        return super()._decide(row)


@dataclass(frozen=True)
class SleeveRun:
    """What the sleeves did: their shadow books, records and weights, and the netting."""

    layout: Layout
    book: Book  # (T, B*K) shadow books
    recorder: Recorder
    allocation: Allocation
    saving: np.ndarray  # (T, B) netting saving of each fill day (sum of sleeve costs - net cost)
    sleeve_cost: np.ndarray  # (T, B*K) each sleeve's fill costs per day


def simulate_sleeves(cfg: Config, md: MarketData, progress=None):
    """Replay every sleeve of every scenario and net them into one book per scenario.

    Returns
    -------
    inputs, book, recorder
        The netted book, as :func:`simlab.engine.simulate.simulate` returns a plain run.
    SleeveRun
        The sleeves' own books.
    """
    check_supported(cfg)
    layout = Layout.of(cfg)
    sleeve_cfg = replace(cfg, scenarios=sleeve_scenarios(cfg))
    inputs = prepare(sleeve_cfg, md)
    scenarios = list(sleeve_cfg.scenarios)
    _, strategy_index = distinct_strategies(scenarios)
    groups = build_groups(scenarios, strategy_index)
    init_cash = cfg.experiment.execution.init_cash
    book = Book.empty(len(inputs.dates), len(scenarios), len(inputs.assets), init_cash)
    book.cash[:] = init_cash * layout.fixed.ravel()
    book.peak_nav[:] = book.cash
    rec = Recorder()
    allocation = Allocation(cfg, layout, len(inputs.dates), inputs.first)
    loop = SleeveLoop(sleeve_cfg, md, inputs, groups, book, rec, tuple(s.name for s in scenarios), strategy_index,
                      allocation=allocation)
    loop.run(progress=progress)
    netted, net_rec, saving, sleeve_cost = net_book(cfg, md, inputs, book, rec, layout)
    _record_allocation(net_rec, allocation, layout)
    net_rec.diagnostics.sort(key=lambda entry: entry[0])
    return inputs, netted, net_rec, SleeveRun(layout, book, rec, allocation, saving, sleeve_cost)


def net_book(cfg: Config, md: MarketData, inputs, book: Book, rec: Recorder, layout: Layout):
    """The book of each scenario from its sleeves' books: net trades, their cost, the summed holdings.

    Returns the book, its recorder, the (T, B) netting saving per day and the (T, B*K) sleeve costs per day.
    """
    k = layout.n_sleeves
    n_scen, n_days, n_assets = len(layout.scenarios), len(inputs.dates), len(inputs.assets)
    costs = _CostModels(cfg, md)
    out = Recorder()
    saving = np.zeros((n_days, n_scen))
    sleeve_cost = np.zeros((n_days, n_scen * k))
    for (row, reason), records in _fills_by_day(rec.fills).items():
        shares, paid = np.zeros((n_scen, n_assets)), np.zeros((n_scen, n_assets))
        for f in records:
            np.add.at(shares, (f.scenario // k, f.asset), f.shares)
            np.add.at(paid, (f.scenario // k, f.asset), f.cost)
            np.add.at(sleeve_cost[row], f.scenario, f.cost)
        price = inputs.value_price[row]
        net_cost = np.zeros_like(shares) if reason == "delisted" else costs(row, shares, price)
        saving[row] += paid.sum(axis=1) - net_cost.sum(axis=1)
        out.fill(row, shares, price, net_cost, reason)
        out.diag(row, np.arange(n_scen), "engine", {"cost": net_cost.sum(axis=1),
                                                    "netting_saving": paid.sum(axis=1) - net_cost.sum(axis=1)})
    for row, holdings in zip(rec.snapshot_rows, rec.snapshots):
        out.snapshot(row, holdings.reshape(n_scen, k, n_assets).sum(axis=1))
    _split_diagnostics(out, rec, layout)
    def per_sleeve(a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[0], n_scen, k)

    cumulative = np.cumsum(saving, axis=0)
    nav = per_sleeve(book.nav).sum(axis=2) + cumulative
    span = slice(inputs.first, inputs.last + 1)
    peak = np.fmax.reduce(nav[span], axis=0) if inputs.last >= inputs.first else nav[-1]
    share = np.divide(book.nav[inputs.last], np.repeat(nav[inputs.last] - cumulative[inputs.last], k),
                      out=np.zeros(n_scen * k), where=np.repeat(nav[inputs.last], k) != 0)
    netted = Book(
        holdings=book.holdings.reshape(n_scen, k, n_assets).sum(axis=1),
        cash=book.cash.reshape(n_scen, k).sum(axis=1) + cumulative[-1],
        peak_nav=peak, nav=nav, fees=per_sleeve(book.fees).sum(axis=2),
        financing=per_sleeve(book.financing).sum(axis=2),
        last_rebalance=book.last_rebalance.reshape(n_scen, k).max(axis=1),
        last_targets=(book.last_targets * share[:, None]).reshape(n_scen, k, n_assets).sum(axis=1),
        last_signal=np.full((n_scen, n_assets), np.nan),
    )
    return netted, out, saving, sleeve_cost


def _fills_by_day(fills: list[FillRecord]) -> dict[tuple[int, str], list[FillRecord]]:
    """The sleeves' fill records grouped by (row, reason), in the order they happened."""
    out: dict[tuple[int, str], list[FillRecord]] = {}
    for f in fills:
        out.setdefault((f.row, f.reason), []).append(f)
    return out


class _CostModels:
    """The experiment's cost model of each scenario, priced on the book's net trades."""

    def __init__(self, cfg: Config, md: MarketData):
        by_config: dict[str, list[int]] = {}
        for b, s in enumerate(cfg.scenarios):
            by_config.setdefault(json.dumps(s.costs, sort_keys=True, default=str), []).append(b)
        self.models = []
        for key, rows in by_config.items():
            spec = json.loads(key)
            model = NoCost() if spec is None else registry.build_batch("cost", [spec] * len(rows), "costs")
            if "fill_history" in model.requires:
                raise ConfigError(f"costs: {spec['type']!r} learns from its own fills, which a book with sleeves "
                                  "does not keep per sleeve; choose a cost model without fill history")
            self.models.append((np.asarray(rows), model))
        self.inputs = CostInputs.build(md, tuple(m for _, m in self.models))

    def __call__(self, row: int, shares: np.ndarray, price: np.ndarray) -> np.ndarray:
        out = np.zeros_like(shares)
        ctx = self.inputs.context(row)
        for rows, model in self.models:
            value = shares[rows] * price[None, :]
            cost = np.asarray(model(value, shares[rows], price, ctx), dtype=np.float64)
            out[rows] = np.where(shares[rows] != 0, cost, 0.0)
        return out


def _split_diagnostics(out: Recorder, rec: Recorder, layout: Layout) -> None:
    """The sleeves' diagnostics on the book's scenarios: a Step's as ``sleeve/step``, the
    engine's (buy scale, blocked orders, costs) as ``engine`` keys ``sleeve.key``."""
    k = layout.n_sleeves
    for row, rows, step, values, step_class in rec.diagnostics:
        rows = np.asarray(rows)
        for j, name in enumerate(layout.names):
            mine = rows % k == j
            if not mine.any():
                continue
            picked = {key: _pick(value, mine) for key, value in values.items()}
            if step in ("engine", "costs"):
                out.diag(row, rows[mine] // k, "engine", {f"{name}.{key}": v for key, v in picked.items()})
            else:
                out.diag(row, rows[mine] // k, f"{name}/{step}", picked, step_class)


def _pick(value, mine: np.ndarray):
    arr = np.asarray(value)
    return arr[mine] if arr.ndim >= 1 and arr.shape[0] == len(mine) else value


def _record_allocation(out: Recorder, allocation: Allocation, layout: Layout) -> None:
    """Each decision's sleeve weights as diagnostics of step ``sleeves``."""
    n_scen, k = layout.fixed.shape
    for row, weights, estimated, fell_back in zip(allocation.rows, allocation.weights, allocation.estimated,
                                                  allocation.fell_back):
        values = {f"weight.{name}": weights[:, j] for j, name in enumerate(layout.names)}
        values.update({f"transfer.{name}": allocation.transfers[row].reshape(n_scen, k)[:, j]
                       for j, name in enumerate(layout.names)})
        values["from_returns"] = estimated.astype(float)
        values["fallback"] = fell_back.astype(float)
        out.diag(row, np.arange(n_scen), ALLOCATION_STEP, values, Allocation)
