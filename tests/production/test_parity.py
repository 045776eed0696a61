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


WARM_STARTED = {  # a warm-started optimizer and a drawdown breaker, weekly
    "name": "warm_minvar",
    "data": {"source": "builtin:sp500_20"},
    "schedule": {"frequency": "weekly", "day": "first"},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [
        {"type": "min_variance", "solver": "native", "max_weight": 0.2, "turnover_penalty": 0.001},
        {"type": "drawdown_breaker", "thresholds": [0.08, 0.15], "exposures": [0.6, 0.3]},
    ],
}


def book_config(name, scenario: str | None, start: str, end: str, lag: int):
    source = CONFIGS / name if isinstance(name, str) else name
    cfg = select_scenario(load_config(source), scenario)
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


def assert_same(days, book, backtest, rtol=1e-9, holdings_rtol=1e-9):
    traded = 0
    for day, (h, cash, nav), (h_ref, cash_ref, nav_ref) in zip(days, book, backtest):
        where = f"on {day.date()}"
        np.testing.assert_allclose(h, h_ref, rtol=holdings_rtol, atol=1e-9, err_msg=f"holdings {where}")
        np.testing.assert_allclose(nav, nav_ref, rtol=rtol, err_msg=f"NAV {where}")
        np.testing.assert_allclose(cash, cash_ref, rtol=rtol, atol=rtol * nav_ref, err_msg=f"cash {where}")
        traded += 1
    return traded


@pytest.mark.parametrize("lag", [0, 1])
@pytest.mark.parametrize("name, scenario, start, end", [
    ("quickstart.yaml", "top_n=5", "2020-01-01", "2020-04-30"),
    ("regime_risk.yaml", "vix_regime", "2020-01-01", "2020-04-30"),
])
def test_book_replays_the_backtest(tmp_path, name, scenario, start, end, lag):
    cfg = book_config(name, scenario, start, end, lag)
    md = load_market(cfg)
    days, book, store = replay_book(cfg, md, f"sqlite:///{tmp_path / 'book.db'}")
    backtest = backtest_book(cfg, md, days)
    assert assert_same(days, book, backtest) == len(days)
    events = [row["event"] for row in store.history()]
    assert events.count("executed" if lag == 0 else "pending") >= 4  # the span holds monthly rebalances


@pytest.mark.parametrize("lag", [0, 1])
def test_warm_started_book_follows_the_backtest(tmp_path, lag):
    """A warm-started QP and a drawdown breaker through the store: the backtest's book to 1e-9.

    Each covariance window has the same bits whichever decisions are computed with it
    (:func:`simlab.kernels.covariance.window_cov_nb`), so the book, deciding one day at a
    time, gives the solver the very inputs the backtest gives it.
    """
    cfg = book_config(WARM_STARTED, None, "2020-01-02", "2020-03-31", lag)
    md = load_market(cfg)
    days, book, store = replay_book(cfg, md, f"sqlite:///{tmp_path / 'book.db'}")
    backtest = backtest_book(cfg, md, days)
    assert_same(days, book, backtest)
    assert "qp_state" in store.load().memory["0:0:min_variance"]  # the warm start went through the store


def test_the_breaker_acts_in_the_replayed_span():
    """The span covers March 2020: the breaker cut exposure on a book decision."""
    cfg = book_config(WARM_STARTED, None, "2020-01-02", "2020-03-31", 1)
    md = load_market(cfg)
    store = open_store("memory://breaker-span")
    levels = []
    for day in md.dates[(md.dates >= "2020-01-02") & (md.dates <= "2020-03-31")]:
        decision = run_pipeline(cfg, md, store, day, execute=True)
        levels += [d["value"] for d in decision.diagnostics if d["key"] == "level"]
    assert max(levels) >= 1
