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
def row_sum_nb(a):
    """:func:`_row_sum_nb` with its own scratch space."""
    return _row_sum_nb(a, np.empty((2, _STACK), dtype=np.int64), np.empty(_STACK))


@njit(cache=True)
def _row_sum_nb(a, tasks, sums):
    """``a.sum()`` of a contiguous float64 row with numpy's bits (``sum(axis=1)`` of a C-contiguous array).

    numpy adds its identity 0.0 to a pairwise sum: a range of at most 128 values is summed
    with 8 accumulators (fewer than 8: in order), a longer one is halved (the first half a
    multiple of 8) and its halves' sums added. The halving runs on an explicit stack (numba
    cannot cache a recursive function): ``tasks`` (2, 128) int64 and ``sums`` (128,) are its
    scratch space (a task of length -1 adds the last two sums).
    """
    task_lo, task_n = tasks[0], tasks[1]
    n_tasks, n_sums = 1, 0
    task_lo[0], task_n[0] = 0, a.shape[0]
    while n_tasks > 0:
        n_tasks -= 1
        lo, n = task_lo[n_tasks], task_n[n_tasks]
        if n < 0:
            n_sums -= 1
            sums[n_sums - 1] = sums[n_sums - 1] + sums[n_sums]
        elif n > _PAIRWISE_BLOCK:
            half = n // 2
            half -= half % 8
            task_lo[n_tasks], task_n[n_tasks] = 0, -1
            task_lo[n_tasks + 1], task_n[n_tasks + 1] = lo + half, n - half
            task_lo[n_tasks + 2], task_n[n_tasks + 2] = lo, half
            n_tasks += 3
        elif n < 8:
            res = 0.0
            for i in range(lo, lo + n):
                res += a[i]
            sums[n_sums] = res
            n_sums += 1
        else:
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
            sums[n_sums] = res
            n_sums += 1
    return 0.0 + sums[0]


@njit(cache=True)
def fill_book_nb(holdings, cash, nav, row, price, tradeable, targets, rows, trade, fee_rate, fractional, lot_size,
                 min_trade_value, leverage, max_shares, finish, peak_before, peak_nav, order_trade, carried, decided,
                 order_targets, signal, last_rebalance, last_targets, last_signal):
    """Fill the books ``rows`` toward ``targets`` at one day's ``price`` and book the fill in place;
    with ``finish``, close the fill day of the whole batch too.

    Parameters
    ----------
    holdings : (B, N) shares of the whole batch, written in place.
    cash : (B,) cash of the whole batch, written in place.
    nav : (T, B) the book's NAV; row ``row`` (valued at ``price``) sizes the trades.
    price : (N,) fill and booking prices, 0 where ``tradeable`` (N,) is False.
    targets : (B, N) target weights of the whole batch (only ``rows`` are read).
    rows : (B_g,) int64 positions of the group's books in the batch (none: only ``finish``).
    trade : (B_g,) bool, the books that trade (the others keep their holdings).
    fee_rate : (B_g,) cost per unit of traded value. ``fractional`` .. ``max_shares`` as
        :func:`simlab.kernels.accounting.fill_linear_nb` takes them.
    finish : bool, then close the day (``Book.revalue`` and ``Order.book_keeping``): the NAV
        at ``price`` into ``nav[row]``, ``peak_nav`` as ``np.maximum(peak_before, nav[row])``,
        and where the order trades (``order_trade`` (B,)) a decision (not a ``carried`` rest),
        ``last_rebalance``, ``last_targets``, ``last_signal`` take its ``decided`` row,
        ``order_targets`` and ``signal``.

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
    for b in range(n_group):  # loops, not slice assignments: quicker to compile
        r = rows[b]
        for n in range(n_assets):
            held[b, n] = holdings[r, n]
            target[b, n] = targets[r, n]
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
    tasks, sums = np.empty((2, _STACK), dtype=np.int64), np.empty(_STACK)
    n_trades = 0
    for b in range(n_group):
        if not trade[b]:
            for n in range(n_assets):
                shares[b, n] = 0.0
                cost[b, n] = 0.0
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
        per_book[1, b] = _row_sum_nb(cost[b], tasks, sums)
        cash[r] -= _row_sum_nb(value, tasks, sums) + per_book[1, b]
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
    if finish:
        book_values_nb(holdings, cash, price, nav[row])
        for b in range(holdings.shape[0]):
            before, now = peak_before[b], nav[row, b]
            peak_nav[b] = before if before >= now or np.isnan(before) else now  # np.maximum: a NaN wins
            if order_trade[b] and not carried[b]:
                last_rebalance[b] = decided[b]
                for n in range(n_assets):
                    last_targets[b, n] = order_targets[b, n]
                    last_signal[b, n] = signal[b, n]
    return positions, trades, per_book, blocked
