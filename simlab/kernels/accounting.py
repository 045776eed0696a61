"""Daily accounting of a book of B scenarios over N assets between fills.

Between two fill days nothing trades: holdings stay, prices move, and each day's NAV is
``cash + holdings @ price``. The one event inside a segment is a delisting: on the first
day an asset has no price after its last one, a held position is closed at that last
price (proceeds to cash, no cost).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def mark_to_market_nb(holdings, cash, price, delist_row, start, stop, nav_out, peak_nav, delisted):
    """Advance the book over rows ``start .. stop - 1``; write NAV, update peak, close delisted.

    Equivalent to, for each row t: close positions whose ``delist_row == t`` at
    ``price[t]``, then ``nav_out[t] = cash + (holdings * nan_to_num(price[t])).sum(axis=1)``
    and ``peak_nav = maximum(peak_nav, nav_out[t])``.

    Parameters
    ----------
    holdings : (B, N) float64 shares, updated in place by delistings.
    cash : (B,) float64, updated in place by delisting proceeds.
    price : (T, N) float64 close, forward-filled (NaN only before an asset's first price).
    delist_row : (N,) int64 row on which a delisted asset is closed; -1 if never.
    start, stop : int rows, the half-open segment to advance.
    nav_out : (T, B) float64, rows ``start .. stop - 1`` written.
    peak_nav : (B,) float64 running peak of NAV, updated in place.
    delisted : (B, N) float64, shares closed by a delisting are added here.
    """
    n_scen, n_assets = holdings.shape
    for t in range(start, stop):
        for n in range(n_assets):
            if delist_row[n] == t:
                for b in range(n_scen):
                    h = holdings[b, n]
                    if h != 0.0:
                        cash[b] += h * price[t, n]
                        delisted[b, n] += h
                        holdings[b, n] = 0.0
        for b in range(n_scen):
            value = cash[b]
            for n in range(n_assets):
                h = holdings[b, n]
                if h != 0.0:
                    value += h * price[t, n]
            nav_out[t, b] = value
            if value > peak_nav[b]:
                peak_nav[b] = value


@njit(cache=True)
def forward_fill_nb(values):
    """Forward-fill NaN down each column of a (T, N) array; equals ``DataFrame.ffill()``."""
    out = values.copy()
    n_rows, n_cols = out.shape
    for n in range(n_cols):
        last = np.nan
        for t in range(n_rows):
            v = out[t, n]
            if np.isnan(v):
                out[t, n] = last
            else:
                last = v
    return out
