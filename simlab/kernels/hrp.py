"""Recursive bisection of hierarchical risk parity (Lopez de Prado, 2016), compiled.

Given a covariance already permuted into the dendrogram's leaf order, every cluster of the
bisection is a contiguous range of rows, so the whole recursion is a loop over ranges
with no index arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _range_variance_nb(cov, start, stop):
    """Variance of the inverse-variance portfolio of ordered assets ``start .. stop - 1``."""
    total = 0.0
    for i in range(start, stop):
        total += 1.0 / cov[i, i]
    value = 0.0
    for i in range(start, stop):
        wi = 1.0 / cov[i, i] / total
        for j in range(start, stop):
            value += wi * cov[i, j] / cov[j, j] / total
    return value


@njit(cache=True)
def hrp_bisection_nb(cov_ordered):
    """HRP weights (N,) in leaf order for a covariance (N, N) permuted into that order.

    Equals the recursive bisection of ``simlab.portfolio.optimize.hrp_weights``: each
    range splits at its middle, and the left half gets ``1 - v_left / (v_left + v_right)``
    of the range's weight, ``v`` the inverse-variance portfolio variance of each half.
    """
    n = cov_ordered.shape[0]
    w = np.ones(n)
    starts = np.empty(n, dtype=np.int64)
    stops = np.empty(n, dtype=np.int64)
    starts[0], stops[0] = 0, n
    count = 1
    while count > 0:
        next_count = 0
        next_starts = np.empty(2 * count, dtype=np.int64)
        next_stops = np.empty(2 * count, dtype=np.int64)
        for k in range(count):
            a, b = starts[k], stops[k]
            if b - a < 2:
                continue
            m = a + (b - a) // 2
            v_left, v_right = _range_variance_nb(cov_ordered, a, m), _range_variance_nb(cov_ordered, m, b)
            alpha = 1.0 - v_left / (v_left + v_right)
            for i in range(a, m):
                w[i] *= alpha
            for i in range(m, b):
                w[i] *= 1.0 - alpha
            next_starts[next_count], next_stops[next_count] = a, m
            next_starts[next_count + 1], next_stops[next_count + 1] = m, b
            next_count += 2
        starts, stops, count = next_starts, next_stops, next_count
    return w
