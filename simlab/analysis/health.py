"""The health of a finished run: degenerate books said out loud, non-finite NAVs refused.

A run can finish and still mean nothing: a cap that leaves the book in cash, bounds no
weights can meet so that the fallback answers every decision, a lookback longer than the
data so that nothing ever trades. :func:`run_health` measures, per scenario, from the
decision of the first rebalance on:

- ``cash_share``: share of days whose gross exposure ``sum |w|`` is below
  :data:`CASH_GROSS` (mostly in cash);
- ``decisions`` and ``decisions_without_trade``: rebalance decisions, and those not followed
  by any fill before the next decision;
- ``trades``: fills in all;
- ``fallbacks``: ``{"<step>.<key>": decisions}`` for each diagnostics value of role
  ``fallback`` above 0 (the reason is the key: ``fallback_level``, ``fallback_cash``...);
- ``infeasible_days``: decisions on which a Step reported its bounds infeasible;
- with ``execution.margin``: ``margin_scaled`` and ``margin_blocked``, fill days whose
  order the margin requirement scaled down or stopped, and ``margin_breach_days``, days
  the book's gross exposure drifted past ``1 / maintenance_margin`` times NAV between fills
  (no margin call is simulated: the next fill brings the book back within its limit);
- ``shorts_blocked``: fill days on which a new short in a ``restricted`` name was held back.

:meth:`RunHealth.problems` words what is degenerate (every scenario's share of cash days above
:data:`CASH_WARN`, no trade at all, a fallback on more than :data:`FALLBACK_WARN` of the
decisions, infeasible days, and every margin or restricted-name event).
:func:`check_finite_nav` raises
:class:`~simlab.errors.RunHealthError` naming the first date and scenario of a NaN or
infinite NAV: never a result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from simlab.analysis.run_series import step_name
from simlab.contract.roles import Role, role_of
from simlab.errors import RunHealthError

__all__ = ["CASH_GROSS", "CASH_WARN", "FALLBACK_WARN", "RunHealth", "ScenarioHealth", "check_finite_nav",
           "run_health"]

CASH_GROSS = 0.5
"""A day is mostly in cash when the book's gross exposure is below this share of NAV."""
CASH_WARN = 0.5
"""Warn when more than this share of a scenario's days (after its first decision) are mostly cash."""
FALLBACK_WARN = 0.5
"""Warn when a fallback answered more than this share of a scenario's decisions."""
INFEASIBLE_KEYS = ("bounds_infeasible",)
"""Diagnostics keys that flag a decision whose constraints no weights can meet."""
ENGINE_DAYS = {"gross_margin_scale": ("margin_scaled", lambda v: v < 1.0),
               "gross_margin_blocked": ("margin_blocked", lambda v: v > 0),
               "short_blocked": ("shorts_blocked", lambda v: v > 0)}
"""The engine's fill-day records counted per scenario: key -> (ScenarioHealth field, test on a value)."""
_ENGINE_KEYS = frozenset(ENGINE_DAYS)


@dataclass(frozen=True)
class ScenarioHealth:
    """What one scenario's book did (see the module doc for each field)."""

    scenario: str
    days: int
    cash_share: float
    decisions: int
    decisions_without_trade: int
    trades: int
    fallbacks: dict[str, int] = field(default_factory=dict)
    infeasible_days: int = 0
    margin_scaled: int = 0
    margin_blocked: int = 0
    margin_breach_days: int = 0
    shorts_blocked: int = 0


@dataclass(frozen=True)
class RunHealth:
    """The health of every scenario of a run."""

    scenarios: tuple[ScenarioHealth, ...]

    def problems(self) -> list[str]:
        """Degenerate states in words, one line each, naming the scenarios; [] when healthy."""
        out = []
        for s in self.scenarios:
            if s.days and s.trades == 0:
                out.append(f"scenario {s.scenario!r} never traded ({s.decisions} decisions): the book stayed "
                           "in cash (a lookback or lag longer than the data? every asset filtered out?)")
                continue
            if s.cash_share > CASH_WARN:
                out.append(f"scenario {s.scenario!r} was mostly in cash (gross exposure below {CASH_GROSS:.0%}) "
                           f"on {s.cash_share:.0%} of its days")
            for key, count in s.fallbacks.items():
                if s.decisions and count / s.decisions > FALLBACK_WARN:
                    out.append(f"scenario {s.scenario!r}: {key} fell back on {count} of {s.decisions} decisions")
            if s.infeasible_days:
                out.append(f"scenario {s.scenario!r}: constraints infeasible on {s.infeasible_days} of "
                           f"{s.decisions} decisions (the bounds cannot sum to the budget)")
            out += _book_rule_problems(s)
        return out

    def to_dict(self) -> dict:
        """Plain data for ``run.json``: per scenario its measures, and the problems in words."""
        return {"scenarios": [asdict(s) for s in self.scenarios], "problems": self.problems()}


def _book_rule_problems(s: ScenarioHealth) -> list[str]:
    """The margin and restricted-name events of one scenario, in words."""
    out = []
    if s.margin_scaled:
        out.append(f"scenario {s.scenario!r}: the margin requirement scaled the order down on {s.margin_scaled} "
                   "fill days (the targets asked for more gross exposure than the margin allows)")
    if s.margin_blocked:
        out.append(f"scenario {s.scenario!r}: the margin requirement blocked the order on {s.margin_blocked} fill days")
    if s.margin_breach_days:
        out.append(f"scenario {s.scenario!r}: gross exposure above the margin limit on {s.margin_breach_days} days "
                   "between fills (no margin call is simulated)")
    if s.shorts_blocked:
        out.append(f"scenario {s.scenario!r}: new shorts in restricted names held back on {s.shorts_blocked} fill days")
    return out


def check_finite_nav(nav: pd.DataFrame) -> None:
    """Raise :class:`RunHealthError` at the first NaN or infinite NAV (date and scenario)."""
    values = nav.to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    row = int(np.argmax(bad.any(axis=1)))
    cols = [str(c) for c in nav.columns[bad[row]]]
    raise RunHealthError(
        f"NAV is {float(values[row, bad[row].argmax()])} on {nav.index[row].date()} in scenario(s) {', '.join(cols)}; "
        "a non-finite input (a cost, a price, a parameter) reached the book"
    )


def run_health(result) -> RunHealth:
    """The :class:`RunHealth` of a finished run (a Result).

    Read from the run's arrays (:attr:`~simlab.engine.result.Replay.gross_exposure`, the trade
    entries and the diagnostics records), never from the labelled tables: the measure costs a
    pass over the records, not a (date, scenario, asset) cube and a long table.
    """
    n_scen = len(result.scenarios)
    span = result.dates
    first_row = int(result.market.dates.get_loc(span[0])) if len(span) else 0
    gross = result.gross_exposure.to_numpy()
    fill_rows, trades_per_fill = result.trades_per_fill()
    trades = trades_per_fill.sum(axis=0)
    decisions = _StepLog(result.diagnostic_records(), n_scen)
    exe = result.config.experiment.execution
    margin = exe.margin if exe.maintenance_margin is None else exe.maintenance_margin
    out = []
    for s, scenario in enumerate(result.scenarios):
        own_decisions = decisions.rows(s)
        fill_days = np.unique(fill_rows[trades_per_fill[:, s] > 0])
        series = gross[:, s]
        if len(own_decisions):
            series = series[np.arange(first_row, first_row + len(series)) > own_decisions[0]]
        out.append(ScenarioHealth(
            scenario=str(scenario), days=len(series),
            cash_share=float((series < CASH_GROSS).mean()) if len(series) else 0.0,
            decisions=len(own_decisions), decisions_without_trade=_without_trade(own_decisions, fill_days),
            trades=int(trades[s]), fallbacks=decisions.fallbacks(s), infeasible_days=decisions.infeasible(s),
            **decisions.book_rules(s, series, margin),
        ))
    return RunHealth(tuple(out))


class _StepLog:
    """Per scenario, the rows the Steps reported on, their fallbacks and infeasible days (the
    engine's own records left out), from the recorded diagnostics in their order."""

    def __init__(self, records: list, n_scen: int):
        self.n_scen = n_scen
        self.infeasible_rows: dict[int, set] = {}
        self.fallback_rows: dict[tuple[str, str], dict[int, set]] = {}
        self.fallback_first: dict[tuple[str, str], dict[int, int]] = {}  # first record order per scenario
        roles: dict = {}
        reported = []
        order = 0
        self.engine_rows: dict[str, dict[int, set]] = {key: {} for key in ENGINE_DAYS}
        for row, scenario_rows, step, values, step_class in records:
            if step == "engine":
                if not _ENGINE_KEYS.isdisjoint(values):
                    self._engine_days(row, np.asarray(scenario_rows), values)
                continue
            scenario_rows = np.asarray(scenario_rows)
            has_rows = False
            for key, value in values.items():
                order += 1
                arr = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=float)
                if arr.ndim == 2 and arr.shape[1] == 0:
                    continue
                has_rows = True
                if (step_class, key) not in roles:
                    role = role_of(step_class, key)
                    roles[step_class, key] = (None if role is None else str(role)) == Role.FALLBACK.value
                fallback = roles[step_class, key]
                if not fallback and key not in INFEASIBLE_KEYS:
                    continue
                arr = np.asarray(arr, dtype=float)
                positive = (arr > 0).any(axis=1) if arr.ndim == 2 else np.broadcast_to(arr, (len(scenario_rows),)) > 0
                hits = scenario_rows[positive].tolist()
                if key in INFEASIBLE_KEYS:
                    for s in hits:
                        self.infeasible_rows.setdefault(s, set()).add(row)
                if fallback and hits:
                    rows = self.fallback_rows.setdefault((step, key), {})
                    first = self.fallback_first.setdefault((step, key), {})
                    for s in hits:
                        rows.setdefault(s, set()).add(row)
                        first.setdefault(s, order)
            if has_rows:
                reported.append((row, scenario_rows))
        self.decision_rows = np.array(sorted({row for row, _ in reported}), dtype=np.int64)
        position = {row: i for i, row in enumerate(self.decision_rows.tolist())}
        self.decided = np.zeros((len(self.decision_rows), n_scen), dtype=bool)
        if reported:  # one assignment for every report
            at = np.repeat([position[row] for row, _ in reported], [len(rows) for _, rows in reported])
            self.decided[at, np.concatenate([rows for _, rows in reported])] = True

    def rows(self, s: int) -> np.ndarray:
        """Sorted rows with a Step's report for scenario ``s``."""
        return self.decision_rows[self.decided[:, s]]

    def fallbacks(self, s: int) -> dict[str, int]:
        """``{"<step>.<key>": decisions}`` of the fallbacks scenario ``s`` took, in the order first taken."""
        taken = sorted((first[s], step_key) for step_key, first in self.fallback_first.items() if s in first)
        return {f"{step_name(step)}.{key}": len(self.fallback_rows[step, key][s]) for _, (step, key) in taken}

    def infeasible(self, s: int) -> int:
        return len(self.infeasible_rows.get(s, ()))

    def _engine_days(self, row: int, scenario_rows: np.ndarray, values: dict) -> None:
        for key, (_, test) in ENGINE_DAYS.items():
            if key not in values:
                continue
            arr = np.asarray(values[key], dtype=float)
            hit = test(arr).any(axis=1) if arr.ndim == 2 else np.broadcast_to(test(arr), (len(scenario_rows),))
            for s in scenario_rows[hit].tolist():
                self.engine_rows[key].setdefault(s, set()).add(row)

    def book_rules(self, s: int, gross: np.ndarray, margin: float | None) -> dict:
        """Margin and restricted-name counts of scenario ``s``: fill days from the engine's
        records, margin breaches from its daily gross exposure ``gross`` (after its first decision)."""
        out = {field: len(self.engine_rows[key].get(s, ())) for key, (field, _) in ENGINE_DAYS.items()}
        if margin is not None:
            out["margin_breach_days"] = int((margin * gross > 1.0 + 1e-9).sum())
        return out


def _without_trade(decisions: np.ndarray, fill_days: np.ndarray) -> int:
    """Decisions with no fill after them and up to (and including) the next decision (both sorted rows)."""
    if not len(decisions):
        return 0
    ends = np.append(decisions[1:], np.iinfo(np.int64).max)
    first_after = np.searchsorted(fill_days, decisions, side="right")
    filled = (first_after < len(fill_days)) & (fill_days[np.minimum(first_after, len(fill_days) - 1)] <= ends) \
        if len(fill_days) else np.zeros(len(decisions), bool)
    return int((~filled).sum())
