"""The Step contract: everything after the signal is a Step.

A Step is a frozen dataclass holding configuration only. Called with the target weights
of B scenarios, shape (B, N), and a :class:`StepContext`, it returns new weights (B, N)
and a flat dict of diagnostics: each value a scalar, an array (B,) of one value per
scenario, or an array (B, N) of one value per scenario and asset. A Step never reads
global state; all it may see is in ``ctx``, which serves market data up to the decision
day only.

Numeric fields may hold one value per scenario (an array of shape (B,)) when a scenario
grid varies them; :func:`per_scenario` turns a field into a (B, 1) column that broadcasts
over assets, so one Step call serves the whole batch.

A Step that decides a scenario must not trade at this rebalance (a pre-trade check that
blocks it, a drift band not breached, a cooldown) says so with the diagnostics key
:data:`HOLD`: a (B,) bool array, True where the book must stay as it is. Holds from
several Steps combine with "or"; the engine records them and skips those scenarios' fills.

The diagnostics keys that readers act on (a constraint's utilization, a fallback taken, a
proxy used) say so in ``diagnostic_roles``, a mapping from a key or a ``fnmatch`` pattern to
a :class:`simlab.contract.roles.Role`; ``HOLD`` has its role without declaring it.

``requires`` names what a Step reads from ``ctx`` beyond prices and the book
(``"signal"``); ``provides`` names what it adds. The engine checks the chain when the
config loads: a Step that requires a signal in an experiment without a strategy is a
ConfigError, not a crash at the first rebalance.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import yaml

from simlab.config.scenarios import BASE_FEATURES  # noqa: F401  (re-exported)
from simlab.data.market import PointInTimeView

HOLD = "hold"  # diagnostics key: (B,) bool, True where the scenario must not trade now


@dataclass(frozen=True)
class StepContext:
    """What a Step may see at decision row ``t``, for the B scenarios it serves.

    Attributes
    ----------
    t, date : decision row and day.
    view : PointInTimeView over ``close`` (T, N), ``returns`` (T, N) and, when present,
        ``benchmark`` (T,); rows after ``t`` cannot be reached.
    assets : asset names (N,).
    tradeable : bool (N,), the asset has a price at ``t``.
    signal : (B, N) strategy signal at ``t`` per scenario, or None without a strategy.
    weights : (B, N) current end-of-day weights of the book (before trading).
    nav, peak_nav : (B,) book value and its running peak at ``t``.
    meta : asset metadata (for example ``sector``) indexed by asset, or None.
    scenarios : names of the B scenarios.
    rng : a seeded generator for Steps that randomize.
    features : name -> (B, ...) values at ``t`` of the Features this Step declared.
    last_rebalance : (B,) int row of each scenario's last executed rebalance, -1 if none.
    last_targets : (B, N) target weights of that rebalance (zeros if none).
    last_signal : (B, N) signal at that rebalance's decision (NaN if none), or None.
    nav_history : (t - first + 1, B) read-only NAV at every close from the first simulated
        day through t, for Steps that declare ``"nav_history"`` in ``requires``; else None.
    memory : for a Step with ``stateful = True``, a dict the engine keeps for it (and these
        scenarios) from one decision to the next, for solver warm starts; written only by
        past decisions. Other Steps get a fresh, empty dict.
    leverage : the experiment's ``execution.leverage`` (cash may go down to
        ``-(leverage - 1) * NAV``); None where the book holds futures, whose notional is
        checked against their margin at the fill instead.
    margin : the experiment's ``execution.margin`` (gross at most ``1 / margin`` times NAV),
        or None.
    periods_per_year : daily rows in a year of the data's calendar (``data.calendar``: 252
        on ``trading_days``, 365 on ``every_day``); a Step that annualises a daily figure
        reads it through :func:`year_of` unless its config sets ``periods``.
    """

    t: int
    date: pd.Timestamp
    view: PointInTimeView
    assets: tuple[str, ...]
    tradeable: np.ndarray
    signal: np.ndarray | None
    weights: np.ndarray
    nav: np.ndarray
    peak_nav: np.ndarray
    meta: pd.DataFrame | None
    scenarios: tuple[str, ...]
    rng: np.random.Generator
    features: Mapping[str, np.ndarray] = field(default_factory=dict)
    last_rebalance: np.ndarray | None = None
    last_targets: np.ndarray | None = None
    last_signal: np.ndarray | None = None
    nav_history: np.ndarray | None = None
    memory: dict = field(default_factory=dict)
    leverage: float | None = 1.0
    margin: float | None = None
    periods_per_year: int = 252

    @classmethod
    def from_fields(cls, fields: dict) -> StepContext:
        """The context with ``fields`` (a dict naming every field but ``features`` and ``memory``,
        which start empty), built without the frozen ``__init__``'s one ``__setattr__`` per field:
        the engine makes one per decision. ``fields`` becomes the context's own: pass a fresh dict."""
        ctx = object.__new__(cls)
        fields["features"], fields["memory"] = {}, {}
        object.__setattr__(ctx, "__dict__", fields)  # the dict itself, not a copy of it
        return ctx

    def feature(self, name: str) -> np.ndarray:
        """The (B, ...) value at ``t`` of a Feature this Step declared under ``name``."""
        try:
            return self.features[name]
        except KeyError:
            raise KeyError(
                f"feature {name!r} was not declared by this step (declared: {sorted(self.features)}); "
                "return it from Step.features()"
            ) from None

    @property
    def n_scenarios(self) -> int:
        """B, the number of scenarios in this call."""
        return len(self.scenarios)


@dataclass(frozen=True)
class Step:
    """Base of every pipeline Step (see the module docstring for the contract).

    Requires: nothing beyond prices and the book. Provides: target weights.
    """

    requires: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()
    key: ClassVar[str] = ""
    stateful: ClassVar[bool] = False  # True: the engine keeps ctx.memory for it across decisions
    diagnostic_roles: ClassVar[Mapping[str, str]] = {}  # key or pattern -> a simlab.contract.roles.Role

    def __call__(self, weights: np.ndarray, ctx: StepContext) -> tuple[np.ndarray, dict[str, Any]]:
        """Return new (B, N) weights and diagnostics."""
        raise NotImplementedError

    def features(self, n_scenarios: int) -> dict[str, list]:
        """Name -> one :class:`simlab.features.base.Feature` per scenario (B,) this Step reads.

        The engine computes them for every decision row before the loop and serves them
        as ``ctx.feature(name)``. A field that varies by scenario (an array) gives each
        scenario its own Feature; identical ones are computed once.
        """
        return {}

    def __str__(self) -> str:
        """The Step as a one-line YAML config entry, ``{type: key, field: value, ...}``."""
        entry = {"type": self.key}
        entry.update({f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)})
        return yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=float("inf")).strip()


def _plain(value: Any) -> Any:
    """``value`` as plain YAML data: arrays and tuples as lists, numpy scalars as numbers."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool, datetime.date)):
        return value
    return str(value)


def scenario_values(value: Any, n_scenarios: int) -> list:
    """A scalar or (B,) field as a list of B plain Python values (for building Features)."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return [arr.item()] * n_scenarios
    return [v.item() for v in arr]


def year_of(periods: Any, ctx: StepContext) -> np.ndarray:
    """A Step's ``periods`` field as a float (B, 1) column: the run's year where it is None.

    ``periods: null`` (the default of the Steps that annualise) follows the data's calendar
    (``ctx.periods_per_year``); a number, or one per scenario, is used as given.
    """
    return per_scenario(ctx.periods_per_year if periods is None else periods, ctx.n_scenarios)


def per_scenario(value: Any, n_scenarios: int) -> np.ndarray:
    """A scalar or (B,) field as a float (B, 1) column that broadcasts over assets."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full((n_scenarios, 1), float(arr))
    if arr.shape != (n_scenarios,):
        raise ValueError(f"expected a scalar or {n_scenarios} values; got shape {arr.shape}")
    return arr.reshape(-1, 1)
