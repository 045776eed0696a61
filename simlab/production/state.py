"""The book's state: what a paper or live book carries from one run of the pipeline to the next.

A :class:`PortfolioState` is plain data (dates as ISO strings, arrays as lists) so that every
store writes it the same way and a JSON export reads back to the same bits. It holds what the
backtest's book holds at a close (holdings in shares, cash, NAV, peak NAV, the last rebalance,
its targets and signal), what the replay needs to go on where it stopped (the orders still
waiting for their fill day, each stateful Step's memory, the random generator), and what a
book needs beyond a backtest (cost basis per asset, the NAV at every close since the book
started, cash flows).

Arrays inside a Step's memory (a solver's warm start) are written as ``{"__array__": dtype,
"shape": [...], "data": [...]}`` and dataclasses (a solver's state) as
``{"__object__": "module:Name", "fields": {...}}`` (simlab's own types only); both read back to equal bits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simlab.errors import SimlabError

SCHEMA_VERSION = 1  # of the state's plain-data layout; the stores check it


class StateError(SimlabError):
    """A state that cannot be used: corrupt, of an unknown schema, or of another config."""


class ConcurrentWriteError(StateError):
    """Another writer committed first: the store holds a newer version than the one read."""


@dataclass
class PortfolioState:
    """One book at the close of ``as_of``.

    Attributes
    ----------
    book : identity of the book: config name, scenario, config hash and the resolved
        settings that hash covers (``settings``).
    assets : asset names, in the order of every per-asset list.
    start, as_of : first close of the book and the close this state is valued at (ISO dates).
    holdings, cost_basis : shares and average cost per share (0 where flat), per asset.
    cash, nav, peak_nav : money; ``peak_nav`` is flow-adjusted (see :meth:`with_flow`).
    last_rebalance : decision day of the last executed rebalance, or None.
    last_targets, last_signal : its target weights and the signal it was decided on (None: NaN).
    pending : orders decided and not yet filled, as plain dicts (fill day first).
    memory : each stateful Step's memory, keyed ``"group:step label"``.
    rng : the seeded generator's state.
    nav_dates, nav_values : NAV at every close since ``start``, flow-adjusted for the Steps.
    flows : deposits (+) and withdrawals (-), each ``{"date", "amount", "note"}``.
    monitor : the monitors' memory (:mod:`simlab.production.monitoring`): armed drawdown
        thresholds, the last regime label, the last day checked, alerts not yet delivered.
    version : the store's version of this state (0: never committed).
    """

    book: dict
    assets: list
    start: str
    as_of: str
    holdings: list
    cost_basis: list
    cash: float
    nav: float
    peak_nav: float
    last_rebalance: str | None = None
    last_targets: list = field(default_factory=list)
    last_signal: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    memory: dict = field(default_factory=dict)
    rng: dict | None = None
    nav_dates: list = field(default_factory=list)
    nav_values: list = field(default_factory=list)
    flows: list = field(default_factory=list)
    monitor: dict = field(default_factory=dict)
    version: int = 0

    @classmethod
    def new(cls, book: dict, assets, as_of: str, init_cash: float) -> PortfolioState:
        """A book of ``init_cash`` and nothing else, starting at the close of ``as_of``."""
        n = len(assets)
        return cls(book=book, assets=list(assets), start=as_of, as_of=as_of, holdings=[0.0] * n,
                   cost_basis=[0.0] * n, cash=float(init_cash), nav=float(init_cash), peak_nav=float(init_cash),
                   last_targets=[0.0] * n, last_signal=[None] * n)

    def to_dict(self) -> dict:
        """Plain data (JSON-ready), with the schema version."""
        out = dataclasses.asdict(self)
        out["schema"] = SCHEMA_VERSION
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "state") -> PortfolioState:
        """The state written by :meth:`to_dict`; an unknown schema or a missing key is a StateError."""
        if not isinstance(data, dict):
            raise StateError(f"{where}: expected a JSON object; got {type(data).__name__}")
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise StateError(f"{where}: state schema {schema!r} is not known to this simlab "
                             f"(it reads schema {SCHEMA_VERSION})")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(n for n in names if n not in data and n not in _OPTIONAL)
        if missing:
            raise StateError(f"{where}: state lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_json(self) -> str:
        """The state as one JSON text (NaN written as ``NaN``, read back by Python's json)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "state") -> PortfolioState:
        """Parse :meth:`to_json`'s text; corrupt JSON is a StateError naming ``where``."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise StateError(f"{where}: the state is not valid JSON ({err})") from None
        return cls.from_dict(data, where)

    def with_flow(self, date: str, amount: float, note: str = "") -> PortfolioState:
        """A copy with ``amount`` of cash added (a deposit) or taken (a withdrawal, < 0) at ``date``.

        The flow is recorded; the NAV history and peak the Steps read are scaled by
        ``(nav + amount) / nav`` so that a flow is neither a gain nor a drawdown to them (the
        book's returns are time-weighted, :func:`time_weighted_returns`).
        """
        if not math.isfinite(amount) or amount == 0:
            raise StateError(f"a cash flow must be a non-zero finite amount; got {amount}")
        if self.cash + amount < 0:
            raise StateError(f"withdrawing {-amount:,.2f} leaves cash at {self.cash + amount:,.2f}; "
                             f"the book holds {self.cash:,.2f} in cash")
        if self.nav + amount <= 0:
            raise StateError(f"a flow of {amount:,.2f} leaves the book's NAV at {self.nav + amount:,.2f}")
        scale = (self.nav + amount) / self.nav
        out = dataclasses.replace(self, cash=self.cash + amount, nav=self.nav + amount,
                                  peak_nav=self.peak_nav * scale,
                                  nav_values=[v * scale for v in self.nav_values],
                                  flows=[*self.flows, {"date": date, "amount": float(amount), "note": note}])
        if out.nav_dates and out.nav_dates[-1] == date:
            out.nav_values[-1] = out.nav
        return out


_OPTIONAL = {"version", "rng", "flows", "memory", "pending", "last_rebalance", "monitor"}


def book_identity(config_name: str, scenario: str, settings: dict) -> dict:
    """The book's identity: names, the settings that decide its trades, and their hash."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return {"config": config_name, "scenario": scenario, "hash": hashlib.sha256(text.encode()).hexdigest()[:16],
            "settings": json.loads(text)}


def check_same_book(state: PortfolioState, book: dict, assets, where: str) -> None:
    """Raise a StateError naming what differs when ``state`` belongs to another config or asset set."""
    assets = list(assets)
    if state.assets != assets:
        gone = [a for a in state.assets if a not in assets]
        new = [a for a in assets if a not in state.assets]
        detail = "; ".join(p for p in (f"not in the data now: {', '.join(gone)}" if gone else "",
                                       f"new in the data: {', '.join(new)}" if new else "") if p)
        raise StateError(f"{where}: the book's assets differ from the data's ({detail or 'order changed'})")
    if state.book.get("hash") != book["hash"] or state.book.get("scenario") != book["scenario"]:
        old, now = state.book.get("settings", {}), book["settings"]
        keys = sorted(k for k in set(old) | set(now) if old.get(k) != now.get(k))
        if state.book.get("scenario") != book["scenario"]:
            keys.insert(0, f"scenario ({state.book.get('scenario')!r} -> {book['scenario']!r})")
        raise StateError(f"{where}: the book was started by config {state.book.get('config')!r} "
                         f"(hash {state.book.get('hash')}); this config (hash {book['hash']}) differs in: "
                         f"{', '.join(keys) or 'its settings'}")


def time_weighted_returns(dates: list, navs: list, flows: list) -> list:
    """Daily time-weighted returns of a NAV series with cash flows.

    ``navs`` are after any flow of that day (the flow-adjusted series of a
    :class:`PortfolioState` already is), so each day's return is ``nav_t / nav_{t-1} - 1``
    on that series; returned as ``[(date, return)]`` from the second close.
    """
    del flows  # the adjusted series already neutralises them
    return [(d, navs[i] / navs[i - 1] - 1.0) for i, d in enumerate(dates) if i > 0]


# ---------------------------------------------------------------- memory <-> plain data

def encode(value: Any) -> Any:
    """A Step's memory as plain JSON data (arrays, array tuples, dicts, numbers)."""
    if isinstance(value, np.ndarray):
        return {"__array__": value.dtype.str, "shape": list(value.shape), "data": value.ravel().tolist()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        return {"__object__": f"{kind.__module__}:{kind.__qualname__}",
                "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise StateError(f"a Step's memory holds a {type(value).__name__}, which the book cannot store")


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, dict):
        if "__array__" in value:
            return np.asarray(value["data"], dtype=np.dtype(value["__array__"])).reshape(value["shape"])
        if "__object__" in value:
            module, name = value["__object__"].split(":")
            if module.split(".")[0] != "simlab":
                raise StateError(f"a Step's memory names {module}:{name}, which is not a simlab type")
            kind = getattr(importlib.import_module(module), name)
            return kind(**{f: decode(v) for f, v in value["fields"].items()})
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def basis_after_fill(basis: float, before: float, shares: float, price: float, cost: float) -> float:
    """Average cost per share of a position of ``before`` shares after a fill of ``shares``.

    A fill's cost adds to the basis of what it opens or adds to; a reduction keeps the basis; a
    position closed (within 1e-12 shares) has none; one that flips side starts afresh at the fill.
    """
    after = before + shares
    if abs(after) < 1e-12:
        return 0.0
    if before == 0 or np.sign(before) != np.sign(after):
        return (abs(after) * price + cost) / abs(after)
    if abs(after) > abs(before):
        return (basis * abs(before) + abs(shares) * price + cost) / abs(after)
    return basis

