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
from simlab.contract.roles import Role
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
    """The :class:`RunHealth` of a finished run (a Result)."""
    diag = result.diagnostics
    steps = diag[diag["step"] != "engine"] if len(diag) else diag
    gross = getattr(result, "gross_exposure", None)  # date x scenario, without the dense weights
    if gross is None:  # a result that only holds its weights table
        gross = np.abs(result.weights.fillna(0.0)).sum("asset").to_pandas()
    trades = result.trades
    engine = diag[diag["step"] == "engine"] if len(diag) else diag
    exe = result.config.experiment.execution
    margin = exe.margin if exe.maintenance_margin is None else exe.maintenance_margin
    out = []
    for scenario in result.scenarios:
        own = steps[steps["scenario"] == scenario] if len(steps) else steps
        decisions = _days(own["date"]) if len(own) else pd.DatetimeIndex([])
        fills = trades[trades["scenario"] == scenario] if len(trades) else trades
        fill_days = _days(fills["date"]) if len(fills) else pd.DatetimeIndex([])
        series = gross[scenario]
        if len(decisions):
            series = series[series.index > decisions[0]]
        out.append(ScenarioHealth(
            scenario=str(scenario), days=len(series),
            cash_share=float((series < CASH_GROSS).mean()) if len(series) else 0.0,
            decisions=len(decisions), decisions_without_trade=_without_trade(decisions, fill_days),
            trades=len(fills), fallbacks=_fallbacks(own), infeasible_days=_infeasible(own),
            **_book_rules(engine[engine["scenario"] == scenario] if len(engine) else engine, series, margin),
        ))
    return RunHealth(tuple(out))


def _book_rules(engine: pd.DataFrame, gross: pd.Series, margin: float | None) -> dict:
    """Margin and restricted-name counts of one scenario from its engine diagnostics and
    its daily gross exposure."""
    def days(key, test):
        rows = engine[(engine["key"] == key)] if len(engine) else engine
        return int(rows.loc[test(rows["value"]), "date"].nunique()) if len(rows) else 0

    out = {"margin_scaled": days("gross_margin_scale", lambda v: v < 1.0),
           "margin_blocked": days("gross_margin_blocked", lambda v: v > 0),
           "shorts_blocked": days("short_blocked", lambda v: v > 0)}
    if margin is not None:
        out["margin_breach_days"] = int((margin * gross > 1.0 + 1e-9).sum())
    return out


def _days(dates: pd.Series) -> pd.DatetimeIndex:
    """The distinct days of ``dates``, sorted, in nanoseconds (so that their integers compare)."""
    return pd.DatetimeIndex(dates.unique()).sort_values().as_unit("ns")


def _without_trade(decisions: pd.DatetimeIndex, fill_days: pd.DatetimeIndex) -> int:
    """Decisions with no fill after them and up to (and including) the next decision."""
    if not len(decisions):
        return 0
    ends = np.append(decisions[1:].asi8, np.iinfo(np.int64).max)
    first_after = np.searchsorted(fill_days.asi8, decisions.asi8, side="right")
    filled = (first_after < len(fill_days)) & (fill_days.asi8[np.minimum(first_after, len(fill_days) - 1)] <= ends) \
        if len(fill_days) else np.zeros(len(decisions), bool)
    return int((~filled).sum())


def _fallbacks(own: pd.DataFrame) -> dict[str, int]:
    rows = own[(own["role"] == Role.FALLBACK.value) & (own["value"] > 0)] if len(own) else own
    return {f"{step_name(step)}.{key}": int(part["date"].nunique())
            for (step, key), part in rows.groupby(["step", "key"], sort=False)} if len(rows) else {}


def _infeasible(own: pd.DataFrame) -> int:
    rows = own[own["key"].isin(INFEASIBLE_KEYS) & (own["value"] > 0)] if len(own) else own
    return int(rows["date"].nunique()) if len(rows) else 0
