"""Parity over the whole history: a book run through the pipeline against the backtest.

    python benchmarks/bench_book_parity.py [--config quickstart.yaml] [--scenario NAME] [--lag 1] [--every-day]

Runs ``run_pipeline(..., execute=True)`` on an SQLite book on every decision and fill day of
the config's span (``--every-day``: every trading day) and compares holdings, cash and NAV at
each run with the backtest of the same scenario; prints the largest relative differences and
the time a run. The test suite does the same day by day over a few months
(``tests/production/test_parity.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="quickstart.yaml")
    parser.add_argument("--scenario", default=None)
    parser.add_argument("--lag", type=int, default=None, help="override execution.lag")
    parser.add_argument("--every-day", action="store_true")
    args = parser.parse_args()
    from simlab.config.loader import load_config
    from simlab.engine.simulate import simulate
    from simlab.lab.run import load_market
    from simlab.portfolio.calendar import schedule_rows
    from simlab.production.pipeline import run_pipeline, select_scenario
    from simlab.production.stores import open_store

    cfg = select_scenario(load_config(ROOT / "configs" / "experiments" / args.config), args.scenario)
    if args.lag is not None:
        exe = cfg.experiment.execution.model_copy(update={"lag": args.lag})
        cfg = dataclasses.replace(cfg, experiment=cfg.experiment.model_copy(update={"execution": exe}))
    md = load_market(cfg)
    inputs, book, rec = simulate(cfg, md)
    sched = cfg.experiment.schedule
    decisions = schedule_rows(inputs.dates, sched.frequency, sched.day)
    decisions = decisions[(decisions >= inputs.first) & (decisions <= inputs.last)]
    if args.every_day:
        rows = np.arange(inputs.first, inputs.last + 1)
    else:
        lag = cfg.experiment.execution.lag
        rows = np.unique(np.r_[inputs.first, decisions, decisions + lag, inputs.last])
        rows = rows[rows <= inputs.last]
    snap_rows = np.asarray(rec.snapshot_rows)
    worst = {"holdings": 0.0, "cash": 0.0, "nav": 0.0}
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'book.db'}")
        started = time.perf_counter()
        for row in rows:
            state = run_pipeline(cfg, md, store, inputs.dates[row], execute=True).state
            held = rec.snapshots[int(np.searchsorted(snap_rows, row, side="right")) - 1][0]
            nav = book.nav[row, 0]
            cash = nav - float(held @ inputs.value_price[row])
            scale = np.maximum(np.abs(held), 1.0)  # relative, absolute below one share
            worst["holdings"] = max(worst["holdings"], float(np.max(np.abs(np.asarray(state.holdings) - held) / scale)))
            worst["cash"] = max(worst["cash"], abs(state.cash - cash) / nav)
            worst["nav"] = max(worst["nav"], abs(state.nav / nav - 1.0))
        took = time.perf_counter() - started
    print(f"{cfg.name} / {cfg.scenarios[0].name}, lag {cfg.experiment.execution.lag}: {len(rows)} runs "
          f"({inputs.dates[rows[0]].date()} .. {inputs.dates[rows[-1]].date()}, {len(decisions)} decision days), "
          f"{took:.1f} s ({1e3 * took / len(rows):.0f} ms a run)")
    print("largest relative difference: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    sys.exit(0 if max(worst.values()) <= 1e-9 else 1)


if __name__ == "__main__":
    main()
