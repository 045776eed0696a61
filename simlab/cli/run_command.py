"""``simlab run CONFIG [--out DIR]``: run an experiment, print its metrics, write its run folder."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger("simlab.cli.run")


def add_parser(sub) -> None:
    """Register ``simlab run``."""
    cmd = sub.add_parser("run", help="run an experiment and write its run folder")
    cmd.add_argument("config", type=Path, help="experiment YAML")
    cmd.add_argument("--out", type=Path, default=None, help="run folder (default experiments/<name>-<hash>)")
    cmd.add_argument("--strict", action="store_true",
                     help="fail (exit 1) when the run health check finds a degenerate book")
    cmd.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value, e.g. --set costs.bps=5 --set pipeline.0.top_n=3 (repeatable)")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Run the experiment, save it, print the metrics table."""
    from simlab.analysis.tables import format_metrics
    from simlab.config.loader import load_with_overrides
    from simlab.lab.run import run
    from simlab.lab.store import check_target

    cfg = load_with_overrides(args.config, args.overrides)
    if args.out is not None:
        check_target(args.out)  # before the simulation, not after it
    log.info("loaded %s: %d scenario(s), config hash %s", args.config, len(cfg.scenarios), cfg.config_hash()[:8])
    if cfg.experiment.sweep:
        print(f"note: this experiment has a sweep: block ({', '.join(cfg.experiment.sweep)}); "
              "`simlab run` runs the base experiment only, `simlab sweep` runs every variant", file=sys.stderr)
    from simlab.lab.warmup import compile_notice

    notice = compile_notice()
    if notice:
        print(f"note: {notice}", file=sys.stderr, flush=True)
    print(f"running {cfg.name}: {len(cfg.scenarios)} scenario(s) ...", file=sys.stderr, flush=True)
    result = run(cfg, progress=sys.stderr.isatty() and not args.quiet)
    problems = result.health().problems()  # logged as warnings by run()
    if problems and args.strict:
        from simlab.errors import RunHealthError

        raise RunHealthError(f"--strict: the run health check found {len(problems)} problem(s) (above); "
                             "no run folder written")
    log.info("simulated; writing the run folder")
    folder = result.save(args.out)
    print(f"{result!r}")
    print(format_metrics(result.metrics()))
    if result.sleeves is not None:
        from simlab.analysis.tables import format_sleeves

        print("\nsleeves (each its own book at its share of the capital; netting: the book's saving)")
        print(format_sleeves(result.sleeve_metrics()))
    if result.benchmark is None:
        print("note: no benchmark (data.benchmark names one; your own data has none by default)", file=sys.stderr)
    print(f"\nrun folder: {folder}")
    return 0
