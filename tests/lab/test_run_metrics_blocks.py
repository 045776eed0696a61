"""The metrics table computed with the holdings metrics a block of scenarios at a time (a
large weights cube) equals the table computed on the whole cube."""

from __future__ import annotations

import numpy as np
import pandas as pd

import simlab
from simlab.lab import run_metrics

CONFIG = {
    "name": "blocks",
    "data": {"source": "synthetic", "n_assets": 12, "n_days": 400, "seed": 3, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 63, "skip": 5},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}],
    "scenarios": {"grid": {"pipeline.0.top_n": [2, 3, 5, 8, 12], "costs.bps": [0, 10]}},
}


def test_blocks_give_the_same_table(monkeypatch):
    res = simlab.run(CONFIG)
    whole = res.metrics()
    for block_scenarios in (1, 3, 7):
        fresh = simlab.run(CONFIG)
        monkeypatch.setattr(run_metrics, "WEIGHTS_BLOCK_CELLS", block_scenarios * len(fresh.dates) * len(fresh.assets))
        blocked = fresh.metrics()
        assert list(blocked.columns) == list(whole.columns)
        pd.testing.assert_frame_equal(blocked, whole, rtol=1e-13, atol=0)


def test_weights_of_a_block_is_the_slice_of_the_cube():
    res = simlab.run(CONFIG)
    cube = res.weights
    part = res.weights_of(slice(3, 7))
    assert list(part.scenario.values) == list(cube.scenario.values[3:7])
    np.testing.assert_array_equal(part.values, cube.values[:, 3:7])
