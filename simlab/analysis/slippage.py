"""Slippage: the cost each fill realized against the cost its decision assumed.

Reads a trades table with ``estimated_cost`` and ``realized_cost`` (a run with
``realized_costs``, or broker fills joined to their orders). Costs are in basis points of
the traded value; slippage is realized minus estimated, so positive means the fill cost
more than the model said.

>>> fills = slippage_fills(result.trades)                           # doctest: +SKIP
>>> slippage_summary(fills, by="side")                              # p50/p90 per side  # doctest: +SKIP
>>> slippage_drift(fills, freq="YE")                                # mean per year      # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.errors import DataError

SIZE_BUCKETS = 4


def slippage_fills(trades: pd.DataFrame, adv: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per fill: date, scenario, asset, side, value, estimated/realized/slippage bps,
    size bucket (quartile of traded value within the scenario) and, with ``adv`` (date x
    asset, money per day), participation.

    Raises
    ------
    DataError
        The trades carry no ``estimated_cost``/``realized_cost`` (run without ``realized_costs``).
    """
    missing = [c for c in ("estimated_cost", "realized_cost") if c not in trades.columns]
    if missing:
        raise DataError(f"slippage: the trades table has no {', '.join(missing)} column; run the experiment "
                        "with a `realized_costs:` model (or join broker fills) to compare costs")
    fills = trades[trades["value"] != 0].copy()
    size = fills["value"].abs()
    fills["side"] = np.where(fills["value"] > 0, "buy", "sell")
    fills["estimated_bps"] = fills["estimated_cost"] / size * 1e4
    fills["realized_bps"] = fills["realized_cost"] / size * 1e4
    fills["slippage_bps"] = fills["realized_bps"] - fills["estimated_bps"]
    fills["size_bucket"] = fills.groupby("scenario")["value"].transform(_size_bucket)
    if adv is not None:
        looked = adv.stack().rename("adv")
        keys = pd.MultiIndex.from_arrays([fills["date"], fills["asset"]])
        fills["participation"] = size.to_numpy() / looked.reindex(keys).to_numpy()
    cols = ["date", "scenario", "asset", "side", "value", "estimated_bps", "realized_bps", "slippage_bps",
            "size_bucket"] + (["participation"] if adv is not None else [])
    return fills[cols].reset_index(drop=True)


def _size_bucket(values: pd.Series) -> pd.Series:
    size = values.abs()
    n = min(SIZE_BUCKETS, size.nunique())
    if n < 2:
        return pd.Series("all", index=values.index)
    return pd.qcut(size.rank(method="first"), n, labels=[f"Q{i + 1}" for i in range(n)]).astype(str)


def slippage_summary(fills: pd.DataFrame, by: str | list[str] = "scenario") -> pd.DataFrame:
    """Count, mean, p50 and p90 of estimated, realized and slippage bps per group.

    ``by`` names columns of :func:`slippage_fills`: ``scenario``, ``asset``, ``side``,
    ``size_bucket``, or several.
    """
    keys = [by] if isinstance(by, str) else list(by)
    grouped = fills.groupby(keys)
    out = pd.DataFrame({"fills": grouped.size()})
    for col in ("estimated_bps", "realized_bps", "slippage_bps"):
        short = col.removesuffix("_bps")
        out[f"{short}_mean"] = grouped[col].mean()
        out[f"{short}_p50"] = grouped[col].median()
        out[f"{short}_p90"] = grouped[col].quantile(0.9)
    return out


def slippage_drift(fills: pd.DataFrame, freq: str = "YE") -> pd.DataFrame:
    """Mean estimated, realized and slippage bps per period (``freq``, pandas offset) and scenario,
    weighted by traded value, so a drift in execution quality over time shows."""
    size = fills["value"].abs()
    frame = fills.assign(_w=size, _e=fills["estimated_bps"] * size, _r=fills["realized_bps"] * size)
    grouped = frame.groupby(["scenario", pd.Grouper(key="date", freq=freq)])[["_w", "_e", "_r"]].sum()
    out = pd.DataFrame({"estimated_bps": grouped["_e"] / grouped["_w"], "realized_bps": grouped["_r"] / grouped["_w"]})
    out["slippage_bps"] = out["realized_bps"] - out["estimated_bps"]
    return out
