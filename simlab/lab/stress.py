"""Stress replay: a finished run held against stress limits, and re-run with stress forced on.

Two questions about an experiment whose pipeline has a ``regime_constraints`` Step:

1. *Would its portfolios have survived stress limits?* Every rebalance (the book on its
   fill day) and every trading day inside a historical stress window is checked against
   the Step's *stress* limits (the multipliers and bands of its first stress label, not
   smoothed), giving each constraint's utilization; a constraint *binds* when the backoff
   would cut (utilization past the curve's start) and is *violated* above 1.
2. *What would the stress limits have cost or saved?* The same experiment re-run with the
   stress regime forced on inside the windows (``regime.force_stress``); the return over
   each window, with and without, side by side.

Windows (``DEFAULT_WINDOWS``, or a YAML file ``windows: [{name, start, end}, ...]``):
the 2008 financial crisis, the May 2010 flash crash, August 2011, August 2015, late 2018,
the 2020 pandemic crash and the 2022 rate shock. A window is reported when it overlaps
the run's span (coverage ``full`` or ``partial``); one outside it is listed as such.

Beside the historical windows, hypothetical scenarios (stagflation, a rate shock, a
liquidity crunch: shocks to returns, volatility and correlation, :mod:`simlab.lab.hypothetical`)
and the robustness score across all of them: the share of stress scenarios in which every
constraint stays within its stress limit and the loss within ``max_loss``.

``simlab stress CONFIG [--windows FILE] [--hypothetical FILE] [--max-loss X] [--out DIR]
[--no-rerun]`` prints the tables and writes ``stress_rebalances.csv``, ``stress_windows.csv``,
``stress_hypothetical.csv``, ``stress_robustness.csv`` and the forced run's NAV.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pydantic

from simlab.config import registry
from simlab.config.loader import Config, read_model_list
from simlab.config.schema import StrictModel
from simlab.engine.simulate import simulate
from simlab.features.base import FeatureTable
from simlab.lab.hypothetical import DEFAULT_SCENARIOS, format_hypothetical, hypothetical_table, robustness
from simlab.lab.result import Result
from simlab.portfolio.calendar import schedule_rows
from simlab.risk.constraint_set import PROJECTION_ORDER, ConstraintSet, one_way
from simlab.risk.constraints import CHECKED, RegimeConstraints
from simlab.risk.regime import feature_inputs

STEP_KEY = "regime_constraints"


class StressWindow(StrictModel):
    """A named historical stress period, both ends included."""

    name: str
    start: dt.date
    end: dt.date

    @pydantic.model_validator(mode="after")
    def _order(self):
        if self.start > self.end:
            raise ValueError(f"window {self.name!r} ends ({self.end}) before it starts ({self.start})")
        return self


DEFAULT_WINDOWS: tuple[StressWindow, ...] = tuple(
    StressWindow(name=n, start=dt.date.fromisoformat(a), end=dt.date.fromisoformat(b))
    for n, a, b in (
        ("2008 financial crisis", "2008-09-01", "2009-03-31"),
        ("2010 flash crash", "2010-05-06", "2010-07-02"),
        ("2011 August selloff", "2011-07-25", "2011-10-03"),
        ("2015 August selloff", "2015-08-17", "2015-09-30"),
        ("2018 late selloff", "2018-10-01", "2018-12-24"),
        ("2020 pandemic crash", "2020-02-19", "2020-04-30"),
        ("2022 rate shock", "2022-01-03", "2022-10-12"),
    )
)


def load_windows(path: str | Path) -> tuple[StressWindow, ...]:
    """Windows from a YAML file holding ``windows: [{name, start, end}, ...]``."""
    return read_model_list(path, "windows", StressWindow)


@dataclass(frozen=True)
class StressReport:
    """The replay's tables (see the module docstring)."""

    rebalances: pd.DataFrame  # one row per rebalance and scenario
    windows: pd.DataFrame  # one row per window and scenario
    forced: object | None  # the Result with stress forced on, or None
    notes: tuple[str, ...] = ()
    hypothetical: pd.DataFrame | None = None  # one row per hypothetical scenario and scenario
    robustness: pd.DataFrame | None = None  # one row per scenario: the robustness score
    max_loss: float = 0.25


# ---------------------------------------------------------------------------- entry points


def replay(result, windows=DEFAULT_WINDOWS, rerun: bool = True, shocks=DEFAULT_SCENARIOS,
           max_loss: float = 0.25) -> StressReport:
    """Stress replay of a finished run (a :class:`simlab.lab.result.Result`), historical and hypothetical."""
    steps, notes = _constraint_steps(result.config)
    inputs = feature_inputs(result.market)
    first, last = _row_span(result)
    days = _window_days(inputs.dates, windows, first, last)
    rebalance_rows = _rebalance_rows(result, first, last)
    rows = np.unique(np.r_[rebalance_rows[:, 1], days]).astype(np.int64)
    utils = _stress_utilization(result, steps, inputs, rows)
    turnover = _rebalance_turnover(result, steps, rebalance_rows)
    forced = None
    if rerun:
        forced, more = run_forced(result, windows)
        notes += more
    rebalances = _rebalance_table(result, utils, rows, turnover, rebalance_rows, windows, steps)
    table = _window_table(result, utils, rows, rebalances, windows, forced)
    hypothetical = hypothetical_table(result, steps, shocks) if shocks else None
    score = robustness(table, hypothetical, max_loss)
    return StressReport(rebalances, table, forced, tuple(notes), hypothetical, score, max_loss)


def forced_config(cfg: Config, windows) -> Config:
    """``cfg`` with ``force_stress`` set to the windows in every regime_constraints Step."""
    spans = [[w.start.isoformat(), w.end.isoformat()] for w in windows]

    def force(entries):
        out = []
        for i, entry in enumerate(entries):
            if entry.get("type") == STEP_KEY:
                entry = dict(entry, regime=dict(entry["regime"], force_stress=spans))
                entry = registry.resolve("step", entry, f"pipeline[{i}]")
            out.append(entry)
        return out

    scenarios = tuple(replace(s, pipeline=tuple(force(s.pipeline))) for s in cfg.scenarios)
    experiment = cfg.experiment.model_copy(update={
        "name": f"{cfg.experiment.name}_forced_stress", "pipeline": force(cfg.experiment.pipeline)})
    return Config(experiment=experiment, scenarios=scenarios, path=cfg.path)


def run_forced(result, windows) -> tuple[object | None, tuple[str, ...]]:
    """The experiment of ``result`` re-run on the same data with stress forced on."""
    if result.config.experiment.sleeves is not None:
        return None, ("a book with sleeves: the forced-stress re-run covers books with one pipeline; not run",)
    if not any(e.get("type") == STEP_KEY for s in result.config.scenarios for e in s.pipeline):
        return None, (f"no {STEP_KEY} step in the pipeline: nothing to force, no re-run",)
    cfg = forced_config(result.config, windows)
    inputs, book, rec = simulate(cfg, result.market)
    return Result(cfg, result.market, inputs, book, rec), ()


# ---------------------------------------------------------------------------- utilization


def _constraint_steps(cfg: Config) -> tuple[list[RegimeConstraints], list[str]]:
    """Per scenario, its (first) regime_constraints Step, or the defaults when it has none."""
    steps, notes = [], []
    for s in cfg.scenarios:
        entry = next((e for e in s.pipeline if e.get("type") == STEP_KEY), None)
        if entry is None:
            notes.append(f"scenario {s.name!r} has no {STEP_KEY} step: checked against its default limits")
            steps.append(RegimeConstraints())
        else:
            steps.append(registry.build("step", entry))
    return steps, notes


def _stress_utilization(result, steps, inputs, rows) -> np.ndarray:
    """(B, R, C) utilization of each risk constraint (``PROJECTION_ORDER``) at ``rows``."""
    held = result.weights.values  # (T, B, N) over the simulated span
    offset = result.dates[0]
    index = inputs.dates.get_indexer([offset])[0]
    out = np.full((len(steps), len(rows), len(PROJECTION_ORDER)), np.nan)
    table = FeatureTable(inputs, rows)
    for b, step in enumerate(steps):
        specs = step.features(1)
        for per in specs.values():
            table.add(per[0])
        features = {name: np.stack([table.at(per, r)[0] for r in rows]) for name, per in specs.items()}
        model = step.risk_model_from(inputs.assets, inputs.meta, features)
        limits = step.state_limits("stress", len(rows))
        checks = ConstraintSet(limits, model, step.curve, correlation=step.correlation_check).check(held[rows - index, b, :], factors=False)
        out[b] = np.column_stack([checks[name].utilization for name in PROJECTION_ORDER])
    return out


def _rebalance_turnover(result, steps, rebalance_rows) -> np.ndarray:
    """(B, K) one-way turnover of each rebalance's fill over its stress budget."""
    w = result.weights.values
    index = rebalance_rows[:, 1] - _row_span(result)[0]
    before = np.where(index[:, None, None] > 0, w[np.maximum(index - 1, 0)], 0.0)
    out = np.empty((len(steps), len(index)))
    for b, step in enumerate(steps):
        budget = step.state_limits("stress", 1).turnover[0]
        out[b] = one_way(before[:, b, :], w[index, b, :]) / budget
    return out


# ---------------------------------------------------------------------------- tables


def _rebalance_table(result, utils, rows, turnover, rebalance_rows, windows, steps) -> pd.DataFrame:
    """One row per rebalance and scenario: utilization of each constraint under stress limits."""
    dates = result.market.dates
    pick = np.searchsorted(rows, rebalance_rows[:, 1])
    names = np.asarray(PROJECTION_ORDER + ("turnover",))
    frames = []
    for b, scenario in enumerate(result.scenarios):
        util = np.column_stack([utils[b][pick], turnover[b]])
        frame = pd.DataFrame(util, columns=[f"util_{c}" for c in names])
        frame.insert(0, "window", [_window_of(d, windows) for d in dates[rebalance_rows[:, 1]]])
        frame.insert(0, "scenario", scenario)
        frame.insert(0, "date", dates[rebalance_rows[:, 1]])
        frame.insert(0, "decision", dates[rebalance_rows[:, 0]])
        with np.errstate(invalid="ignore"):
            binds = (util > steps[b].curve.start) & (util <= 1.0 + 1e-9)
            violates = util > 1.0 + 1e-9
        frame["binds"] = [",".join(names[m]) for m in binds]
        frame["violates"] = [",".join(names[m]) for m in violates]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    return out[["decision", "date", "scenario", "window"] + [f"util_{c}" for c in CHECKED] + ["binds", "violates"]]


def _window_table(result, utils, rows, rebalances, windows, forced) -> pd.DataFrame:
    dates = result.market.dates[rows]
    span = (result.dates[0], result.dates[-1])
    records = []
    for w in windows:
        start, end = pd.Timestamp(w.start), pd.Timestamp(w.end)
        coverage = _coverage(start, end, *span)
        inside = (dates >= start) & (dates <= end)
        for b, scenario in enumerate(result.scenarios):
            rec = {"window": w.name, "start": w.start, "end": w.end, "coverage": coverage, "scenario": scenario}
            if coverage != "outside":
                rec.update(_window_stats(utils[b][inside], rebalances, w.name, scenario))
                rec.update(_window_pnl(result, forced, scenario, start, end))
            records.append(rec)
    out = pd.DataFrame.from_records(records)
    for column in ("days", "rebalances", "days_violated"):
        if column in out:
            out[column] = out[column].astype("Int64")
    return out


def _window_stats(util: np.ndarray, rebalances: pd.DataFrame, window: str, scenario: str) -> dict:
    rec = {"days": len(util)}
    mine = rebalances[(rebalances["window"] == window) & (rebalances["scenario"] == scenario)]
    rec["rebalances"] = len(mine)
    with np.errstate(invalid="ignore"):
        for i, name in enumerate(PROJECTION_ORDER):
            col = util[:, i]
            rec[f"mean_util_{name}"] = float(np.nanmean(col)) if np.isfinite(col).any() else np.nan
            rec[f"max_util_{name}"] = float(np.nanmax(col)) if np.isfinite(col).any() else np.nan
        rec["max_util_turnover"] = float(mine["util_turnover"].max()) if len(mine) else np.nan
        rec["days_violated"] = int((np.nan_to_num(util, nan=0.0) > 1.0 + 1e-9).any(axis=1).sum())
    maxima = {name: rec[f"max_util_{name}"] for name in PROJECTION_ORDER + ("turnover",)}
    finite = {k: v for k, v in maxima.items() if np.isfinite(v)}
    rec["tightest"] = max(finite, key=finite.get) if finite else ""
    return rec


def _window_pnl(result, forced, scenario, start, end) -> dict:
    out = {"return": _period_return(result.nav[scenario], start, end)}
    if forced is not None:
        out["return_forced"] = _period_return(forced.nav[scenario], start, end)
        out["difference"] = out["return_forced"] - out["return"]
    return out


def _period_return(nav: pd.Series, start, end) -> float:
    """NAV at the window's last day over NAV on the day before it starts (or its first day)."""
    before = nav.loc[:start - pd.Timedelta(days=1)]
    inside = nav.loc[start:end]
    if inside.empty:
        return np.nan
    base = before.iloc[-1] if len(before) else inside.iloc[0]
    return float(inside.iloc[-1] / base - 1.0)


# ---------------------------------------------------------------------------- rows and dates


def _row_span(result) -> tuple[int, int]:
    dates = result.market.dates
    return int(dates.get_indexer([result.dates[0]])[0]), int(dates.get_indexer([result.dates[-1]])[0])


def _rebalance_rows(result, first: int, last: int) -> np.ndarray:
    """(K, 2) decision row and fill row of every rebalance of the run."""
    sched = result.config.experiment.schedule
    lag = result.config.experiment.execution.lag
    decisions = schedule_rows(result.market.dates, sched.frequency, sched.day)
    decisions = decisions[(decisions >= first) & (decisions + lag <= last)]
    return np.column_stack([decisions, decisions + lag]).astype(np.int64)


def _window_days(dates: pd.DatetimeIndex, windows, first: int, last: int) -> np.ndarray:
    rows = np.arange(first, last + 1)
    d = dates[rows]
    inside = np.zeros(len(rows), dtype=bool)
    for w in windows:
        inside |= (d >= pd.Timestamp(w.start)) & (d <= pd.Timestamp(w.end))
    return rows[inside]


def _window_of(date: pd.Timestamp, windows) -> str:
    for w in windows:
        if pd.Timestamp(w.start) <= date <= pd.Timestamp(w.end):
            return w.name
    return ""


def _coverage(start, end, first, last) -> str:
    if end < first or start > last:
        return "outside"
    return "full" if start >= first and end <= last else "partial"


def format_report(report: StressReport) -> str:
    """The window table and the per-constraint bind/violate counts, as text."""
    w = report.windows
    short = {"single_name": "name", "sector": "sector", "correlation": "corr", "gross": "gross",
             "beta": "beta", "volatility": "vol", "turnover": "turn"}
    cols = {"window": "window", "coverage": "coverage", "scenario": "scenario", "days": "days",
            "rebalances": "rebal"}
    cols.update({f"max_util_{c}": f"max {short[c]}" for c in CHECKED})
    cols.update({"days_violated": "days viol", "return": "return", "return_forced": "forced", "difference": "diff"})
    table = w[[c for c in cols if c in w.columns]].rename(columns=cols)
    for c in ("return", "forced", "diff"):
        if c in table:
            table[c] = table[c].map(lambda v: "" if pd.isna(v) else f"{v:+.2%}")
    lines = [table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="")]
    r = report.rebalances
    counts = pd.DataFrame({
        "binds": {c: int(r["binds"].str.split(",").map(lambda x, c=c: c in x).sum()) for c in CHECKED},
        "violates": {c: int(r["violates"].str.split(",").map(lambda x, c=c: c in x).sum()) for c in CHECKED},
    }).T
    lines += ["", f"rebalances under stress limits ({len(r)} rebalance x scenario rows):", counts.to_string()]
    if report.robustness is not None:
        hypothetical = report.hypothetical if report.hypothetical is not None else pd.DataFrame()
        if not hypothetical.empty:
            lines += ["", format_hypothetical(hypothetical, report.robustness, report.max_loss)]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
