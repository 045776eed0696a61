"""Leaf order of a dendrogram, and its optimal leaf ordering, compiled.

The optimal leaf ordering (Bar-Joseph, Gifford and Jaakkola, "Fast optimal leaf ordering
for hierarchical clustering", Bioinformatics 2001) flips the children of the linkage's
nodes so that the sum of distances between neighbouring leaves is smallest. The order
returned equals scipy's ``leaves_list(optimal_leaf_ordering(Z, y))``:

- the recurrence runs over contiguous leaf ranges (the linkage relabelled to its current
  leaf order), and each node records which orientation of its children its best end
  pair ``(u, w)`` needs; the swaps are applied as the parity of a node's and its
  ancestors' swaps, as scipy applies them;
- a cheap exact recurrence finds the best partial costs first, in float64:
  ``M[u, w] = min_k (min_m (M[u, m] + D[m, k])) + M[k, w]`` costs O(|u||m||k| + |u||w||k|)
  per node instead of a search per (u, w);
- scipy keeps ``M`` in float32, so where another end pair comes within the float32 rounding
  of a node's best (a relative ``6 (h + 1) 2**-24`` at height h) and would orient its
  children otherwise, the float32 search with scipy's own bounds, order and tie rule
  decides instead.

``children`` is the linkage matrix's first two columns as int64 (n - 1, 2); ``dist`` the
square (n, n) distance matrix the linkage was built from.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_BIG = 1073741824.0  # 2**30: the starting "infinity" of the partial costs
FLOAT32_ROUNDING = 2.0 ** -24  # unit roundoff of scipy's float32 partial costs


@njit(cache=True)
def leaves_nb(children, n):
    """Leaf order (n,) of a linkage, left subtree first (``scipy...hierarchy.leaves_list``)."""
    order = np.empty(n, np.int64)
    stack = np.empty(n, np.int64)
    top, k = 0, 0
    stack[0] = 2 * n - 2
    while top >= 0:
        node = stack[top]
        top -= 1
        if node < n:
            order[k] = node
            k += 1
        else:
            stack[top + 1] = children[node - n, 1]
            stack[top + 2] = children[node - n, 0]
            top += 2
    return order


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _min_distance_nb(D, m_min, m_max, k_min, k_max):
    """Smallest D[m, k] over the two leaf ranges, held as float32 (scipy's lower bound)."""
    best = np.float32(_BIG)
    for m in range(m_min, m_max):
        for k in range(k_min, k_max):
            if D[m, k] < best:
                best = np.float32(D[m, k])
    return best


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _best_join_nb(M, D, u, w, m_order, k_order, min_km):
    """min over m, k of M[u, m] + M[w, k] + D[m, k], with the bound that stops early."""
    best = np.float32(_BIG)
    k_first = k_order[0]
    for m in m_order:
        if M[u, m] + M[w, k_first] + min_km >= best:
            break
        for k in k_order:
            if M[u, m] + M[w, k] + min_km >= best:
                break
            value = np.float32(np.float64(M[u, m] + M[w, k]) + D[m, k])
            if value < best:
                best = value
    return best


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _sides_nb(Z, v, n, right):
    """(outer, inner) child clusters of node ``v``, one row per orientation (1 or 2 rows)."""
    if v < n:
        out = np.empty((1, 2), np.int64)
        out[0, 0] = v
        out[0, 1] = v
        return out
    out = np.empty((2, 2), np.int64)
    a, b = Z[v - n, 0], Z[v - n, 1]
    if right:  # the outer end of a right cluster is its right child first
        a, b = b, a
    out[0, 0] = a
    out[0, 1] = b
    out[1, 0] = b
    out[1, 1] = a
    return out


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _blocks_nb(Z, ranges, i, n):
    """Node i's orientation blocks, rows (sl, sr, u0, u1, m0, m1, w0, w1, k0, k1), at most 4.

    ``sl`` (``sr``) is 1 where the left (right) child is flipped; u and w range over the outer
    ends, m and k over the inner ends that meet in the middle.
    """
    left = _sides_nb(Z, Z[i, 0], n, np.bool_(False))  # typed bool, not two literals: one specialization
    right = _sides_nb(Z, Z[i, 1], n, np.bool_(True))
    out = np.empty((left.shape[0] * right.shape[0], 10), np.int64)
    row = 0
    for sl in range(left.shape[0]):
        for sr in range(right.shape[0]):
            out[row, 0], out[row, 1] = sl, sr
            out[row, 2], out[row, 3] = ranges[left[sl, 0], 0], ranges[left[sl, 0], 1]
            out[row, 4], out[row, 5] = ranges[left[sl, 1], 0], ranges[left[sl, 1], 1]
            out[row, 6], out[row, 7] = ranges[right[sr, 0], 0], ranges[right[sr, 0], 1]
            out[row, 8], out[row, 9] = ranges[right[sr, 1], 0], ranges[right[sr, 1], 1]
            row += 1
    return out


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _column_orders_nb(M, r0, r1, c0, c1):
    """For each column c in c0 .. c1 - 1, rows r0 .. r1 - 1 sorted by M[r, c] (stable).

    An insertion sort: the ranges are small, and it compiles in a fraction of a second.
    """
    out = np.empty((c1 - c0, r1 - r0), np.int64)
    for c in range(c0, c1):
        row = out[c - c0]
        for j in range(r1 - r0):
            r = r0 + j
            i = j
            while i > 0 and M[row[i - 1], c] > M[r, c]:
                row[i] = row[i - 1]
                i -= 1
            row[i] = r
    return out


@njit(cache=True)
def _identify_swaps_nb(Z, D, ranges):
    """Per internal node (n - 1,), 1 where its children must swap (before ancestors' flips)."""
    n = D.shape[0]
    M = np.zeros((n, n), np.float32)
    status = np.zeros((n, n, 2), np.int64)
    must_swap = np.zeros(n - 1, np.int64)
    for i in range(n - 1):
        blocks = _blocks_nb(Z, ranges, i, n)
        for b in range(blocks.shape[0]):
            sl, sr, u0, u1, m0, m1 = blocks[b, 0], blocks[b, 1], blocks[b, 2], blocks[b, 3], blocks[b, 4], blocks[b, 5]
            w0, w1, k0, k1 = blocks[b, 6], blocks[b, 7], blocks[b, 8], blocks[b, 9]
            min_km = _min_distance_nb(D, m0, m1, k0, k1)
            m_orders = _column_orders_nb(M, m0, m1, u0, u1)  # M[{m}, u] ascending, per u
            k_orders = _column_orders_nb(M, k0, k1, w0, w1)  # M[{k}, w] ascending, per w
            for u in range(u0, u1):
                for w in range(w0, w1):
                    best = _best_join_nb(M, D, u, w, m_orders[u - u0], k_orders[w - w0], min_km)
                    M[u, w] = best
                    M[w, u] = best
                    status[u, w, 0] = status[w, u, 0] = sl
                    status[u, w, 1] = status[w, u, 1] = sr
        _record_swaps_nb(M, status, Z, ranges, i, n, must_swap)
    return must_swap


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _record_swaps_nb(M, status, Z, ranges, i, n, must_swap):
    """Pick node i's best ends (u, w), first in row-major order, and note its children's swaps."""
    v_l, v_r = Z[i, 0], Z[i, 1]
    best = np.float32(_BIG)
    best_u, best_w = 0, 0
    for u in range(ranges[v_l, 0], ranges[v_l, 1]):
        for w in range(ranges[v_r, 0], ranges[v_r, 1]):
            if M[u, w] < best:
                best, best_u, best_w = M[u, w], u, w
    if v_l >= n:
        must_swap[v_l - n] = status[best_u, best_w, 0]
    if v_r >= n:
        must_swap[v_r - n] = status[best_u, best_w, 1]


@njit(cache=True)
def _fast_swaps_nb(Z, D, ranges):
    """The swaps of :func:`_identify_swaps_nb` by a cheaper exact recurrence, or a refusal.

    ``M[u, w] = min_k (min_m (M[u, m] + D[m, k])) + M[k, w]``: the inner minimum is computed
    once per (u, k) instead of once per (u, w, k), in float64. Only the choice of each node's
    best ends (u, w) reaches the result. scipy's float32 costs carry two roundings per level
    of the tree (and its early stop a third), so at a node of height h they are within a
    relative ``3 (h + 1) u32`` of these; where a candidate within twice that of the best would
    orient the children otherwise (a near tie rounding could decide either way), the second
    value is False and the caller runs the float32 search instead.
    """
    n = D.shape[0]
    height = np.zeros(2 * n - 1, np.int64)
    M = np.zeros((n, n))
    status = np.zeros((n, n, 2), np.int64)
    must_swap = np.zeros(n - 1, np.int64)
    through = np.empty(n)
    for i in range(n - 1):
        blocks = _blocks_nb(Z, ranges, i, n)
        for b in range(blocks.shape[0]):
            sl, sr, u0, u1, m0, m1 = blocks[b, 0], blocks[b, 1], blocks[b, 2], blocks[b, 3], blocks[b, 4], blocks[b, 5]
            w0, w1, k0, k1 = blocks[b, 6], blocks[b, 7], blocks[b, 8], blocks[b, 9]
            for u in range(u0, u1):
                for k in range(k0, k1):
                    best = np.inf
                    for m in range(m0, m1):
                        best = min(best, M[u, m] + D[m, k])
                    through[k] = best
                for w in range(w0, w1):
                    best = np.inf
                    for k in range(k0, k1):
                        best = min(best, through[k] + M[k, w])
                    M[u, w] = best
                    M[w, u] = best
                    status[u, w, 0] = status[w, u, 0] = sl
                    status[u, w, 1] = status[w, u, 1] = sr
        height[n + i] = 1 + max(height[Z[i, 0]], height[Z[i, 1]])
        rtol = 6.0 * (height[n + i] + 1) * FLOAT32_ROUNDING
        if not _record_clear_swaps_nb(M, status, Z, ranges, i, n, must_swap, rtol):
            return must_swap, False
    return must_swap, True


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _record_clear_swaps_nb(M, status, Z, ranges, i, n, must_swap, rtol):
    """Like :func:`_record_swaps_nb`; False where a near-best (u, w) would swap otherwise."""
    v_l, v_r = Z[i, 0], Z[i, 1]
    l0, l1, r0, r1 = ranges[v_l, 0], ranges[v_l, 1], ranges[v_r, 0], ranges[v_r, 1]
    best = np.inf
    best_u, best_w = 0, 0
    for u in range(l0, l1):
        for w in range(r0, r1):
            if M[u, w] < best:
                best, best_u, best_w = M[u, w], u, w
    limit = best + rtol * max(abs(best), 1e-12)
    for u in range(l0, l1):
        for w in range(r0, r1):
            if M[u, w] <= limit and (status[u, w, 0] != status[best_u, best_w, 0]
                                     or status[u, w, 1] != status[best_u, best_w, 1]):
                return False
    if v_l >= n:
        must_swap[v_l - n] = status[best_u, best_w, 0]
    if v_r >= n:
        must_swap[v_r - n] = status[best_u, best_w, 1]
    return True


@njit(cache=True)
def optimal_leaf_order_nb(children, dist):
    """Optimal leaf order (n,) of a linkage under ``dist`` (scipy's ``optimal_leaf_ordering``).

    Parameters
    ----------
    children : (n - 1, 2) int64, the linkage matrix's child columns.
    dist : (n, n) float64 symmetric distances with a zero diagonal.
    """
    n = dist.shape[0]
    leaves = leaves_nb(children, n)
    position = np.empty(n, np.int64)
    for j in range(n):
        position[leaves[j]] = j
    Z = children.copy()
    ranges = np.empty((2 * n - 1, 2), np.int64)
    for j in range(n):
        ranges[j, 0], ranges[j, 1] = j, j + 1
    for i in range(n - 1):
        for c in range(2):
            if Z[i, c] < n:
                Z[i, c] = position[Z[i, c]]
        ranges[n + i, 0], ranges[n + i, 1] = ranges[Z[i, 0], 0], ranges[Z[i, 1], 1]
    D = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            D[a, b] = dist[leaves[a], leaves[b]]
    must_swap, clear = _fast_swaps_nb(Z, D, ranges)
    if not clear:
        must_swap = _identify_swaps_nb(Z, D, ranges)
    return leaves_nb(_flip_nb(children, must_swap, n), n)


@njit(cache=True)
def _flip_nb(children, must_swap, n):
    """Children with every node flipped whose own and ancestors' swaps are odd in number."""
    parity = np.zeros(n - 1, np.int64)
    out = children.copy()
    for i in range(n - 2, -1, -1):  # parents come after their children in a linkage
        parity[i] ^= must_swap[i]
        for c in range(2):
            if children[i, c] >= n:
                parity[children[i, c] - n] = parity[i]
        if parity[i]:
            out[i, 0], out[i, 1] = children[i, 1], children[i, 0]
    return out


def compile_kernels() -> None:
    """Compile (or load from numba's cache) :func:`optimal_leaf_order_nb` and what it calls,
    in the signature of its callers (C-order int64 children, float64 distances), on three
    leaves (:mod:`simlab.kernels.prefetch` runs this in a child process)."""
    dist = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]])
    optimal_leaf_order_nb(np.array([[0, 1], [2, 3]], np.int64), dist)
