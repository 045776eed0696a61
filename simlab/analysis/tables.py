"""Metrics tables as text, as the command line prints them."""

from __future__ import annotations

import pandas as pd

SHOWN = ["total_return", "cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown",
         "calmar", "annual_turnover", "cost_drag", "active_return", "information_ratio", "beta"]
PERCENT = {"total_return", "cagr", "annual_volatility", "max_drawdown", "annual_turnover",
           "cost_drag", "active_return", "tracking_error", "hit_rate"}


def format_metrics(metrics: pd.DataFrame, columns: list[str] | None = None) -> str:
    """Scenario x metric table as text: metrics as rows, scenarios as columns, percents where apt.

    ``columns`` picks the metrics to show (default: :data:`SHOWN`, those present).
    """
    chosen = [c for c in SHOWN if c in metrics.columns] if columns is None else list(columns)
    table = metrics[chosen].T
    rows = {}
    for name, values in table.iterrows():
        fmt = "{:.2%}" if name in PERCENT else "{:.3f}"
        rows[name] = [("" if pd.isna(v) else fmt.format(v)) for v in values]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=table.columns)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return out.to_string()
