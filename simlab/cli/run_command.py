"""``simlab run CONFIG [--out DIR]``: run an experiment, print its metrics, write its run folder."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    """Register ``simlab run``."""
    cmd = sub.add_parser("run", help="run an experiment and write its run folder")
    cmd.add_argument("config", type=Path, help="experiment YAML")
    cmd.add_argument("--out", type=Path, default=None, help="run folder (default experiments/<name>-<hash>)")
    cmd.add_argument("--strict", action="store_true",
                     help="fail (exit 1) when the run health check finds a degenerate book")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Run the experiment, save it, print the metrics table."""
    from simlab.analysis.tables import format_metrics
    from simlab.config.loader import load_config
    from simlab.lab.run import run
    from simlab.lab.store import check_target

    cfg = load_config(args.config)
    if args.out is not None:
        check_target(args.out)  # before the simulation, not after it
    if cfg.experiment.sweep:
        print(f"note: this experiment has a sweep: block ({', '.join(cfg.experiment.sweep)}); "
              "`simlab run` runs the base experiment only, `simlab sweep` runs every variant", file=sys.stderr)
    result = run(cfg)
    problems = result.health().problems()
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if problems and args.strict:
        from simlab.errors import RunHealthError

        raise RunHealthError(f"--strict: the run health check found {len(problems)} problem(s) (above); "
                             "no run folder written")
    folder = result.save(args.out)
    print(f"{result!r}")
    print(format_metrics(result.metrics()))
    print(f"\nrun folder: {folder}")
    return 0
