"""What ``simlab state`` does to a stored book: show, history, restore, cash flows, a broker's fills.

Each change is one commit (optimistic: a concurrent writer makes it fail, nothing written).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.production.state import PortfolioState, StateError, basis_after_fill, time_weighted_returns
from simlab.production.stores import Store

FILL_COLUMNS = ("asset", "shares", "price", "cost")


def loaded(store: Store) -> PortfolioState:
    """The store's state; a StateError naming the store when it is empty."""
    state = store.load()
    if state is None:
        raise StateError(f"{store.url}: no book yet; start one with simlab pipeline CONFIG --state {store.url} "
                         "--as-of DATE --execute")
    return state


def show(state: PortfolioState) -> str:
    """The book as text: identity, money, positions, waiting orders, time-weighted return."""
    returns = [r for _, r in time_weighted_returns(state.nav_dates, state.nav_values, state.flows)]
    twr = float(np.prod(1.0 + np.asarray(returns)) - 1.0) if returns else 0.0
    lines = [f"book {state.book['config']} / {state.book['scenario']} (hash {state.book['hash']}), "
             f"version {state.version}",
             f"as of {state.as_of} (since {state.start}); last rebalance {state.last_rebalance or 'none'}",
             f"NAV {money(state.nav)}  cash {money(state.cash)}  peak {money(state.peak_nav)}  "
             f"time-weighted return {twr:+.2%}  flows {len(state.flows)}  waiting orders {len(state.pending)}"]
    held = [(a, h, b) for a, h, b in zip(state.assets, state.holdings, state.cost_basis) if h != 0]
    if held:
        table = pd.DataFrame(held, columns=["asset", "shares", "cost_basis"])
        lines.append(table.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))
    return "\n".join(lines)


def history_table(store: Store) -> pd.DataFrame:
    """Every commit: version, as_of, event, nav, cash (money as text, to the cent)."""
    table = pd.DataFrame(store.history(), columns=["version", "as_of", "event", "nav", "cash"])
    for column in ("nav", "cash"):
        table[column] = table[column].map(money)
    return table


def money(value: float) -> str:
    """Money to the cent; rounding dust below half a cent prints as 0.00, not -0.00."""
    return f"{value if abs(value) >= 0.005 else 0.0:,.2f}"


def restore(store: Store, text: str) -> PortfolioState:
    """Commit an exported state's content as the store's next version."""
    state = PortfolioState.from_json(text, "the export")
    current = store.load()
    return store.commit(dataclasses.replace(state, version=0 if current is None else current.version), "restore")


def cash_flow(store: Store, amount: float, note: str = "") -> PortfolioState:
    """Record a deposit (> 0) or withdrawal (< 0) at the book's last close."""
    state = loaded(store)
    return store.commit(state.with_flow(state.as_of, amount, note), "deposit" if amount > 0 else "withdraw",
                        {"amount": amount, "note": note})


def _answered(state: PortfolioState) -> dict:
    """The last rebalance, targets and signal of the waiting decision the fills answer (none: {})."""
    for entry in state.pending:
        order = entry["order"]
        if order["trade"][0] and not order["carried"][0]:
            day = state.nav_dates[len(state.nav_dates) - 1 + int(order["decided_offset"][0])]
            targets = [0.0 if v is None else v for v in order["targets"][0]]
            return {"last_rebalance": day, "last_targets": targets, "last_signal": order["signal"][0]}
    return {}


def apply_fills(store: Store, path: str | Path) -> PortfolioState:
    """Book a broker's fills (asset, signed shares, price, cost) instead of the paper fills.

    Holdings, cash and cost basis move; NAV drops by the costs (the positions are valued at
    the fill prices until the next pipeline run marks them); orders waiting are dropped, as
    the broker has answered them, and the decision they came from becomes the last rebalance
    (what a cooldown or a turnover check reads), as a paper fill would make it.
    """
    fills = pd.read_csv(path)
    missing = [c for c in FILL_COLUMNS if c not in fills.columns]
    if missing:
        raise StateError(f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(FILL_COLUMNS)})")
    state = loaded(store)
    unknown = sorted(set(fills["asset"]) - set(state.assets))
    if unknown:
        raise StateError(f"{path}: asset(s) {', '.join(map(str, unknown))} are not in the book")
    values = fills[list(FILL_COLUMNS[1:])].to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values[:, 1] <= 0).any() or (values[:, 2] < 0).any():
        raise StateError(f"{path}: shares must be finite, prices > 0 and costs >= 0")
    holdings, basis = np.asarray(state.holdings, float), np.asarray(state.cost_basis, float)
    index = {a: i for i, a in enumerate(state.assets)}
    cash = state.cash
    for asset, (shares, price, cost) in zip(fills["asset"], values):
        i = index[asset]
        basis[i] = basis_after_fill(basis[i], holdings[i], shares, price, cost)
        holdings[i] += shares
        cash -= shares * price + cost
    nav = state.nav - float(values[:, 2].sum())
    new = dataclasses.replace(state, holdings=holdings.tolist(), cost_basis=basis.tolist(), cash=cash, nav=nav,
                              pending=[], **_answered(state))
    return store.commit(new, "apply_fills", {"fills": len(fills), "file": str(path)})
