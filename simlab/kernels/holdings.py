"""Holdings metrics straight from holdings snapshots, with no (date, scenario, asset) weights.

Between two snapshots a book's holdings (shares) do not change; a day's weights are
``holdings * price[t] / nav[t, b]`` (0 where ``nav`` is 0). The kernels here walk one such
segment of days at a time, scenario by scenario, over the assets a scenario holds, and add
each day's figures to per-scenario sums; nothing of size days x scenarios x assets exists.
A segment's quadratic forms ``w' S w`` are one small matrix product (days x held assets).

The figures (numpy on the weights cube ``w`` (T, B, N), NaN read as 0 where said):

- effective number of assets: on each day with ``sum|w| > 0`` (NaN as 0),
  ``sum|w| ** 2 / sum(w ** 2)``; summed, and the days counted;
- diversification ratio: ``sum(|w_i| sigma_i) / sqrt(max(w' S w, 0))`` (NaN as 0; ``S``
  and ``sigma`` given for the scenarios whose first day with a position is the same), on
  the days with a position where it is finite; summed, the days counted;
- position hit rate: over (day t, asset i) with ``w[t-1, i]`` non-zero and not NaN and
  ``r[t, i]`` not NaN, the count of those and of ``w[t-1, i] * r[t, i] > 0``.

:mod:`simlab.analysis.metrics.holdings` states them on the cube; its tests check one
against the other.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# columns of the per-scenario sums written by holdings_segment_nb
EA_SUM, EA_DAYS, DR_SUM, DR_DAYS, HITS, COUNTED = range(6)
N_SUMS = 6


@njit(cache=True)
def _held_assets(row, assets):
    """Write the positions of ``row``'s non-zero entries (NaN included) into ``assets``; return how many."""
    k = 0
    for i in range(row.shape[0]):
        if row[i] != 0.0:
            assets[k] = i
            k += 1
    return k


@njit(cache=True)
def _weights(row, assets, k, price, nav, out):
    """``out[:k] = row[assets] * price[assets] / nav`` (0 where ``nav`` is 0), as the weights cube has them."""
    for j in range(k):
        i = assets[j]
        out[j] = 0.0 if nav == 0.0 else row[i] * price[i] / nav


@njit(cache=True)
def first_held_nb(holdings, price, nav, start, stop, first):
    """Where ``first[b] < 0``: the first row ``t`` in ``start .. stop - 1`` on which scenario
    ``b`` holds a position (a weight ``holdings[b] * price[t] / nav[t, b]`` non-zero and not
    NaN), written to ``first[b]``. ``holdings`` (B, N) is in force on those rows;
    ``price`` (T, N), ``nav`` (T, B)."""
    n_scen, n_assets = holdings.shape
    assets = np.empty(n_assets, dtype=np.int64)
    w = np.empty(n_assets)
    for b in range(n_scen):
        if first[b] >= 0:
            continue
        k = _held_assets(holdings[b], assets)
        if k == 0:
            continue
        for t in range(start, stop):
            _weights(holdings[b], assets, k, price[t], nav[t, b], w)
            held = False
            for j in range(k):
                if w[j] != 0.0 and not np.isnan(w[j]):
                    held = True
            if held:
                first[b] = t
                break


@njit(cache=True, error_model="numpy")
def holdings_segment_nb(holdings, before, price, nav, returns, start, stop, scenarios, ratio_from, cov_full,
                        sigma_full, sums):
    """Add rows ``start .. stop - 1`` to the holdings sums of the scenarios ``scenarios`` (module docstring).

    Parameters
    ----------
    holdings : (B, N) shares in force on those rows.
    before : (B, N) shares in force on row ``start - 1`` (the previous day's weights of the hit
        rate); ignored when ``start`` is 0, where there is no previous day.
    price, returns : (T, N) valuation prices and asset returns; ``nav`` (T, B).
    scenarios : (M,) int positions in the batch axis, all with the same first row with a
        position, ``ratio_from``: the diversification ratio counts from there, with the
        covariance ``cov_full`` (N, N) and volatilities ``sigma_full`` (N,).
    sums : (B, N_SUMS) float, added to in place (columns ``EA_SUM`` .. ``COUNTED``).
    """
    n_assets = holdings.shape[1]
    n_days = stop - start
    assets = np.empty(n_assets, dtype=np.int64)
    prev_assets = np.empty(n_assets, dtype=np.int64)
    w = np.empty(n_assets)
    prev_w = np.empty(n_assets)
    cov = np.empty(n_assets * n_assets)
    sigma = np.empty(n_assets)
    sized = np.empty(n_days * n_assets)  # the segment's |w| (NaN as 0), day by day
    signed = np.empty(n_days * n_assets)  # and w (NaN as 0)
    ratio_day = np.zeros(n_days, dtype=np.bool_)
    for b in scenarios:
        k = _held_assets(holdings[b], assets)
        if start > 0:
            pk = _held_assets(before[b], prev_assets)
            _weights(before[b], prev_assets, pk, price[start - 1], nav[start - 1, b], prev_w)
            _hits(prev_assets, prev_w, pk, returns[start], sums[b])
        if k == 0:
            continue
        any_ratio = False
        for t in range(start, stop):
            _weights(holdings[b], assets, k, price[t], nav[t, b], w)
            if t > start:
                _hits(assets, prev_w, k, returns[t], sums[b])
            row = (t - start) * k
            gross = 0.0
            squares = 0.0
            for j in range(k):
                zero = np.isnan(w[j])
                signed[row + j] = 0.0 if zero else w[j]
                sized[row + j] = abs(signed[row + j])
                gross += sized[row + j]
                squares += sized[row + j] * sized[row + j]
            ratio_day[t - start] = gross > 0.0 and t >= ratio_from
            any_ratio = any_ratio or ratio_day[t - start]
            if gross > 0.0:
                sums[b, EA_SUM] += gross * gross / squares
                sums[b, EA_DAYS] += 1.0
            prev_w[:k] = w[:k]
        if any_ratio:
            _compact(cov_full, sigma_full, assets, k, cov, sigma)
            _ratio_days(signed[: n_days * k].reshape((n_days, k)), sized[: n_days * k].reshape((n_days, k)),
                        ratio_day, cov[: k * k].reshape((k, k)), sigma[:k], sums[b])


@njit(cache=True, error_model="numpy")
def _ratio_days(signed, sized, ratio_day, cov, sigma, sums_b):
    """The segment's daily diversification ratios (days x held assets) added to the sums where finite."""
    spread = np.dot(signed, cov)  # one small gemm: each day's S w
    for d in range(signed.shape[0]):
        if not ratio_day[d]:
            continue
        weighted = 0.0
        variance = 0.0
        for j in range(signed.shape[1]):
            weighted += sized[d, j] * sigma[j]
            variance += spread[d, j] * signed[d, j]
        root = np.sqrt(max(variance, 0.0))
        if root != 0.0 and np.isfinite(root):
            daily = weighted / root
            if np.isfinite(daily):
                sums_b[DR_SUM] += daily
                sums_b[DR_DAYS] += 1.0


@njit(cache=True)
def _hits(assets, prev_w, k, returns_t, sums_b):
    """The hit rate's count for one day: positions held at the previous close and their wins."""
    for j in range(k):
        r = returns_t[assets[j]]
        if prev_w[j] != 0.0 and not np.isnan(prev_w[j]) and not np.isnan(r):
            sums_b[COUNTED] += 1.0
            if prev_w[j] * r > 0.0:
                sums_b[HITS] += 1.0


@njit(cache=True)
def _compact(cov_full, sigma_full, assets, k, cov, sigma):
    """The held assets' covariance (k x k, row-major in ``cov``) and volatilities."""
    for a in range(k):
        sigma[a] = sigma_full[assets[a]]
        for c in range(k):
            cov[a * k + c] = cov_full[assets[a], assets[c]]
