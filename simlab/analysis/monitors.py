"""Monitors: the rules that decide when a book pages someone, the same in a backtest and a book.

Each rule reads plain series (NAV, regime labels, prices, diagnostics with their roles) and
returns :class:`Alert` records; rules with memory (drawdown thresholds, the last regime label)
take that memory in and hand the new one back, so a book stores it between runs and a backtest
threads it through its history.

Kinds and levels
----------------
``DRAWDOWN``      the drawdown from the running peak crossed a threshold (default 10, 20, 30%):
                  WARNING for the first threshold, CRITICAL beyond. Each threshold alerts once
                  and re-arms when the drawdown recovers to ``rearm`` times the threshold
                  (default 0: a new peak), with an INFO alert.
``REGIME``        the regime detector's label changed (WARNING into a stress label, else INFO).
``DATA_QUALITY``  a stale price, a gap, a jump beyond ``jump_k`` robust standard deviations, a
                  benchmark or macro series without a value on the as-of date, an asset of the
                  book missing from the data.
``CONSTRAINT``    a diagnostic with the ``utilization`` role above ``utilization_level``, one with
                  the ``fallback`` role above 0, a blocked rebalance.
``REBALANCE``     a rebalance decided or executed (INFO), one blocked (WARNING).
``EXECUTION``     fills booked (INFO), an order past its fill day (CRITICAL).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from simlab.errors import ConfigError

LEVELS = ("INFO", "WARNING", "CRITICAL")
KINDS = ("DRAWDOWN", "REGIME", "DATA_QUALITY", "CONSTRAINT", "REBALANCE", "EXECUTION")
ROBUST_SCALE = 1.4826  # MAD to standard deviation under normality
TOLERANCE = 1e-12  # a drawdown this close to a threshold has reached it (1 - 80/100 is 0.19999999999999996)


@dataclass(frozen=True)
class Alert:
    """One alert: when (the as-of close it concerns), how bad, what kind, a sentence, and fields."""

    time: str
    level: str
    kind: str
    message: str
    fields: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"alert level {self.level!r} is not one of {', '.join(LEVELS)}")
        if self.kind not in KINDS:
            raise ValueError(f"alert kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def to_dict(self) -> dict:
        """``{"time", "level", "kind", "message", "fields"}``: one JSON-lines record."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Alert:
        """Inverse of :meth:`to_dict`."""
        return cls(data["time"], data["level"], data["kind"], data["message"], dict(data.get("fields", {})))

    @property
    def key(self) -> tuple:
        """What makes two alerts the same alert (a retried delivery must not duplicate it)."""
        return (self.time, self.kind, self.message)


@dataclass(frozen=True)
class MonitorSettings:
    """Thresholds of the monitors (every default is documented in the module docstring)."""

    drawdown_levels: tuple[float, ...] = (0.10, 0.20, 0.30)
    rearm: float = 0.0
    stale_days: int = 5
    jump_k: float = 10.0
    jump_window: int = 63
    quality_days: int = 5
    utilization_level: float = 0.95

    def __post_init__(self):
        levels = tuple(float(x) for x in self.drawdown_levels)
        if not levels or any(not 0 < x < 1 for x in levels) or list(levels) != sorted(set(levels)):
            raise ConfigError(f"drawdown levels must be increasing fractions in (0, 1); got {list(levels)}")
        object.__setattr__(self, "drawdown_levels", levels)
        if not 0 <= self.rearm < 1:
            raise ConfigError(f"rearm must be a fraction of the threshold in [0, 1); got {self.rearm}")
        for name in ("stale_days", "jump_window", "quality_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)}")
        if not self.jump_k > 0:
            raise ConfigError(f"jump_k must be above 0; got {self.jump_k}")


# ---------------------------------------------------------------- drawdown

def drawdown_alerts(dates, navs, peak: float, armed: list[bool],
                    settings: MonitorSettings) -> tuple[list[Alert], float, list[bool]]:
    """Alerts of the drawdown thresholds over ``navs`` (in date order), from ``peak`` and ``armed``.

    Returns the alerts, the running peak after the last NAV and the new armed flags (one per
    threshold). A threshold fires when the drawdown reaches it while armed, and re-arms when
    the drawdown is back at or below ``rearm`` times it.
    """
    levels = settings.drawdown_levels
    armed = list(armed) if len(armed) == len(levels) else [True] * len(levels)
    out = []
    for day, nav in zip(dates, navs):
        nav = float(nav)
        if not math.isfinite(nav):
            continue
        peak = max(peak, nav) if math.isfinite(peak) else nav
        dd = 1.0 - nav / peak if peak > 0 else 0.0
        for i, level in enumerate(levels):
            if armed[i] and dd >= level - TOLERANCE:
                armed[i] = False
                out.append(Alert(_iso(day), "WARNING" if i == 0 else "CRITICAL", "DRAWDOWN",
                                 f"drawdown {dd:.1%} crossed the {level:.0%} threshold (NAV {nav:,.2f}, "
                                 f"peak {peak:,.2f})", {"drawdown": dd, "threshold": level, "nav": nav, "peak": peak}))
            elif not armed[i] and dd <= settings.rearm * level:
                armed[i] = True
                out.append(Alert(_iso(day), "INFO", "DRAWDOWN",
                                 f"drawdown {dd:.1%} recovered: the {level:.0%} threshold is armed again",
                                 {"drawdown": dd, "threshold": level, "nav": nav, "peak": peak}))
    return out, peak, armed


# ---------------------------------------------------------------- regime

def regime_alerts(dates, labels, stress, known, last: int | None, detector: str) -> tuple[list[Alert], int | None]:
    """Alerts where the label changes from the one before (``last``: the label before ``dates[0]``).

    Days without enough history for a label are skipped. Returns the alerts and the last label.
    """
    out = []
    for day, label, is_stress, is_known in zip(dates, labels, stress, known):
        if not is_known:
            continue
        label = int(label)
        if last is not None and label != last:
            out.append(Alert(_iso(day), "WARNING" if is_stress else "INFO", "REGIME",
                             f"regime {detector}: label {last} -> {label} ({'stress' if is_stress else 'normal'})",
                             {"detector": detector, "from": last, "to": label, "stress": bool(is_stress)}))
        last = label
    return out, last


# ---------------------------------------------------------------- data quality

def data_quality_alerts(close: pd.DataFrame, as_of, settings: MonitorSettings, *, book_assets=(),
                        benchmark: pd.Series | None = None, macro: pd.DataFrame | None = None) -> list[Alert]:
    """Data-quality alerts on the data up to ``as_of``, over its last ``quality_days`` trading days.

    Names the asset (or series) and the date of each finding: a price unchanged for more than
    ``stale_days`` days, a missing price between two present ones (a gap) or at the as-of date for
    an asset of the book, a daily log return beyond ``jump_k`` robust standard deviations
    (median and MAD of the previous ``jump_window`` returns), a benchmark or macro series with
    no value at ``as_of``, an asset of the book not in the data at all.
    """
    day = pd.Timestamp(as_of)
    close = close.loc[:day]
    when = _iso(day)
    out = [Alert(when, "CRITICAL", "DATA_QUALITY", f"{a}: held by the book but missing from the data on {when}",
                 {"check": "missing_asset", "asset": str(a), "date": when})
           for a in book_assets if a not in close.columns]
    if close.empty or close.index[-1] != day:
        out.append(Alert(when, "CRITICAL", "DATA_QUALITY", f"the prices do not cover the as-of date {when}",
                         {"check": "coverage", "series": "close", "date": when}))
        return out
    recent = close.index[-settings.quality_days:]
    held = {str(a) for a in book_assets}
    for asset in close.columns:
        series = close[asset]
        out += _stale(series, recent, settings.stale_days, str(asset))
        out += _gaps(series, recent, str(asset), str(asset) in held)
        out += _jumps(series, recent, settings, str(asset))
    for name, series in ([("benchmark", benchmark)] if benchmark is not None else []) + \
            ([(str(c), macro[c]) for c in macro.columns] if macro is not None else []):
        if day not in series.index or not np.isfinite(series.get(day, np.nan)):
            out.append(Alert(when, "WARNING", "DATA_QUALITY", f"{name}: no value on the as-of date {when}",
                             {"check": "coverage", "series": name, "date": when}))
    return out


def _stale(series: pd.Series, recent: pd.DatetimeIndex, stale_days: int, asset: str) -> list[Alert]:
    values = series.to_numpy(float)
    end = len(values) - 1
    if not np.isfinite(values[end]):
        return []
    run = 0
    while end - run - 1 >= 0 and values[end - run - 1] == values[end]:
        run += 1
    if run <= stale_days:
        return []
    since = _iso(series.index[end - run])
    return [Alert(_iso(recent[-1]), "WARNING", "DATA_QUALITY",
                  f"{asset}: price {values[end]:g} unchanged for {run} trading days since {since}",
                  {"check": "stale", "asset": asset, "date": since, "days": run})]


def _gaps(series: pd.Series, recent: pd.DatetimeIndex, asset: str, held: bool) -> list[Alert]:
    values = series.to_numpy(float)
    present = np.isfinite(values)
    if not present.any():
        return []
    first = int(np.argmax(present))
    out = []
    for day in recent:
        row = series.index.get_loc(day)
        if present[row] or row < first:
            continue
        later = present[row + 1:].any()
        if later or held:
            out.append(Alert(_iso(day), "WARNING" if later else "CRITICAL", "DATA_QUALITY",
                             f"{asset}: no price on {_iso(day)}" + ("" if later else " (held by the book)"),
                             {"check": "gap", "asset": asset, "date": _iso(day)}))
    return out


def _jumps(series: pd.Series, recent: pd.DatetimeIndex, settings: MonitorSettings, asset: str) -> list[Alert]:
    logret = np.log(series.to_numpy(float))
    logret = np.diff(logret, prepend=np.nan)
    out = []
    for day in recent:
        row = series.index.get_loc(day)
        x = logret[row]
        past = logret[max(0, row - settings.jump_window):row]
        past = past[np.isfinite(past)]
        if not np.isfinite(x) or len(past) < 10:
            continue
        median = float(np.median(past))
        scale = ROBUST_SCALE * float(np.median(np.abs(past - median)))
        if scale <= 0:
            continue
        z = (x - median) / scale
        if abs(z) > settings.jump_k:
            out.append(Alert(_iso(day), "WARNING", "DATA_QUALITY",
                             f"{asset}: return {math.expm1(x):+.2%} on {_iso(day)} is {z:+.1f} robust standard "
                             f"deviations from its median (limit {settings.jump_k:g})",
                             {"check": "jump", "asset": asset, "date": _iso(day), "z": float(z)}))
    return out


# ---------------------------------------------------------------- constraints, rebalances, execution

def constraint_alerts(day, rows, settings: MonitorSettings) -> list[Alert]:
    """Alerts from one decision's diagnostics, read by role: ``rows`` are dicts with step, key,
    role, value and optionally asset."""
    out, when = [], _iso(day)
    for r in rows:
        value = r.get("value")
        if value is None or not isinstance(value, (int, float, np.number)) or not math.isfinite(float(value)):
            continue
        where = f"{r['step']}.{r['key']}" + (f" [{r['asset']}]" if r.get("asset") is not None else "")
        fields = {"step": r["step"], "key": r["key"], "value": float(value), "role": r.get("role")}
        if r.get("asset") is not None:
            fields["asset"] = r["asset"]
        if r.get("role") == "utilization" and float(value) > settings.utilization_level:
            out.append(Alert(when, "WARNING", "CONSTRAINT",
                             f"{where}: utilization {float(value):.2f} above {settings.utilization_level:g}", fields))
        elif r.get("role") == "fallback" and float(value) > 0:
            out.append(Alert(when, "WARNING", "CONSTRAINT", f"{where}: the Step fell back from its first choice",
                             fields))
    return out


def decision_alerts(day, status: str, orders: int, filled: int, held_by=()) -> list[Alert]:
    """REBALANCE, CONSTRAINT and EXECUTION alerts of one pipeline decision's outcome."""
    when = _iso(day)
    out = []
    if status == "blocked":
        by = f" by {', '.join(held_by)}" if held_by else ""
        out.append(Alert(when, "WARNING", "REBALANCE", f"the rebalance of {when} was blocked{by}",
                         {"status": status, "held_by": list(held_by)}))
        out.append(Alert(when, "WARNING", "CONSTRAINT", f"a pre-trade check blocked the rebalance of {when}{by}",
                         {"status": status, "held_by": list(held_by)}))
    elif status in ("executed", "pending"):
        out.append(Alert(when, "INFO", "REBALANCE", f"rebalance {status} on {when}: {orders} order(s)",
                         {"status": status, "orders": orders}))
    if filled:
        out.append(Alert(when, "INFO", "EXECUTION", f"{filled} fill(s) booked through {when}", {"filled": filled}))
    return out


def overdue_alerts(as_of, state_as_of, days_since: int, pending: list) -> list[Alert]:
    """CRITICAL EXECUTION alerts for waiting orders due by ``as_of`` in a book last run at ``state_as_of``.

    ``days_since`` counts the trading days from ``state_as_of`` to ``as_of``; an order is due
    ``pending[i]["due_in"]`` trading days after ``state_as_of``.
    """
    out = []
    for order in pending:
        due_in = int(order.get("due_in", 0))
        if due_in <= days_since:
            out.append(Alert(_iso(as_of), "CRITICAL", "EXECUTION",
                             f"an order decided before {_iso(state_as_of)} was due {due_in} trading day(s) later "
                             f"and is not filled: the book was last run on {_iso(state_as_of)}",
                             {"due_in": due_in, "book_as_of": _iso(state_as_of)}))
    return out


def pipeline_detector(pipeline) -> dict | None:
    """The regime detector spec of the first Step of ``pipeline`` (its specs) that has one."""
    for spec in pipeline:
        regime = spec.get("regime") if isinstance(spec, dict) else None
        if isinstance(regime, dict) and "type" in regime:
            return regime
    return None


def regime_frame(spec: dict, md) -> pd.DataFrame:
    """The detector's daily path on ``md`` (label, stress, known, ...), point in time."""
    from simlab.risk.regime import regime_path

    return regime_path(spec, md)


def backtest_alerts(result, settings: MonitorSettings | None = None) -> pd.DataFrame:
    """What the monitors would have fired over a finished backtest, one row per alert and scenario.

    DRAWDOWN on each scenario's NAV, REGIME on the detector of each scenario's pipeline,
    CONSTRAINT from the diagnostics by role, REBALANCE from the trades. Data quality is a
    property of the data, not of a scenario, and is checked by ``simlab monitor`` on a book.
    """
    settings = settings or MonitorSettings()
    rows = []
    diag = result.diagnostics
    flagged = diag[diag["role"].isin(["utilization", "fallback"])] if len(diag) else diag
    for scenario in result.scenarios:
        nav = result.nav[scenario]
        alerts, _, _ = drawdown_alerts(nav.index, nav.to_numpy(), -math.inf, [], settings)
        spec = pipeline_detector(next(s.pipeline for s in result.config.scenarios if s.name == scenario))
        if spec is not None:
            path = regime_frame(spec, result.market).reindex(result.dates)
            found, _ = regime_alerts(path.index, path["label"], path["stress"], path["known"], None, spec["type"])
            alerts += found
        own = flagged[flagged["scenario"] == scenario] if len(flagged) else flagged
        for day, group in (own.groupby("date") if len(own) else []):
            alerts += constraint_alerts(day, group.to_dict("records"), settings)
        rows += [{"scenario": scenario, **a.to_dict()} for a in alerts]
    columns = ["scenario", "time", "level", "kind", "message", "fields"]
    return pd.DataFrame(rows, columns=columns).sort_values(["time", "scenario"], kind="stable").reset_index(drop=True)


def _iso(day) -> str:
    return pd.Timestamp(day).date().isoformat()
