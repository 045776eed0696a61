"""Parity: the book run day by day through the pipeline trades what the backtest trades.

Each shipped config is replayed over a shortened span (the whole history day by day would
take minutes): every trading day one ``run_pipeline(..., execute=True)`` on an SQLite store,
then holdings, cash and NAV at every close are compared with the backtest of the same
scenario over the same span, for fill lags 0 and 1, to 1e-9 relative.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from simlab.config.loader import load_config
from simlab.engine.simulate import simulate
from simlab.lab.run import load_market
from simlab.production.pipeline import run_pipeline, select_scenario
from simlab.production.stores import open_store

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "experiments"


def book_config(name: str, scenario: str, start: str, end: str, lag: int):
    cfg = select_scenario(load_config(CONFIGS / name), scenario)
    exp = cfg.experiment
    data = exp.data.model_copy(update={"start": np.datetime64(start).astype(object),
                                       "end": np.datetime64(end).astype(object)})
    execution = exp.execution.model_copy(update={"lag": lag})
    return dataclasses.replace(cfg, experiment=exp.model_copy(update={"data": data, "execution": execution}))


def replay_book(cfg, md, url: str):
    """Run the pipeline on every trading day of the config's span; holdings, cash and NAV after each."""
    exp = cfg.experiment
    days = md.dates[(md.dates >= str(exp.data.start)) & (md.dates <= str(exp.data.end))]
    store = open_store(url)
    out = []
    for day in days:
        state = run_pipeline(cfg, md, store, day, execute=True).state
        out.append((np.asarray(state.holdings), state.cash, state.nav))
    return days, out, store


def backtest_book(cfg, md, days):
    """The backtest's holdings, cash and NAV at each close of ``days``."""
    inputs, book, rec = simulate(cfg, md)
    rows = inputs.dates.get_indexer(days)
    snap_rows = np.asarray(rec.snapshot_rows)
    out = []
    for row in rows:
        holdings = rec.snapshots[int(np.searchsorted(snap_rows, row, side="right")) - 1][0]
        nav = book.nav[row, 0]
        out.append((holdings, nav - float(holdings @ inputs.value_price[row]), nav))
    return out


def assert_same(days, book, backtest):
    traded = 0
    for day, (h, cash, nav), (h_ref, cash_ref, nav_ref) in zip(days, book, backtest):
        where = f"on {day.date()}"
        np.testing.assert_allclose(h, h_ref, rtol=1e-9, atol=1e-9, err_msg=f"holdings {where}")
        np.testing.assert_allclose(nav, nav_ref, rtol=1e-9, err_msg=f"NAV {where}")
        np.testing.assert_allclose(cash, cash_ref, rtol=1e-9, atol=1e-6 * nav_ref, err_msg=f"cash {where}")
        traded += 1
    return traded


@pytest.mark.parametrize("lag", [0, 1])
@pytest.mark.parametrize("name, scenario, start, end", [
    ("quickstart.yaml", "top_n=5", "2019-11-01", "2020-06-30"),
    ("regime_risk.yaml", "vix_regime", "2019-12-01", "2020-05-29"),
])
def test_book_replays_the_backtest(tmp_path, name, scenario, start, end, lag):
    cfg = book_config(name, scenario, start, end, lag)
    md = load_market(cfg)
    days, book, store = replay_book(cfg, md, f"sqlite:///{tmp_path / 'book.db'}")
    backtest = backtest_book(cfg, md, days)
    assert assert_same(days, book, backtest) == len(days)
    events = [row["event"] for row in store.history()]
    assert events.count("executed" if lag == 0 else "pending") >= 5  # the span holds rebalances
