"""Optimal leaf ordering, compiled, against scipy's on clustered, random and tied distances."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.cluster.hierarchy as sch
import scipy.spatial.distance as ssd

from simlab.kernels import leaf_order
from simlab.kernels.leaf_order import leaves_nb, optimal_leaf_order_nb

METHODS = ("ward", "single", "complete", "average")


def _distance(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(cov))
    dist = np.sqrt(np.clip((1.0 - np.clip(cov / np.outer(sd, sd), -1.0, 1.0)) / 2.0, 0.0, 1.0))
    np.fill_diagonal(dist, 0.0)
    return dist


def _case(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return _distance(np.cov(rng.standard_normal((3 * n, n)), rowvar=False))
    if kind == "factors":
        x = rng.standard_normal((300, 3)) @ rng.standard_normal((3, n)) + 0.5 * rng.standard_normal((300, n))
        return _distance(np.cov(x, rowvar=False))
    if kind == "duplicates":  # pairs of identical assets: zero distances, many ties
        x = np.repeat(rng.standard_normal((100, (n + 1) // 2)), 2, axis=1)[:, :n]
        return _distance(np.cov(x, rowvar=False) + 1e-3 * np.eye(n))
    return _distance(np.full((n, n), 0.3) + 0.7 * np.eye(n))  # every pair equally far


CASES = [(kind, n, seed) for kind in ("random", "factors", "duplicates", "equal")
         for n, seed in ((2, 0), (3, 1), (7, 2), (16, 3), (41, 4))]


def _scipy_order(dist, method):
    y = ssd.squareform(dist, checks=False)
    tree = sch.linkage(y, method=method)
    return tree, sch.leaves_list(sch.optimal_leaf_ordering(tree, y))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind, n, seed", CASES)
def test_the_order_equals_scipys(kind, n, seed, method):
    dist = _case(kind, n, seed)
    tree, expected = _scipy_order(dist, method)
    children = tree[:, :2].astype(np.int64)
    np.testing.assert_array_equal(leaves_nb(children, n), sch.leaves_list(tree))
    np.testing.assert_array_equal(optimal_leaf_order_nb(children, dist), expected)


@pytest.mark.parametrize("kind, n, seed", CASES)
def test_the_float32_search_alone_equals_scipy_and_the_fast_recurrence_when_it_is_clear(kind, n, seed):
    dist = _case(kind, n, seed)
    tree, expected = _scipy_order(dist, "ward")
    children = tree[:, :2].astype(np.int64)
    Z, D, ranges = _relabelled(children, dist)
    exact = leaf_order._identify_swaps_nb(Z, D, ranges)
    np.testing.assert_array_equal(leaves_nb(leaf_order._flip_nb(children, exact, n), n), expected)
    fast, clear = leaf_order._fast_swaps_nb(Z, D, ranges)
    if clear:
        np.testing.assert_array_equal(fast, exact)


def test_both_paths_are_exercised_by_the_cases():
    outcomes = set()
    for kind, n, seed in CASES:
        dist = _case(kind, n, seed)
        children = sch.linkage(ssd.squareform(dist, checks=False), "ward")[:, :2].astype(np.int64)
        outcomes.add(leaf_order._fast_swaps_nb(*_relabelled(children, dist))[1])
    assert outcomes == {True, False}


def _relabelled(children, dist):
    """The linkage on leaf positions, the distances in leaf order and each cluster's range."""
    n = len(dist)
    leaves = sch.leaves_list(np.column_stack([children, np.ones(n - 1), np.ones(n - 1)]).astype(float))
    position = np.empty(n, np.int64)
    position[leaves] = np.arange(n)
    Z = np.where(children < n, position[np.minimum(children, n - 1)], children)
    ranges = np.column_stack([np.arange(2 * n - 1), np.arange(2 * n - 1) + 1]).astype(np.int64)
    for i, (a, b) in enumerate(Z):
        ranges[n + i] = ranges[a, 0], ranges[b, 1]
    return Z, np.ascontiguousarray(dist[np.ix_(leaves, leaves)]), ranges
