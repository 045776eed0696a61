"""One fill day of a group of books with linear costs, in one compiled call.

:func:`fill_book_nb` plans the fill (:func:`simlab.kernels.accounting.fill_linear_nb`),
books it (shares into the holdings, their value and costs out of the cash), and returns
what the day records: the sparse trades and the per-scenario figures. The numpy path it
replaces (``simlab.execution.fills.fill_linear``, ``Book.book_fill``, the recorder) sums
each scenario's traded value and costs with numpy's ``sum(axis=1)``; :func:`row_sum_nb`
adds in numpy's own pairwise order, so the cash comes out with the same bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simlab.kernels.accounting import book_values_nb, fill_linear_nb

_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE: blocks at most this long are summed with 8 accumulators
_STACK = 128  # pending halves and sums: two per level of halving, far beyond any row's length


@njit(cache=True)
def _block_nb(a, lo, n):
    """numpy's ``pairwise_sum`` of a block ``a[lo : lo + n]``, ``n`` at most 128, in its order."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _pairwise_nb(a, lo, n):
    """numpy's ``pairwise_sum`` of ``a[lo : lo + n]`` (contiguous float64), in its order.

    numpy halves a range longer than 128 (the first half a multiple of 8) and adds the two
    halves' sums; the halving runs here on an explicit stack (numba cannot cache a
    recursive function).
    """
    if n <= _PAIRWISE_BLOCK:
        return _block_nb(a, lo, n)
    task_lo = np.empty(_STACK, dtype=np.int64)
    task_n = np.empty(_STACK, dtype=np.int64)  # -1: add the last two sums
    sums = np.empty(_STACK)
    n_tasks, n_sums = 1, 0
    task_lo[0], task_n[0] = lo, n
    while n_tasks > 0:
        n_tasks -= 1
        start, size = task_lo[n_tasks], task_n[n_tasks]
        if size < 0:
            n_sums -= 1
            sums[n_sums - 1] = sums[n_sums - 1] + sums[n_sums]
        elif size <= _PAIRWISE_BLOCK:
            sums[n_sums] = _block_nb(a, start, size)
            n_sums += 1
        else:
            half = size // 2
            half -= half % 8
            task_lo[n_tasks], task_n[n_tasks] = 0, -1
            task_lo[n_tasks + 1], task_n[n_tasks + 1] = start + half, size - half
            task_lo[n_tasks + 2], task_n[n_tasks + 2] = start, half
            n_tasks += 3
    return sums[0]


@njit(cache=True)
def row_sum_nb(a):
    """``a.sum()`` of a contiguous float64 row with numpy's bits: its identity 0.0 plus the
    pairwise sum (numpy's reduction of one row of a C-contiguous array, ``sum(axis=1)``)."""
    return 0.0 + _pairwise_nb(a, 0, a.shape[0])


@njit(cache=True)
def fill_book_nb(holdings, cash, nav, row, price, tradeable, targets, rows, trade, fee_rate, fractional, lot_size,
                 min_trade_value, leverage, max_shares):
    """Fill the books ``rows`` toward ``targets`` at one day's ``price`` and book the fill in place.

    Parameters
    ----------
    holdings : (B, N) shares of the whole batch, written in place.
    cash : (B,) cash of the whole batch, written in place.
    nav : (T, B) the book's NAV; row ``row`` (valued at ``price``) sizes the trades.
    price : (N,) fill and booking prices, 0 where ``tradeable`` (N,) is False.
    targets : (B, N) target weights of the whole batch (only ``rows`` are read).
    rows : (B_g,) int64 positions of the group's books in the batch.
    trade : (B_g,) bool, the books that trade (the others keep their holdings).
    fee_rate : (B_g,) cost per unit of traded value. The rest as
        :func:`simlab.kernels.accounting.fill_linear_nb` takes them.

    Returns
    -------
    positions : (2, K) int32, the batch and asset positions of the K trades (row-major order).
    trades : (3, K) float64, their shares, prices and costs.
    per_book : (2, B_g) float64, the factor applied to each book's buys (1.0 where none, or
        where not trading) and the costs it paid.
    blocked : (B_g,) int64 orders that could not fill (no price that day, a target or holding).
    """
    n_group, n_assets = rows.shape[0], holdings.shape[1]
    held = np.empty((n_group, n_assets))
    target = np.empty((n_group, n_assets))
    group_cash = np.empty(n_group)
    group_nav = np.empty(n_group)
    for b in range(n_group):
        r = rows[b]
        held[b] = holdings[r]
        target[b] = targets[r]
        group_cash[b] = cash[r]
        group_nav[b] = nav[row, r]
    shares = np.empty((n_group, n_assets))
    cost = np.empty((n_group, n_assets))
    unfilled = np.empty((n_group, n_assets))
    per_book = np.empty((2, n_group))
    fill_linear_nb(held, group_cash, group_nav, price, tradeable, target, fee_rate, fractional, lot_size,
                   min_trade_value, leverage, max_shares, shares, cost, per_book[0], unfilled)
    blocked = np.zeros(n_group, dtype=np.int64)
    value = np.empty(n_assets)
    n_trades = 0
    for b in range(n_group):
        if not trade[b]:
            shares[b] = 0.0
            cost[b] = 0.0
            per_book[0, b] = 1.0
        else:
            for n in range(n_assets):
                if not tradeable[n] and (target[b, n] != 0.0 or held[b, n] != 0.0):
                    blocked[b] += 1
        r = rows[b]
        for n in range(n_assets):
            holdings[r, n] += shares[b, n]
            value[n] = shares[b, n] * price[n]
            if shares[b, n] != 0.0:
                n_trades += 1
        per_book[1, b] = row_sum_nb(cost[b])
        cash[r] -= row_sum_nb(value) + per_book[1, b]
    positions = np.empty((2, n_trades), dtype=np.int32)
    trades = np.empty((3, n_trades))
    k = 0
    for b in range(n_group):
        for n in range(n_assets):
            if shares[b, n] != 0.0:
                positions[0, k] = rows[b]
                positions[1, k] = n
                trades[0, k] = shares[b, n]
                trades[1, k] = price[n]
                trades[2, k] = cost[b, n]
                k += 1
    return positions, trades, per_book, blocked


@njit(cache=True)
def finish_fill_day_nb(holdings, cash, price, nav_row, peak_before, peak_nav, trade, carried, decided, targets,
                       signal, last_rebalance, last_targets, last_signal):
    """Close a fill day: the NAV at ``price`` after the fills, the peak, each fresh decision's record.

    Equals ``Book.revalue`` (``nav_row`` (B,) from ``book_values_nb``, ``peak_nav`` as
    ``np.maximum(peak_before, nav_row)``) and ``Order.book_keeping``: where the order trades
    (``trade`` (B,)) a decision (not a ``carried`` rest), ``last_rebalance``,
    ``last_targets`` and ``last_signal`` take its ``decided`` row, ``targets`` and ``signal``.
    """
    book_values_nb(holdings, cash, price, nav_row)
    for b in range(nav_row.shape[0]):
        before, now = peak_before[b], nav_row[b]
        peak_nav[b] = before if before >= now or np.isnan(before) else now  # np.maximum: a NaN wins
        if trade[b] and not carried[b]:
            last_rebalance[b] = decided[b]
            last_targets[b] = targets[b]
            last_signal[b] = signal[b]


@njit(cache=True)
def fill_day_nb(holdings, cash, nav, row, price, tradeable, targets, rows, trade, fee_rate, fractional, lot_size,
                min_trade_value, leverage, max_shares, peak_before, peak_nav, carried, decided, order_targets, signal,
                last_rebalance, last_targets, last_signal):
    """:func:`fill_book_nb` then :func:`finish_fill_day_nb`, for a batch that is one group (``rows``
    every book, in order, ``trade`` the order's): a whole fill day in one call."""
    out = fill_book_nb(holdings, cash, nav, row, price, tradeable, targets, rows, trade, fee_rate, fractional,
                       lot_size, min_trade_value, leverage, max_shares)
    finish_fill_day_nb(holdings, cash, price, nav[row], peak_before, peak_nav, trade, carried, decided, order_targets,
                       signal, last_rebalance, last_targets, last_signal)
    return out
