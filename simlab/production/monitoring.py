"""``simlab monitor``: the monitors run on a book at ``--as-of``, their alerts delivered and remembered.

:func:`monitor_book` reads the book's state, checks every close since the last monitored day
(drawdown thresholds on the NAV history, changes of the pipeline's regime detector, the
outcome and diagnostics of each pipeline run the store recorded, orders past their fill
day) and the data the pipeline will use at ``as_of`` (data quality), hands the alerts to the
sinks, and commits the monitors' memory into the state (``PortfolioState.monitor``) in one
transaction: the armed thresholds, the running peak, the last regime label, the last day
checked and, per sink, the alerts it failed to take. A second run at the same ``as_of``
fires nothing new and only retries what is owed. The rules are :mod:`simlab.analysis.monitors`,
the same ones ``Result.alerts`` applies to a backtest.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import pandas as pd

from simlab.analysis.monitors import (
    Alert,
    MonitorSettings,
    constraint_alerts,
    data_quality_alerts,
    decision_alerts,
    drawdown_alerts,
    overdue_alerts,
    pipeline_detector,
    regime_alerts,
    regime_frame,
)
from simlab.config.loader import Config
from simlab.data.market import MarketData
from simlab.production.alerts import Sink, deliver
from simlab.production.pipeline import book_settings
from simlab.production.state import (
    PortfolioState,
    StateError,
    book_identity,
    check_same_book,
)
from simlab.production.stores import Store

RECENT = 200  # alerts kept in the state for the report's "recent alerts"


@dataclass
class MonitorRun:
    """One run of the monitors: the new alerts, delivery failures, and the state committed."""

    as_of: str
    alerts: list[Alert]
    errors: list[str]
    undelivered: int
    state: PortfolioState
    notes: list = field(default_factory=list)

    def worst(self) -> str | None:
        """The highest level among the new alerts (None without any)."""
        order = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
        return max((a.level for a in self.alerts), key=order.get, default=None)


def monitor_book(cfg: Config, md: MarketData, store: Store, as_of, sinks: list[Sink],
                 settings: MonitorSettings | None = None) -> MonitorRun:
    """Run the monitors on the book in ``store`` at the close of ``as_of`` (see the module docstring)."""
    settings = settings or MonitorSettings()
    state = store.load()
    if state is None:
        raise StateError(f"{store.url}: no book here yet; `simlab pipeline CONFIG --state {store.url} "
                         "--as-of DATE --execute` starts one")
    book = book_identity(cfg.name, cfg.scenarios[0].name, book_settings(cfg))
    check_same_book(state, book, state.assets, store.url)  # assets gone from the data are a DATA_QUALITY alert
    day = pd.Timestamp(as_of)
    memory = dict(state.monitor)
    checked = pd.Timestamp(memory["checked"]) if memory.get("checked") else None
    notes = []
    if checked is not None and day < checked:
        raise StateError(f"{store.url}: the monitors already checked the book through {checked.date()}; "
                         f"--as-of {day.date()} is earlier")
    alerts: list[Alert] = []
    if checked is None or day > checked:
        alerts += _nav_alerts(state, memory, checked, day, settings)
        alerts += _regime(cfg, md, memory, checked or pd.Timestamp(state.start) - pd.Timedelta(days=1), day, notes)
        alerts += _decisions(store, checked, day, settings)
        alerts += _overdue(state, md, day)
        alerts += data_quality_alerts(md.close, day, settings, book_assets=state.assets,
                                      benchmark=md.benchmark, macro=md.macro)
        memory["checked"] = day.date().isoformat()
    else:
        notes.append(f"the book was already checked at {day.date()}: only undelivered alerts are retried")
    undelivered, errors = deliver(alerts, sinks, memory.get("undelivered", {}))
    memory["undelivered"] = undelivered
    memory["recent"] = (list(memory.get("recent", [])) + [a.to_dict() for a in alerts])[-RECENT:]
    new = store.commit(dataclasses.replace(state, monitor=memory), "monitor",
                       {"alerts": len(alerts), "undelivered": sum(len(v) for v in undelivered.values())})
    return MonitorRun(day.date().isoformat(), alerts, errors, sum(len(v) for v in undelivered.values()), new, notes)


def _nav_alerts(state: PortfolioState, memory: dict, checked, day, settings: MonitorSettings) -> list[Alert]:
    dates = pd.DatetimeIndex(state.nav_dates)
    keep = (dates <= day) & (dates > checked if checked is not None else True)
    navs = [v for v, k in zip(state.nav_values, keep) if k]
    peak = memory.get("peak")
    alerts, peak, armed = drawdown_alerts(dates[keep], navs, -math.inf if peak is None else peak,
                                          memory.get("armed", []), settings)
    memory["peak"], memory["armed"] = (None if not math.isfinite(peak) else peak), armed
    return alerts


def _regime(cfg: Config, md: MarketData, memory: dict, after, day, notes: list) -> list[Alert]:
    spec = pipeline_detector(cfg.scenarios[0].pipeline)
    if spec is None:
        notes.append("no Step of the pipeline has a regime detector: REGIME not monitored")
        return []
    path = regime_frame(spec, md.slice(None, day))
    path = path[path.index > after]
    alerts, last = regime_alerts(path.index, path["label"], path["stress"], path["known"],
                                 memory.get("regime_label"), spec["type"])
    memory["regime_label"] = last
    return alerts


def _decisions(store: Store, checked, day, settings: MonitorSettings) -> list[Alert]:
    out = []
    for row in store.history():
        when = pd.Timestamp(row["as_of"])
        if row["event"] == "monitor" or when > day or (checked is not None and when <= checked):
            continue
        detail = row.get("detail") or {}
        out += decision_alerts(when, row["event"], int(detail.get("orders", 0)), int(detail.get("filled", 0)),
                               detail.get("held_by", ()))
        out += constraint_alerts(when, detail.get("flags", []), settings)
    return out


def _overdue(state: PortfolioState, md: MarketData, day) -> list[Alert]:
    last = pd.Timestamp(state.as_of)
    if last >= day:
        return []
    days_since = int(((md.dates > last) & (md.dates <= day)).sum())
    return overdue_alerts(day, last, days_since, state.pending)
