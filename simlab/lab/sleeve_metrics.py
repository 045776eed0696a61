"""The sleeves' table of a multi-strategy book: each sleeve's own metrics and its share of the profit."""

from __future__ import annotations

import pandas as pd

from simlab.analysis import metrics as _metrics

COLUMNS = ["mean_weight", "total_return", "cagr", "annual_volatility", "sharpe", "max_drawdown",
           "pnl", "contribution", "costs"]


def sleeve_metrics(result, risk_free: float) -> pd.DataFrame:
    """One row per (scenario, part): each sleeve's return metrics on its own returns (transfers
    taken out, the start day left out as in ``Result.metrics``), its mean share of the capital,
    and from :meth:`~simlab.engine.sleeve_result.Sleeves.attribution` its ``pnl``, ``contribution``
    to the book's total return and ``costs``; a ``netting`` row per scenario holds the saving."""
    sleeves = result.sleeves
    flat = sleeves.returns.copy()
    flat.columns = [f"{s}\x1f{k}" for s, k in flat.columns]
    table = _metrics.summary(_metrics.drop_start_day(flat), risk_free=risk_free)
    table.index = pd.MultiIndex.from_tuples([tuple(i.split("\x1f")) for i in table.index], names=["scenario", "part"])
    table["mean_weight"] = sleeves.weights.mean().to_numpy()
    attribution = sleeves.attribution()
    out = attribution[["pnl", "contribution", "costs"]].join(table.drop(columns=["pnl", "contribution", "costs"],
                                                                        errors="ignore"))
    return out[[c for c in COLUMNS if c in out.columns]]
