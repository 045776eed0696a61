"""Metrics as text: which metrics are fractions shown as percents, and how a value prints.

Three readers print metrics, each in its own register:

- the terminal's metrics table (``simlab run``, ``simlab compare``): :func:`format_metrics`,
  the usual columns (:data:`SHOWN`) or those a user picked; two decimals of percent or
  three decimals, blank for NaN; the same cells as a Markdown table in ``report.md``
  (:func:`format_metrics_markdown`);
- the HTML report's cells (:func:`format_cells`, :func:`format_cell`, :func:`format_number`):
  also days and money, ``n/a`` for NaN;
- the claims' verdicts and tables (:func:`format_estimate`): whole percents past 100%,
  four significant digits past 100, ``-`` for NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PERCENT", "SHOWN", "format_cell", "format_cells", "format_estimate", "format_metrics",
           "format_metrics_markdown", "format_number", "format_sleeves", "sleeve_cells"]

SHOWN = ["total_return", "cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown",
         "calmar", "annual_turnover", "cost_drag", "active_return", "annual_active_return", "information_ratio", "beta"]
"""The metrics the terminal shows by default, in this order."""
PERCENT = {"total_return", "cagr", "annual_volatility", "max_drawdown", "annual_turnover",
           "cost_drag", "active_return", "annual_active_return", "tracking_error", "hit_rate",
           "value_at_risk", "cvar", "max_drawdown_uncompounded", "position_hit_rate"}
"""Metrics that are fractions, printed as percents."""


# ----------------------------------------------------------------------------
# The terminal
# ----------------------------------------------------------------------------


def format_metrics(metrics: pd.DataFrame, columns: list[str] | None = None) -> str:
    """Scenario x metric table as text: metrics as rows, scenarios as columns, percents where apt.

    ``columns`` picks the metrics to show (default: :data:`SHOWN`, those present).
    """
    out = _metrics_text(metrics, columns)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return out.to_string()


def format_metrics_markdown(metrics: pd.DataFrame, columns: list[str] | None = None) -> str:
    """:func:`format_metrics`' table as a Markdown pipe table (``report.md``): the same cells.

    ``columns`` as there; every metric of ``metrics`` when ``"all"``.
    """
    out = _metrics_text(metrics, list(metrics.columns) if columns == "all" else columns)
    head = ["metric", *map(str, out.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * len(out.columns)) + "|"]
    lines += ["| " + " | ".join([str(name), *row]) + " |" for name, row in zip(out.index, out.to_numpy())]
    return "\n".join(lines)


def _metrics_text(metrics: pd.DataFrame, columns: list[str] | None) -> pd.DataFrame:
    """Metrics as rows of strings: two decimals of percent, whole days or money, or three decimals;
    blank for NaN."""
    chosen = [c for c in SHOWN if c in metrics.columns] if columns is None else list(columns)
    table = metrics[chosen].T
    rows = {}
    for name, values in table.iterrows():
        fmt = "{:.2%}" if name in PERCENT else _WHOLE.get(name, "{:.3f}")
        rows[name] = [("" if pd.isna(v) else fmt.format(v)) for v in values]
    return pd.DataFrame.from_dict(rows, orient="index", columns=table.columns)


_WHOLE = {"max_drawdown_duration": "{:.0f}", "total_costs": "{:,.0f}"}
"""Metrics printed as whole numbers: days, and money with thousands separators."""


_SLEEVE_PERCENT = PERCENT | {"mean_weight", "contribution"}
_SLEEVE_MONEY = {"pnl", "costs"}


def sleeve_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The sleeves' table (``Result.sleeve_metrics``) as strings, rows labelled ``scenario / part``:
    percents, money with separators, three decimals, blank for NaN."""
    cells = {}
    for name in table.columns:
        fmt = "{:.2%}" if name in _SLEEVE_PERCENT else "{:,.0f}" if name in _SLEEVE_MONEY else "{:.3f}"
        cells[name] = [("" if pd.isna(v) else fmt.format(v)) for v in table[name]]
    labels = [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in table.index]
    return pd.DataFrame(cells, index=pd.Index(labels, name="scenario / part"))


def format_sleeves(table: pd.DataFrame, markdown: bool = False) -> str:
    """:func:`sleeve_cells` as terminal text, or a Markdown pipe table when ``markdown``."""
    out = sleeve_cells(table)
    if not markdown:
        with pd.option_context("display.width", 200, "display.max_columns", 50):
            return out.to_string()
    lines = ["| " + " | ".join(["scenario / part", *out.columns]) + " |",
             "|" + "|".join(["---"] + ["---:"] * len(out.columns)) + "|"]
    lines += ["| " + " | ".join([name, *row]) + " |" for name, row in zip(out.index, out.to_numpy())]
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------


def format_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Metrics as rows, formatted cell by cell (:func:`format_cell`)."""
    out = frame.astype(object).copy()
    for name in frame.index:
        out.loc[name] = [format_cell(str(name), v) for v in frame.loc[name]]
    return out


def format_cell(metric: str, value) -> str:
    """One metric's value: percents, days, money or three decimals; ``n/a`` for None or NaN."""
    if value is None or not np.isfinite(float(value)):
        return "n/a" if value is None or np.isnan(float(value)) else str(value)
    value = float(value)
    if metric in PERCENT:
        return f"{value:.2%}"
    if metric == "max_drawdown_duration":
        return f"{value:.0f} days"
    if metric in ("total_costs", "fills"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


def format_number(value, spec: str = ".3f") -> str:
    """A plain number in ``spec``; ``n/a`` for NaN, ``inf`` for an infinity."""
    value = float(value)
    if np.isnan(value):
        return "n/a"
    return "inf" if np.isinf(value) else format(value, spec)


# ----------------------------------------------------------------------------
# The claims
# ----------------------------------------------------------------------------


def format_estimate(metric: str, value: float) -> str:
    """A metric's value in a claims table or verdict: percents where apt, ``-`` for NaN."""
    if not np.isfinite(value):
        return "-" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if metric in PERCENT:
        return f"{value:.0%}" if abs(value) >= 1 else f"{value:.2%}"
    return f"{value:.4g}" if abs(value) >= 100 else f"{value:.3f}"
