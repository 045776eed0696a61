"""A decision's order, built for the engine without the frozen ``__init__``, is the one it builds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simlab.execution.orders import Order


def test_a_decisions_order_equals_one_built_by_init():
    targets = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    trade, signal = np.array([True, False]), np.full((2, 3), np.nan)
    order = Order.decision(11, targets, trade, signal)
    built = Order(np.array([11, 11], dtype=np.int64), targets, trade, signal, np.zeros(2, dtype=bool), None)
    assert list(vars(order)) == [f.name for f in dataclasses.fields(Order)] == list(vars(built))
    for name in vars(built):
        a, b = getattr(order, name), getattr(built, name)
        if b is None:
            assert a is None
        else:
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    assert order.targets is targets and order.trade is trade and order.reason == "rebalance"
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.trade = ~trade
    # supersession and the book keeping read it as they read any order
    newer = Order.decision(12, targets[::-1].copy(), np.array([False, True]), signal)
    merged = order.superseded_by(newer)
    assert merged.decided.tolist() == [11, 12] and merged.trade.tolist() == [True, True]
