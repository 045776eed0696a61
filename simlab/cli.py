"""The ``simlab`` command.

``simlab run CONFIG [--out DIR]``  run an experiment, print its metrics, write its run folder.
``simlab list [steps|strategies|costs|data]``  what a config can name.
``simlab sweep CONFIG [--executor local|dask] [--address ADDR] [--workers N] [--out DIR]``  run a sweep.
``simlab runs``  list the run and sweep folders under experiments/.
``simlab compare RUN RUN...``  the metrics of runs side by side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from simlab.errors import SimlabError

SHOWN = ["total_return", "cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown",
         "calmar", "annual_turnover", "cost_drag", "active_return", "information_ratio", "beta"]
PERCENT = {"total_return", "cagr", "annual_volatility", "max_drawdown", "annual_turnover",
           "cost_drag", "active_return", "tracking_error", "hit_rate"}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except SimlabError as err:
        print(f"error: {err}", file=sys.stderr)
        for note in getattr(err, "__notes__", []):
            print(f"  {note}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab", description="Replay history through a portfolio stack.")
    sub = parser.add_subparsers()
    run = sub.add_parser("run", help="run an experiment and write its run folder")
    run.add_argument("config", type=Path, help="experiment YAML")
    run.add_argument("--out", type=Path, default=None, help="run folder (default experiments/<name>-<hash>)")
    run.set_defaults(func=_run)
    listing = sub.add_parser("list", help="list registered components or built-in data")
    listing.add_argument("what", choices=["steps", "strategies", "costs", "data"], nargs="?", default="steps")
    listing.set_defaults(func=_list)
    from simlab.risk import stress

    stress.add_parser(sub)
    from simlab.analysis import claims

    claims.add_parser(sub)
    from simlab.lab import store, sweep

    sweep.add_parser(sub)
    store.add_parsers(sub)
    return parser


def _run(args) -> int:
    import simlab

    cfg = simlab.load_config(args.config)
    if cfg.experiment.sweep:
        print(f"note: this experiment has a sweep: block ({', '.join(cfg.experiment.sweep)}); "
              "`simlab run` runs the base experiment only, `simlab sweep` runs every variant", file=sys.stderr)
    result = simlab.run(cfg)
    folder = result.save(args.out)
    print(f"{result!r}")
    print(format_metrics(result.metrics()))
    print(f"\nrun folder: {folder}")
    return 0


def format_metrics(metrics: pd.DataFrame) -> str:
    """The metrics table as text: metrics as rows, scenarios as columns, percents where apt."""
    table = metrics[[c for c in SHOWN if c in metrics.columns]].T
    rows = {}
    for name, values in table.iterrows():
        fmt = "{:.2%}" if name in PERCENT else "{:.3f}"
        rows[name] = [("" if pd.isna(v) else fmt.format(v)) for v in values]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=table.columns)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        return out.to_string()


def _list(args) -> int:
    if args.what == "data":
        from simlab.data import available

        for name in available():
            print(f"builtin:{name}")
        return 0
    from simlab.config.registry import describe

    kind = {"steps": "step", "strategies": "strategy", "costs": "cost"}[args.what]
    for key, doc in describe(kind):
        print(f"{key:24s} {doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
