"""``simlab monitor CONFIG --state URL --as-of DATE [--alerts FILE]``: check a book and raise alerts."""

from __future__ import annotations

import argparse
from pathlib import Path

from simlab.cli.pipeline_command import _iso_date


def _fractions(text: str) -> tuple[float, ...]:
    """``--drawdown-levels``: comma-separated fractions such as 0.1,0.2,0.3."""
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of fractions") from None


def add_parser(sub) -> None:
    """Register the ``monitor`` command."""
    cmd = sub.add_parser("monitor", help="check a book at a close: drawdown, regime, data quality, constraints")
    cmd.add_argument("config", type=Path, help="the experiment YAML the book runs")
    cmd.add_argument("--state", required=True, help="memory://NAME, json:PATH, sqlite:///PATH or postgresql://...")
    cmd.add_argument("--as-of", required=True, type=_iso_date, help="the close to check (YYYY-MM-DD)")
    cmd.add_argument("--scenario", default=None, help="the scenario the book runs (default: the config's first)")
    cmd.add_argument("--alerts", type=Path, default=None, help="append the alerts to this JSON-lines file")
    cmd.add_argument("--sink", action="append", default=[], metavar="SPEC",
                     help="one more sink: logging, jsonl:PATH or webhook:URL (repeatable; the console is always one)")
    cmd.add_argument("--drawdown-levels", type=_fractions, default=(0.10, 0.20, 0.30),
                     help="drawdown thresholds as fractions (default 0.1,0.2,0.3)")
    cmd.add_argument("--rearm", type=float, default=0.0,
                     help="a threshold re-arms when the drawdown is back at this fraction of it (default 0: a new peak)")
    cmd.add_argument("--stale-days", type=int, default=5, help="a price unchanged longer than this is stale (5)")
    cmd.add_argument("--jump-k", type=float, default=10.0, help="a return beyond k robust standard deviations (10)")
    cmd.add_argument("--utilization", type=float, default=0.95, help="constraint utilization alert level (0.95)")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Print the alerts; exit 0, 4 when a CRITICAL alert fired, 5 when a sink failed (its alerts are kept)."""
    import dataclasses

    from simlab.analysis.monitors import MonitorSettings
    from simlab.config.loader import load_config
    from simlab.lab.run import load_market
    from simlab.production.alerts import ConsoleSink, JsonLinesSink, parse_sink
    from simlab.production.monitoring import monitor_book
    from simlab.production.pipeline import select_scenario
    from simlab.production.stores import open_store

    settings = MonitorSettings(drawdown_levels=args.drawdown_levels, rearm=args.rearm, stale_days=args.stale_days,
                               jump_k=args.jump_k, utilization_level=args.utilization)
    sinks = [ConsoleSink()] + ([JsonLinesSink(args.alerts)] if args.alerts else []) + [parse_sink(s) for s in args.sink]
    store = open_store(args.state)
    cfg = select_scenario(load_config(args.config), args.scenario)
    data = cfg.experiment.data.model_copy(update={"end": args.as_of})
    cfg = dataclasses.replace(cfg, experiment=cfg.experiment.model_copy(update={"data": data}))
    md = load_market(cfg)
    run = monitor_book(cfg, md, store, args.as_of, sinks, settings)
    for note in run.notes:
        print(f"note: {note}")
    for error in run.errors:
        print(f"error: {error}")
    print(f"{len(run.alerts)} alert(s) at {run.as_of}" + (f", worst {run.worst()}" if run.alerts else "")
          + (f"; {run.undelivered} undelivered, kept in the book for the next run" if run.undelivered else "")
          + f"; committed version {run.state.version}")
    if run.errors:
        return 5
    return 4 if run.worst() == "CRITICAL" else 0
