"""The compiled fill day (linear costs, nothing else acting on the fill) gives the general
path's bits: the same NAV, weights, trades, diagnostics and health, on books with lots, a
minimum trade, leverage, several groups, held scenarios, a lag and assets that list late and
delist."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.data.market import MarketData
from simlab.engine import fill_day
from simlab.kernels.fill_book import row_sum_nb

BASE = {
    "name": "fill_day",
    "data": {"source": "synthetic", "n_assets": 12, "n_days": 400, "seed": 7, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 40, "skip": 2},
    "schedule": {"frequency": "weekly", "day": "first"},
    "costs": {"type": "flat", "bps": 7},
    "execution": {"lag": 0},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 4}],
}

CASES = {
    "top_n, flat costs": {},
    "whole lots, minimum trade, lag 1": {"execution": {"lag": 1, "fractional": False, "lot_size": 10.0,
                                                        "min_trade_value": 2_000.0, "init_cash": 100_000.0}},
    "leverage, no costs": {"costs": None, "execution": {"lag": 0, "leverage": 1.5},
                           "pipeline": [{"type": "signal_weighted"}]},
    "grid over costs and top_n": {"scenarios": {"grid": {"pipeline.0.top_n": [2, 5], "costs.bps": [0, 30]}}},
    "two groups, one holding": {"scenarios": {"list": [
        {"name": "banded", "pipeline": [{"type": "equal_weight_top_n", "top_n": 3},
                                        {"type": "drift_band", "band": 0.08}]},
        {"name": "plain", "pipeline": [{"type": "equal_weight"}]},
        {"name": "banded_tight", "pipeline": [{"type": "equal_weight_top_n", "top_n": 6},
                                              {"type": "drift_band", "band": 0.01}]},
    ]}},
}


def _market() -> MarketData:
    """Synthetic prices with two assets listing late and two delisting (NaN before / after)."""
    md = simlab.data.load("synthetic", n_assets=12, n_days=400, seed=7)
    close = md.close.copy()
    close.iloc[:90, 3] = np.nan
    close.iloc[:200, 8] = np.nan
    close.iloc[250:, 5] = np.nan
    close.iloc[310:, 10] = np.nan
    close.iloc[120:125, 1] = np.nan  # a few days without a price inside an asset's life
    return MarketData(close=close, source="synthetic")


def _run(config: dict, md: MarketData, compiled: bool, monkeypatch):
    with monkeypatch.context() as patch:
        if not compiled:
            patch.setattr(fill_day.LinearFillDay, "build", classmethod(lambda cls, loop: None))
        else:
            built = fill_day.LinearFillDay.build
            used = []
            patch.setattr(fill_day.LinearFillDay, "build",
                          classmethod(lambda cls, loop: used.append(built(loop)) or used[-1]))
        res = simlab.run(config, data=md)
        if compiled:
            assert used and used[0] is not None, "the compiled fill day should apply"
        return res


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_fill_day_gives_the_general_paths_bits(name, monkeypatch):
    config = {**BASE, **CASES[name]}
    if config.get("costs") is None:
        config.pop("costs")
    md = _market()
    fast, general = (_run(config, md, compiled, monkeypatch) for compiled in (True, False))
    assert fast.nav.equals(general.nav)
    assert np.array_equal(fast.weights.values, general.weights.values, equal_nan=True)
    assert fast.trades.equals(general.trades)
    assert len(fast.trades) > 20
    pd.testing.assert_frame_equal(fast.diagnostics, general.diagnostics)
    assert fast.health() == general.health()


def test_the_general_path_runs_where_more_than_a_linear_cost_acts(monkeypatch):
    capped = {**BASE, "execution": {"lag": 0, "max_participation": 0.01}}
    md = _market()
    volume = pd.DataFrame(1e6, index=md.close.index, columns=md.close.columns)
    md = MarketData(close=md.close, volume=volume, source="synthetic")
    used = []
    built = fill_day.LinearFillDay.build
    monkeypatch.setattr(fill_day.LinearFillDay, "build", classmethod(lambda cls, loop: used.append(built(loop))))
    simlab.run(capped, data=md)
    assert used == [None]


@pytest.mark.parametrize("n_assets", [0, 1, 5, 7, 8, 9, 15, 16, 17, 100, 127, 128, 129, 130, 255, 256, 257,
                                      500, 1000, 1031, 3000, 10_007])
def test_row_sum_adds_in_numpys_order(n_assets):
    rng = np.random.default_rng(n_assets)
    rows = rng.standard_normal((4, n_assets)) * 10.0 ** rng.integers(-6, 9, size=(4, n_assets))
    rows[3] = -0.0
    expected = rows.sum(axis=1)
    got = np.array([row_sum_nb(r) for r in rows])
    assert np.array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))  # a row of -0.0 sums to 0.0, as numpy's
