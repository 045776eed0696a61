"""``simlab compare RUN RUN...``: the metrics of runs side by side."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Register ``simlab compare``."""
    cmd = sub.add_parser("compare", help="put the metrics of runs side by side")
    cmd.add_argument("runs", nargs="+", help="run folders, run ids or unique prefixes of them")
    cmd.add_argument("--root", type=Path, default=Path("experiments"), help="where run ids are looked up")
    cmd.add_argument("--metrics", default=None, help="comma-separated metrics to show (default: the usual)")
    cmd.add_argument("--scenarios", default=None, help="glob on scenario names, e.g. 'top_n=5*'")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Print the chosen metrics (default: the usual ones) of every scenario of the runs."""
    from simlab.analysis.tables import format_metrics
    from simlab.lab.store import compare_runs

    chosen = args.metrics.split(",") if args.metrics else None
    table = compare_runs(args.runs, args.root, metrics=chosen, scenarios=args.scenarios)
    if table.empty:
        print("no scenarios to compare")
        return 0
    print(format_metrics(table, columns=chosen))
    return 0
