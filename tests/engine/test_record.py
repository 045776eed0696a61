"""The recorder's fill record, built for a compiled fill day, is the one its ``__init__`` builds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simlab.engine.record import FillRecord


def test_a_fill_record_of_trades_equals_one_built_by_init():
    positions = np.array([[0, 0, 2], [1, 4, 3]], dtype=np.int32)
    trades = np.array([[10.0, -2.5, 3.0], [101.0, 55.5, 7.25], [0.1, 0.0, 0.02]])
    fast = FillRecord.of_trades(7, positions, trades, "rebalance")
    built = FillRecord(7, positions[0], positions[1], trades[0], trades[1], trades[2], "rebalance")
    assert list(vars(fast)) == [f.name for f in dataclasses.fields(FillRecord)] == list(vars(built))
    for name in vars(built):
        a, b = getattr(fast, name), getattr(built, name)
        assert np.array_equal(a, b) if isinstance(b, np.ndarray) else a == b
    assert fast.estimated_cost is None and fast.scenario.dtype == np.int32
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.row = 8
