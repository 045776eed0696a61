"""The metrics table's holdings metrics, computed from the holdings snapshots, equal those
:func:`simlab.analysis.metrics.summary` gives on the (date, scenario, asset) weights cube."""

from __future__ import annotations

import numpy as np
import pandas as pd

import simlab
from simlab.analysis import metrics
from simlab.data.instruments import PERIODS

CONFIG = {
    "name": "blocks",
    "data": {"source": "synthetic", "n_assets": 12, "n_days": 400, "seed": 3, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 63, "skip": 5},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}],
    "scenarios": {"grid": {"pipeline.0.top_n": [2, 3, 5, 8, 12], "costs.bps": [0, 10]}},
}


def test_the_table_is_the_one_summary_gives_on_the_weights_cube():
    res = simlab.run(CONFIG)
    table = res.metrics()
    returns = metrics.drop_start_day(res.returns)
    nav = pd.DataFrame(1.0, index=returns.index, columns=returns.columns).where(returns.notna().cummax())
    reference = metrics.summary(
        returns, benchmark_returns=res.benchmark_returns.iloc[1:], traded_value=metrics.start_day_shares(res.daily_traded_value(), res.nav, returns),
        costs=metrics.start_day_shares(res.daily_costs(), res.nav, returns), nav=nav,
        weights=res.weights.isel(date=slice(1, None)), asset_returns=res.market.returns(),
        periods=PERIODS[res.config.experiment.data.calendar])
    reference["total_costs"] = metrics.total_costs(res.daily_costs()).reindex(reference.index)
    assert list(table.columns) == list(reference.columns)
    holdings = ["effective_assets", "diversification_ratio", "position_hit_rate"]
    pd.testing.assert_frame_equal(table.drop(columns=holdings), reference.drop(columns=holdings))
    pd.testing.assert_frame_equal(table[holdings], reference[holdings], rtol=1e-12, atol=0)
    assert table[holdings].notna().all().all()


def test_weights_of_a_block_is_the_slice_of_the_cube():
    res = simlab.run(CONFIG)
    cube = res.weights
    part = res.weights_of(slice(3, 7))
    assert list(part.scenario.values) == list(cube.scenario.values[3:7])
    np.testing.assert_array_equal(part.values, cube.values[:, 3:7])
