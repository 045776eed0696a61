"""Metrics of the book's holdings: effective number of assets, diversification ratio, position hit rate.

They read end-of-day weights (fractions of NAV; cash is what they leave out) instead of the
portfolio's returns. A day on which the book holds nothing is left out of every average.
Conventions and the parameters shared by every metric: :mod:`simlab.analysis.metrics`.

:func:`holdings_metrics` gives the same three figures from a run's holdings snapshots
(shares, which change only when the book trades) without the (date, scenario, asset)
weights: a compiled pass (:mod:`simlab.kernels.holdings`) over the assets each scenario
holds. A run of 1,000 scenarios of 100 assets over 20 years has 504 million weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.analysis.metrics._arrays import _divide
from simlab.kernels import holdings as _kernel

__all__ = ["diversification_ratio", "effective_assets", "holdings_metrics", "position_hit_rate"]


# ----------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------


def _weights_3d(weights) -> tuple[np.ndarray, pd.Index, pd.Index | None, list]:
    """``weights`` as a float array (T, B, N), its dates, scenario labels (None for a frame) and assets.

    A DataFrame (date x asset) is one scenario; a DataArray has dims (date, scenario, asset).
    """
    if isinstance(weights, pd.DataFrame):
        array = weights.to_numpy(dtype="float64", na_value=np.nan)[:, None, :]
        return array, weights.index, None, list(weights.columns)
    dims = getattr(weights, "dims", None)
    if dims != ("date", "scenario", "asset"):
        raise TypeError("weights must be a DataFrame (date x asset) or a DataArray with dims "
                        f"(date, scenario, asset), got {type(weights).__name__} with dims {dims}")
    return (np.asarray(weights.values, dtype="float64"), pd.Index(weights["date"].values),
            pd.Index(weights["scenario"].values), list(weights["asset"].values))


def _wrap_b(values: np.ndarray, labels: pd.Index | None, name: str) -> float | pd.Series:
    return float(values[0]) if labels is None else pd.Series(values, index=labels, name=name, dtype="float64")


def _asset_returns(asset_returns: pd.DataFrame, dates: pd.Index, assets: list) -> np.ndarray:
    """Asset returns (T, N) on the weights' dates and assets; a missing asset raises."""
    missing = [a for a in assets if a not in asset_returns.columns]
    if missing:
        raise ValueError(f"asset_returns lacks the assets {missing[:5]} that weights hold")
    return asset_returns.reindex(index=dates, columns=assets).to_numpy(dtype="float64", na_value=np.nan)


def _zero_nan(w: np.ndarray) -> np.ndarray:
    """``w`` with NaN read as 0 (a copy where it has a NaN; infinities are kept)."""
    nan = np.isnan(w)
    return np.where(nan, 0.0, w) if nan.any() else w


def _holding(w: np.ndarray) -> np.ndarray:
    """(T, B) True on days a scenario holds some asset (``w`` without NaN)."""
    return np.abs(w).sum(axis=2) > 0


# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------


def effective_assets(weights) -> float | pd.Series:
    """Effective number of assets, ``1 / sum(w ** 2)``, averaged over the days with a position.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        Each day's weights are first scaled to a gross of 1 (``|w| / sum|w|``), so cash
        and leverage do not move the count: 1 for a single name, ``N`` for ``N`` equal
        weights. NaN for a scenario that never holds anything.
    """
    w, _, labels, _ = _weights_3d(weights)
    size = np.abs(_zero_nan(w))
    gross = size.sum(axis=2)
    held = gross > 0
    # 1 / sum((|w| / gross) ** 2) = gross ** 2 / sum(w ** 2), one pass over the weights
    daily = np.zeros(gross.shape)
    np.divide(gross * gross, np.einsum("tbn,tbn->tb", size, size), out=daily, where=held)
    return _wrap_b(_divide(daily.sum(axis=0), held.sum(axis=0)), labels, "effective_assets")


def diversification_ratio(weights, asset_returns: pd.DataFrame, *,
                          covariances: dict | None = None) -> float | pd.Series:
    """Diversification ratio ``sum(|w_i| sigma_i) / sqrt(w' S w)``, averaged over the days with a position.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`; ``asset_returns``
    must have every asset ``weights`` holds.

    Returns
    -------
    float or Series
        ``S`` is the sample covariance (``ddof=1``, pairwise over the days both assets
        have a return) of the asset returns from the scenario's first day with a
        position to the last date, and ``sigma_i`` its square-rooted diagonal: one
        estimate for the whole run, so the ratio moves only with the weights. 1 for a single asset or perfectly correlated ones, higher as
        the book diversifies. A day whose portfolio variance is zero is left out.

    ``covariances``, a dict the caller keeps, shares those estimates between calls on
    blocks of scenarios of one run (same dates, assets and ``asset_returns``).
    """
    w, dates, labels, assets = _weights_3d(weights)
    w = _zero_nan(w)
    r = _asset_returns(asset_returns, dates, assets)
    held = _holding(w)
    out = np.full(w.shape[1], np.nan)
    covs = {} if covariances is None else covariances  # by first date: scenarios mostly share a few
    for b in np.flatnonzero(held.any(axis=0)):
        first = int(np.argmax(held[:, b]))
        key = (dates[first], len(dates) - first)
        if key not in covs:
            covs[key] = np.nan_to_num(pd.DataFrame(r[first:]).cov(ddof=1).to_numpy(), nan=0.0)
        cov = covs[key]
        wb = w[first:, b]
        weighted = np.abs(wb) @ np.sqrt(np.diag(cov))
        variance = np.einsum("ti,ti->t", wb @ cov, wb)  # one gemm: a three-operand einsum loops in C
        daily = _divide(weighted, np.sqrt(np.maximum(variance, 0.0)))
        ok = np.isfinite(daily) & held[first:, b]
        out[b] = _divide(np.where(ok, daily, 0.0).sum(), ok.sum())
    return _wrap_b(out, labels, "diversification_ratio")


def position_hit_rate(weights, asset_returns: pd.DataFrame) -> float | pd.Series:
    """Fraction of position-days that made money.

    Parameters: see *Shared parameters* in :mod:`simlab.analysis.metrics`.

    Returns
    -------
    float or Series
        Over every (day, asset) with a non-zero weight at the previous close and an
        asset return that day: the share with ``w_prev * r > 0`` (a long that rose, a
        short that fell); a flat day counts as a miss. Where the portfolio's
        :func:`~simlab.analysis.metrics.hit_rate` counts winning days, this counts
        winning positions. NaN for a scenario that never holds anything.
    """
    w, dates, labels, assets = _weights_3d(weights)
    r = _asset_returns(asset_returns, dates, assets)
    prev = w[:-1]
    now = r[1:, None, :]
    counted = (prev != 0) & ~np.isnan(prev) & ~np.isnan(now)
    with np.errstate(invalid="ignore"):
        wins = prev * now > 0  # False where either is NaN: a win is always a counted position
    return _wrap_b(_divide(np.count_nonzero(wins, axis=(0, 2)), np.count_nonzero(counted, axis=(0, 2))),
                   labels, "position_hit_rate")


def holdings_metrics(snapshots, snapshot_of_day: np.ndarray, price: np.ndarray, nav: np.ndarray,
                     asset_returns: np.ndarray, scenarios) -> pd.DataFrame:
    """The three holdings metrics of every scenario from holdings snapshots, with no weights cube.

    Parameters
    ----------
    snapshots : sequence of ndarray (B, N)
        Holdings (shares) of each scenario, each in force from some day on.
    snapshot_of_day : ndarray (T,) of int
        Which snapshot is in force at each day's close.
    price : ndarray (T, N)
        Valuation price of each asset at each close.
    nav : ndarray (T, B)
        Each scenario's NAV at each close.
    asset_returns : ndarray (T, N)
        Each asset's return on each day (NaN where it has none).
    scenarios : sequence
        The B scenario labels, the table's index.

    Returns
    -------
    DataFrame
        Index ``scenarios``; columns ``effective_assets``, ``diversification_ratio``,
        ``position_hit_rate``: what those functions give on the weights
        ``holdings * price / nav`` (0 where ``nav`` is 0) of these T days, equal up to the
        order of the sums (1e-12 relative). The covariance of the diversification ratio is
        estimated once for the scenarios that share a first day with a position.
    """
    index = np.asarray(snapshot_of_day, dtype=np.int64)
    price, nav, returns = (np.ascontiguousarray(a, dtype="float64") for a in (price, nav, asset_returns))
    n_days, n_scen = nav.shape
    if index.shape != (n_days,) or price.shape != returns.shape or price.shape[0] != n_days:
        raise ValueError(f"holdings_metrics: snapshot_of_day {index.shape}, price {price.shape}, nav {nav.shape} "
                         f"and asset_returns {returns.shape} must cover the same days (and assets)")
    labels = pd.Index(list(scenarios), name="scenario")
    if n_days == 0:
        return pd.DataFrame(np.nan, index=labels, columns=["effective_assets", "diversification_ratio",
                                                            "position_hit_rate"])
    held = [np.ascontiguousarray(s, dtype="float64") for s in snapshots]
    cuts = np.flatnonzero(np.diff(index)) + 1
    segments = list(zip(np.r_[0, cuts].tolist(), np.r_[cuts, n_days].tolist()))
    first = np.full(n_scen, -1, dtype=np.int64)
    for start, stop in segments:
        _kernel.first_held_nb(held[index[start]], price, nav, start, stop, first)
    sums = np.zeros((n_scen, _kernel.N_SUMS))
    for day in np.unique(first[first >= 0]):
        rows = np.flatnonzero(first == day)
        cov = np.nan_to_num(pd.DataFrame(returns[day:]).cov(ddof=1).to_numpy(), nan=0.0)
        sigma = np.sqrt(np.diag(cov))
        for start, stop in segments:
            if stop > day:
                before = held[index[start - 1]] if start > 0 else held[index[start]]
                _kernel.holdings_segment_nb(held[index[start]], before, price, nav, returns, start, stop, rows,
                                            day, np.ascontiguousarray(cov), sigma, sums)
    k = _kernel
    return pd.DataFrame({
        "effective_assets": _divide(sums[:, k.EA_SUM], sums[:, k.EA_DAYS]),
        "diversification_ratio": _divide(sums[:, k.DR_SUM], sums[:, k.DR_DAYS]),
        "position_hit_rate": _divide(sums[:, k.HITS], sums[:, k.COUNTED]),
    }, index=labels)
