"""``simlab runs [--root DIR]``: list the run and sweep folders."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Register ``simlab runs``."""
    cmd = sub.add_parser("runs", help="list the run and sweep folders under experiments/")
    cmd.add_argument("--root", type=Path, default=Path("experiments"), help="where runs are (default experiments)")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """One line per run or sweep folder."""
    import pandas as pd

    from simlab.lab.store import list_runs

    table = list_runs(args.root)
    if table.empty:
        print(f"no runs under {args.root}")
        return 0
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table.drop(columns="folder").to_string(index=False))
    return 0
