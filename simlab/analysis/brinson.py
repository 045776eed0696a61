"""Brinson-Fachler attribution by sector, linked over time so the periods add up.

For one period, with portfolio and benchmark sector weights :math:`w^p_s, w^b_s`, sector
returns :math:`R^p_s, R^b_s` and the benchmark's total :math:`R^b`:

- allocation  :math:`(w^p_s - w^b_s)(R^b_s - R^b)`
- selection   :math:`w^b_s (R^p_s - R^b_s)`
- interaction :math:`(w^p_s - w^b_s)(R^p_s - R^b_s)`

which add up, over sectors, to the period's active return :math:`R^p - R^b`. Cash is a
sector of its own (return 0, benchmark weight 0). Periods are linked geometrically with the
GRAP factors (Frongello 2002): the effect of period t is scaled by
:math:`\\prod_{u<t}(1+R^p_u) \\prod_{u>t}(1+R^b_u)`, so the linked effects add to the
compounded active return :math:`\\prod(1+R^p) - \\prod(1+R^b)` exactly.

The portfolio's return in a period is that of its holdings at the period's start held to
its end (buy and hold). The run's own NAV also pays costs and trades inside the period;
:func:`brinson_fachler` reports that difference as ``trading_and_costs`` rather than
folding it into an effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.errors import DataError

EFFECTS = ("allocation", "selection", "interaction")
CASH = "(cash)"


def single_period(wp: pd.Series, wb: pd.Series, rp: pd.Series, rb: pd.Series) -> pd.DataFrame:
    """Brinson-Fachler effects of one period by sector.

    Parameters
    ----------
    wp, wb : Series
        Portfolio and benchmark weights by sector (each summing to 1, cash included).
    rp, rb : Series
        Portfolio and benchmark returns of each sector over the period (a sector the
        portfolio or benchmark does not hold may take any value: its weight is 0).

    Returns
    -------
    DataFrame
        Sectors x (allocation, selection, interaction).
    """
    index = wp.index.union(wb.index)
    wp, wb = wp.reindex(index, fill_value=0.0), wb.reindex(index, fill_value=0.0)
    rp, rb = rp.reindex(index).fillna(0.0), rb.reindex(index).fillna(0.0)
    # A sector the portfolio does not hold has no own return: take the benchmark's (selection 0).
    rp = rp.where(wp != 0.0, rb)
    total_b = float((wb * rb).sum())
    return pd.DataFrame({
        "allocation": (wp - wb) * (rb - total_b),
        "selection": wb * (rp - rb),
        "interaction": (wp - wb) * (rp - rb),
    })


def sector_view(weights: pd.Series, returns: pd.Series, sectors: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Sector weights and sector returns (weight-averaged) of asset weights and returns; cash included."""
    labels = sectors.reindex(weights.index).fillna("(none)")
    contrib = (weights * returns.reindex(weights.index).fillna(0.0)).groupby(labels).sum()
    wsec = weights.groupby(labels).sum()
    rsec = (contrib / wsec.where(wsec != 0.0)).fillna(0.0)
    wsec[CASH], rsec[CASH] = 1.0 - float(weights.sum()), 0.0
    return wsec, rsec


def brinson_fachler(weights: pd.DataFrame, asset_returns: pd.DataFrame, sectors: pd.Series,
                    benchmark_weights: pd.DataFrame | None = None, nav_returns: pd.Series | None = None) -> dict:
    """Linked Brinson-Fachler attribution of one portfolio over consecutive periods.

    Parameters
    ----------
    weights : DataFrame
        Portfolio asset weights at the start of each period (index: period start dates).
    asset_returns : DataFrame
        Each asset's compound return over each period (same index and columns; NaN counts
        as 0 for a held weight, and as not in the default benchmark).
    sectors : Series
        Sector of each asset.
    benchmark_weights : DataFrame, optional
        Benchmark asset weights at the start of each period; default equal weight over the
        assets with a return in the period.
    nav_returns : Series, optional
        The portfolio's realized return per period; the gap to the buy-and-hold return
        is reported as ``trading_and_costs``.

    Returns
    -------
    dict
        ``periods`` (DataFrame: one row per period, the three effects, portfolio,
        benchmark and active returns, linked effects), ``by_sector`` (linked effects summed
        over periods, sectors x effects) and ``summary`` (a Series: compounded portfolio,
        benchmark and active return; linked effects; their sum; realized and
        trading_and_costs when ``nav_returns`` is given).
    """
    if not weights.index.equals(asset_returns.index) or not weights.columns.equals(asset_returns.columns):
        raise DataError("brinson_fachler: weights and asset_returns must share their periods and assets")
    if benchmark_weights is None:
        held = asset_returns.notna().to_numpy(float)
        wb = held / np.where(held.sum(axis=1, keepdims=True) > 0, held.sum(axis=1, keepdims=True), 1.0)
    else:
        wb = benchmark_weights.reindex(index=weights.index, columns=weights.columns).fillna(0.0).to_numpy(float)
    wp, r = weights.to_numpy(float), asset_returns.fillna(0.0).to_numpy(float)
    labels = sectors.reindex(weights.columns).fillna("(none)")
    names = list(pd.unique(labels)) + [CASH]
    onehot = (labels.to_numpy()[:, None] == np.asarray(names[:-1], dtype=object)[None, :]).astype(float)
    effects, rp, rb = period_effects(wp, wb, r, onehot)
    linked = effects * grap_factors(rp, rb)[:, None, None]
    index = weights.index
    periods = pd.DataFrame(effects.sum(axis=1), index=index, columns=list(EFFECTS))
    periods["portfolio"], periods["benchmark"], periods["active"] = rp, rb, rp - rb
    for i, e in enumerate(EFFECTS):
        periods[f"linked_{e}"] = linked[:, :, i].sum(axis=1)
    by_sector = pd.DataFrame(linked.sum(axis=0), index=pd.Index(names, name="sector"), columns=list(EFFECTS))
    return {"periods": periods, "by_sector": by_sector, "summary": _summary(periods, rp, rb, nav_returns)}


def period_effects(wp: np.ndarray, wb: np.ndarray, r: np.ndarray, onehot: np.ndarray):
    """Brinson-Fachler effects of every period at once: (P, S + 1, 3), cash the last sector.

    ``wp``, ``wb``, ``r`` are (P, N) weights and returns, ``onehot`` the (N, S) sector map;
    the same arithmetic as :func:`single_period` with :func:`sector_view`, vectorized.
    """
    def by_sector(w):
        ws = w @ onehot
        cs = (w * r) @ onehot
        ws = np.concatenate([ws, 1.0 - w.sum(axis=1, keepdims=True)], axis=1)
        cs = np.concatenate([cs, np.zeros((len(w), 1))], axis=1)
        return ws, cs

    wps, cps = by_sector(wp)
    wbs, cbs = by_sector(wb)
    rbs = np.divide(cbs, wbs, out=np.zeros_like(cbs), where=wbs != 0.0)
    rps = np.divide(cps, wps, out=rbs.copy(), where=wps != 0.0)
    rb = cbs.sum(axis=1)
    rp = cps.sum(axis=1)
    active_w = wps - wbs
    effects = np.stack([active_w * (rbs - rb[:, None]), wbs * (rps - rbs), active_w * (rps - rbs)], axis=2)
    return effects, rp, rb


def grap_factors(rp: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """GRAP linking factors :math:`\\prod_{u<t}(1+R^p_u) \\prod_{u>t}(1+R^b_u)` of each period."""
    growth_p = np.concatenate([[1.0], np.cumprod(1.0 + rp)[:-1]])
    growth_b_after = np.concatenate([np.cumprod((1.0 + rb)[::-1])[::-1][1:], [1.0]])
    return growth_p * growth_b_after


def _summary(periods: pd.DataFrame, rp: np.ndarray, rb: np.ndarray, nav_returns: pd.Series | None) -> pd.Series:
    total_p, total_b = float(np.prod(1.0 + rp) - 1.0), float(np.prod(1.0 + rb) - 1.0)
    out = {"portfolio": total_p, "benchmark": total_b, "active": total_p - total_b}
    for e in EFFECTS:
        out[e] = float(periods[f"linked_{e}"].sum())
    out["sum_of_effects"] = out["allocation"] + out["selection"] + out["interaction"]
    if nav_returns is not None:
        realized = float(np.prod(1.0 + nav_returns.reindex(periods.index).fillna(0.0).to_numpy()) - 1.0)
        out["realized"] = realized
        out["trading_and_costs"] = realized - total_p
    return pd.Series(out)


def period_returns(close: pd.DataFrame, starts: pd.DatetimeIndex, end: pd.Timestamp) -> pd.DataFrame:
    """Each asset's compound return from the close of each start date to the next (last: ``end``)."""
    at = close.index.get_indexer(list(starts) + [end])
    if (at < 0).any():
        raise DataError("period_returns: a period boundary is not a date of the prices")
    values = close.to_numpy(float)[at]
    return pd.DataFrame(values[1:] / values[:-1] - 1.0, index=starts, columns=close.columns)


def read_benchmark_weights(path) -> pd.DataFrame:
    """Benchmark weights from a CSV: a ``date`` column, then one column per asset.

    Each row holds from its date until the next (used as of each period start). Rows are
    taken as given (a benchmark may hold cash); negative or non-numeric weights are errors.

    Raises
    ------
    DataError
        A missing file, no ``date`` column, a bad date, or a weight that is not a number >= 0.
    """
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DataError(f"benchmark weights: file not found: {path}")
    frame = pd.read_csv(path)
    if "date" not in frame.columns:
        raise DataError(f"benchmark weights {path}: no 'date' column (columns: {', '.join(frame.columns)})")
    try:
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")))
    except (ValueError, TypeError) as err:
        raise DataError(f"benchmark weights {path}: a date does not parse: {err}") from None
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna() | (values < 0)
        if bad.any():
            raise DataError(f"benchmark weights {path}: asset {col} on {frame.index[bad.to_numpy()][0].date()}: "
                            f"{frame[col][bad].iloc[0]!r} is not a weight >= 0")
        frame[col] = values.fillna(0.0)
    return frame.sort_index()
