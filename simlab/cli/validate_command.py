"""``simlab validate CONFIG``: run an experiment and put its claims on trial."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Register ``simlab validate CONFIG [--out DIR] [--draws N] [--seed N] [--strict]``."""
    cmd = sub.add_parser("validate", help="run an experiment and put its claims on trial")
    cmd.add_argument("config", type=Path, help="experiment YAML with a claims: block")
    cmd.add_argument("--out", type=Path, default=None, help="also write the run folder, with claims.json/claims.csv")
    cmd.add_argument("--draws", type=int, default=1000, help="bootstrap resamples (default 1000)")
    cmd.add_argument("--seed", type=int, default=None, help="default: the experiment's seed")
    cmd.add_argument("--strict", action="store_true", help="exit 1 on an inconclusive claim too")
    cmd.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value, e.g. --set claims.sharpe.min=0.5 (repeatable)")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Print the verdicts; with ``--out`` also write the run folder and the report."""
    from simlab.analysis.report import write_report
    from simlab.config.loader import load_with_overrides
    from simlab.lab.store import check_target
    from simlab.lab.validate import validate

    if args.out is not None:
        check_target(args.out)  # before the simulation, not after it
    v = validate(load_with_overrides(args.config, args.overrides), draws=args.draws, pair_draws=max(args.draws - 1, 99), seed=args.seed)
    print(v.to_text())
    if args.out is not None:
        folder = v.result.save(args.out)
        v.write(folder)
        # the report shows the very intervals printed above (same draws and seed)
        write_report(v.result, folder / "report.html", claims=v.table, pairs=v.pairs, draws=args.draws)
        print(f"\nrun folder: {folder}")
    return v.exit_code(strict=args.strict)
