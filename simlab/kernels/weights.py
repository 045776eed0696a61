"""Batched weight arithmetic shared by Steps: ranking, capping with redistribution."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def rank_descending(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Rank (B, N) scores per row, 0 for the highest; invalid entries rank last.

    Ties keep asset order (a stable sort), so the same input always selects the same assets.
    """
    keyed = np.where(valid, -scores, np.inf)
    order = np.argsort(keyed, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    return ranks


def top_ranked(scores: np.ndarray, valid: np.ndarray, limit) -> np.ndarray:
    """(B, N) bool: ``valid & (rank_descending(scores, valid) < limit)``, without sorting.

    ``limit`` is a scalar or one value per row ((B,) or (B, 1)). The highest valid scores
    of each row, as many as ``limit`` allows; among equal scores the first assets (the
    stable sort's order). Valid scores must be finite.
    """
    limits = np.asarray(limit, dtype=np.float64).reshape(-1)
    if limits.shape[0] == 1 and scores.shape[0] != 1:
        limits = np.full(scores.shape[0], limits[0])
    if limits.shape[0] != scores.shape[0]:
        raise ValueError(f"limit: {limits.shape[0]} values for {scores.shape[0]} rows; expected 1 or one per row")
    return _top_ranked_nb(np.ascontiguousarray(scores, dtype=np.float64), np.ascontiguousarray(valid, dtype=np.bool_),
                          limits)


@njit(cache=True)
def _top_ranked_nb(scores, valid, limits):
    n_rows, n_cols = scores.shape
    chosen = np.zeros((n_rows, n_cols), dtype=np.bool_)
    pool = np.empty(n_cols)
    for b in range(n_rows):
        n_valid = 0
        for n in range(n_cols):
            if valid[b, n]:
                pool[n_valid] = scores[b, n]
                n_valid += 1
        # ranks 0, 1, .. below the limit: the first ceil(limit) places (none for a limit <= 0)
        take = min(n_valid, max(0, math.ceil(limits[b]))) if limits[b] == limits[b] else 0
        if take == 0:
            continue
        if take == n_valid:
            for n in range(n_cols):
                chosen[b, n] = valid[b, n]
            continue
        cut = _select_nb(pool, np.int64(n_valid), np.int64(n_valid - take))  # the take-th highest score
        above = 0
        for n in range(n_cols):
            if valid[b, n] and scores[b, n] > cut:
                above += 1
        ties = take - above  # equal scores at the cut: the first assets take the places left
        for n in range(n_cols):
            if valid[b, n]:
                if scores[b, n] > cut:
                    chosen[b, n] = True
                elif scores[b, n] == cut and ties > 0:
                    chosen[b, n] = True
                    ties -= 1
    return chosen


@njit(cache=True)
def _select_nb(values, n, kth):
    """The ``kth`` smallest (from 0) of ``values[:n]``, which it reorders (Hoare's quickselect,
    middle pivot); plain loops, quick to compile."""
    lo, hi = 0, n - 1
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            return values[kth]
    return values[kth]


def cap_and_redistribute(
    weights: np.ndarray, cap: np.ndarray, budget: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cap long weights at ``cap`` and hand the excess to uncapped names, pro rata.

    Water-filling over (B, N) rows: weights above ``cap`` are set to it and the freed
    weight goes to the uncapped names in proportion to their weight, repeated until none
    exceeds the cap. When every held name is capped the rest stays in cash.

    Parameters
    ----------
    weights : (B, N) non-negative weights.
    cap : (B, 1) or scalar cap per scenario.
    budget : (B,) total to keep invested; defaults to each row's current sum.

    Returns
    -------
    capped : (B, N) weights, each at most ``cap``, summing to ``budget`` where possible.
    hit : (B, N) bool, the names held at the cap.
    """
    w = np.array(weights, dtype=float, copy=True)
    cap = np.broadcast_to(np.asarray(cap, dtype=float), (w.shape[0], 1))
    if budget is not None:
        w = _scale_rows(w, np.asarray(budget, dtype=float))
    total = w.sum(axis=1)
    hit = np.zeros(w.shape, dtype=bool)
    for _ in range(w.shape[1]):
        over = (w > cap * (1 + 1e-12)) & ~hit
        if not over.any():
            break
        hit |= over
        room = np.maximum(total - (hit * cap).sum(axis=1), 0.0)
        w = np.where(hit, cap, _scale_rows(np.where(hit, 0.0, w), room))
    return w, hit


def _scale_rows(w: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Scale each row of non-negative ``w`` to sum to ``total`` (rows of zeros stay zero)."""
    sums = w.sum(axis=1, keepdims=True)
    share = np.divide(w, sums, out=np.zeros_like(w), where=sums > 0)  # divide first: no inf for tiny sums
    return share * np.reshape(total, (-1, 1))
