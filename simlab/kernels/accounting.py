"""Daily accounting of a book of B scenarios over N assets between fills.

Between two fill days nothing trades: holdings stay, prices move, and each day's NAV is
``cash + holdings @ price``. The one event inside a segment is a delisting: on the first
day an asset has no price after its last one, a held position is closed at that last
price (proceeds to cash, no cost); short positions pay their daily borrow fee; and, where
the experiment finances cash, cash earns (or, negative, pays) a day's interest.
"""

from __future__ import annotations

import numpy as np
from numba import njit

DUST = 1e-12  # a trade worth at most this fraction of NAV is rounding noise, not an order


@njit(cache=True)
def mark_to_market_nb(holdings, cash, price, delist_row, start, stop, nav_out, peak_nav, delisted,
                      borrow_rate, fees_out):
    """:func:`mark_to_market_financed_nb` without financing (cash earns and pays nothing)."""
    return mark_to_market_financed_nb(holdings, cash, price, delist_row, start, stop, nav_out, peak_nav, delisted,
                                      borrow_rate, fees_out, np.zeros((0, 2)), fees_out, stop)


@njit(cache=True)
def mark_to_market_financed_nb(holdings, cash, price, delist_row, start, stop, nav_out, peak_nav, delisted,
                               borrow_rate, fees_out, cash_rates, financing_out, accrue_from):
    """Advance the book over rows ``start .. stop - 1``; write NAV, update peak, close delisted.

    Equivalent to, for each row t: from ``accrue_from`` on, add the day's interest on the
    cash held since the previous close, ``cash * cash_rates[b, 1]`` when positive and
    ``cash * cash_rates[b, 0]`` when negative (into ``financing_out[t]``, signed: income
    positive); close positions whose ``delist_row == t`` at
    ``price[t]``; charge the borrow fee ``borrow_rate * max(-holdings, 0) * price[t]`` from
    cash (into ``fees_out[t]``); then ``nav_out[t] = cash + (holdings * nan_to_num(price[t])).sum(axis=1)``
    and ``peak_nav = maximum(peak_nav, nav_out[t])``. Returns the number of positions
    closed by delistings.

    Parameters
    ----------
    holdings : (B, N) float64 shares, updated in place by delistings.
    cash : (B,) float64, updated in place by delisting proceeds and fees.
    price : (T, N) float64 close, forward-filled (NaN only before an asset's first price).
    delist_row : (N,) int64 row on which a delisted asset is closed; -1 if never.
    start, stop : int rows, the half-open segment to advance.
    nav_out : (T, B) float64, rows ``start .. stop - 1`` written.
    peak_nav : (B,) float64 running peak of NAV, updated in place.
    delisted : (B, N) float64, shares closed by a delisting are added here.
    borrow_rate : (B, N) float64 daily fee per unit of short value, or shape (0, 0) for none.
    fees_out : (T, B) float64, the day's borrow fees are added here.
    cash_rates : (B, 2) float64 daily rates ``[on negative cash, on positive cash]``, or
        shape (0, 2) for none.
    financing_out : (T, B) float64, the day's interest is added here (unused without rates).
    accrue_from : int, the first row that accrues interest (the day after the book opened).
    """
    n_scen, n_assets = holdings.shape
    charge = borrow_rate.shape[0] > 0
    finance = cash_rates.shape[0] > 0
    closed = 0
    for t in range(start, stop):
        if finance and t >= accrue_from:
            for b in range(n_scen):
                c = cash[b]
                interest = c * (cash_rates[b, 1] if c > 0.0 else cash_rates[b, 0])
                cash[b] += interest
                financing_out[t, b] += interest
        for n in range(n_assets):
            if delist_row[n] == t:
                for b in range(n_scen):
                    h = holdings[b, n]
                    if h != 0.0:
                        cash[b] += h * price[t, n]
                        delisted[b, n] += h
                        holdings[b, n] = 0.0
                        closed += 1
        for b in range(n_scen):
            if charge:
                fee = 0.0
                for n in range(n_assets):
                    h = holdings[b, n]
                    if h < 0.0 and price[t, n] == price[t, n]:
                        fee -= borrow_rate[b, n] * h * price[t, n]
                cash[b] -= fee
                fees_out[t, b] += fee
            nav_out[t, b] = book_value_nb(holdings[b], cash[b], price[t])
            if nav_out[t, b] > peak_nav[b]:
                peak_nav[b] = nav_out[t, b]
    return closed


@njit(cache=True)
def advance_day_nb(holdings, cash, price, delist_row, start, row, nav_out, peak_nav, delisted, borrow_rate, fees_out,
                   cash_rates, financing_out, accrue_from, peak_before):
    """Advance rows ``start .. row - 1``, copy the peak into ``peak_before`` (B,), advance ``row``.

    The two :func:`mark_to_market_financed_nb` segments of a decision or fill day in one
    call. Returns ``(closed, through)``: when the first segment closes delisted positions
    it stops there (``through`` False, ``closed`` its count) so that they are recorded
    before the day; otherwise ``closed`` counts the positions closed on ``row`` itself.
    """
    if row > start:
        closed = mark_to_market_financed_nb(holdings, cash, price, delist_row, start, row, nav_out, peak_nav, delisted,
                                            borrow_rate, fees_out, cash_rates, financing_out, accrue_from)
        if closed:
            return closed, False
    for b in range(peak_nav.shape[0]):  # a loop, not a slice assignment: quicker to compile
        peak_before[b] = peak_nav[b]
    closed = mark_to_market_financed_nb(holdings, cash, price, delist_row, row, row + 1, nav_out, peak_nav, delisted,
                                        borrow_rate, fees_out, cash_rates, financing_out, accrue_from)
    return closed, True


@njit(cache=True)
def book_value_nb(holdings, cash, price):
    """``cash + nansum(holdings * price)`` for one book (N,), summed in asset order."""
    value = cash
    for n in range(holdings.shape[0]):
        h = holdings[n]
        if h != 0.0 and price[n] == price[n]:
            value += h * price[n]
    return value


@njit(cache=True)
def book_values_nb(holdings, cash, price, out):
    """NAV (B,) of B books at one day's ``price`` (N,); the same sums as the daily kernel."""
    for b in range(holdings.shape[0]):
        out[b] = book_value_nb(holdings[b], cash[b], price)


@njit(cache=True)
def book_weights_nb(holdings, price, nav):
    """Weights (B, N) of B books: ``holdings * price / nav``, 0 for a book whose ``nav`` (B,) is 0."""
    out = np.zeros(holdings.shape)
    for b in range(holdings.shape[0]):
        if nav[b] != 0.0:
            for n in range(holdings.shape[1]):
                out[b, n] = holdings[b, n] * price[n] / nav[b]
    return out


@njit(cache=True)
def forward_fill_nb(values):
    """Forward-fill NaN down each column of a (T, N) array; equals ``DataFrame.ffill()``."""
    out = values.copy()
    n_rows, n_cols = out.shape
    last = np.full(n_cols, np.nan)
    for t in range(n_rows):  # row by row: the array's memory order
        for n in range(n_cols):
            v = out[t, n]
            if np.isnan(v):
                out[t, n] = last[n]
            else:
                last[n] = v
    return out


@njit(cache=True)
def fill_linear_nb(holdings, cash, nav, price, tradeable, target, fee_rate, fractional, lot_size,
                   min_trade_value, leverage, max_shares, shares_out, cost_out, scale_out, unfilled_out):
    """Trade B books to target weights at one day's prices, costs linear in traded value.

    Equals ``simlab.execution.fills.plan_fill`` with a cost of ``fee_rate[b] * |value|``:
    trades to target shares ``target * nav / price`` (each trade rounded toward zero to
    lots unless ``fractional``), trades under ``min_trade_value`` skipped, each trade clipped
    to ``max_shares`` (the rest reported in ``unfilled_out``), sells first, then all buys
    scaled by one factor per scenario so buys plus costs fit ``cash`` plus sell proceeds
    plus ``(leverage - 1) * nav``. Untradeable assets do not trade.

    Parameters
    ----------
    holdings : (B, N) shares held; cash, nav, fee_rate : (B,); price : (N,) with 0 where
    ``tradeable`` (N,) is False; target : (B, N) weights; max_shares : (N,) participation
    cap in shares (inf for none). Outputs, written in place: shares_out, cost_out,
    unfilled_out : (B, N); scale_out : (B,) the buy scale (1.0 if none).
    """
    n_scen, n_assets = holdings.shape
    for b in range(n_scen):
        rate = fee_rate[b]
        available = cash[b] + (leverage - 1.0) * nav[b]
        need = 0.0
        for n in range(n_assets):
            shares_out[b, n] = 0.0
            cost_out[b, n] = 0.0
            unfilled_out[b, n] = 0.0
            if not tradeable[n]:
                continue
            p = price[n]
            d = target[b, n] * nav[b] / p - holdings[b, n]
            if not fractional:
                d = np.trunc(d / lot_size) * lot_size
            if abs(d * p) < min_trade_value or abs(d * p) <= DUST * abs(nav[b]):
                d = 0.0
            cap = max_shares[n]
            if abs(d) > cap:
                capped = cap if d > 0.0 else -cap
                if not fractional:
                    capped = np.trunc(capped / lot_size) * lot_size
                unfilled_out[b, n] = d - capped
                d = capped
            if d < 0.0:
                value = -d * p
                cost_out[b, n] = rate * value
                available += value - rate * value
            elif d > 0.0:
                need += d * p + rate * d * p
            shares_out[b, n] = d
        scale = 1.0
        if need > 0.0 and need > available:
            scale = min(max(available / need, 0.0), 1.0)
        scale_out[b] = scale
        for n in range(n_assets):
            d = shares_out[b, n]
            if d > 0.0:
                if scale < 1.0:
                    d = d * scale
                    if not fractional:
                        d = np.floor(d / lot_size) * lot_size
                    if d * price[n] < min_trade_value:
                        d = 0.0
                    shares_out[b, n] = d
                cost_out[b, n] = rate * d * price[n]
