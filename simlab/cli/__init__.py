"""Layer 7: the ``simlab`` command, one module per command.

``simlab run CONFIG [--out DIR]``  run an experiment, print its metrics, write its run folder.
``simlab validate CONFIG``  run an experiment and put its claims on trial.
``simlab sweep CONFIG [--executor local|dask] ...``  run the variants of a sweep: block.
``simlab stress CONFIG``  replay an experiment against stress windows.
``simlab runs``  list the run and sweep folders under experiments/.
``simlab compare RUN RUN...``  the metrics of runs side by side.
``simlab attribute RUN_OR_CONFIG``  factor exposures, risk by sector, Brinson and stage attribution.
``simlab list [steps|strategies|costs|detectors|data]``  what a config can name.
``simlab pipeline CONFIG --state URL --as-of DATE [--dry-run|--execute]``  run a book at a close.
``simlab state show|history|export|restore|deposit|withdraw|apply-fills --state URL``  a book's state.

Each command module defines ``add_parser(sub)`` with the standard library only and imports
the numerical stack inside its ``main(args)``, so ``simlab --help`` starts in well under a
second.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from simlab.errors import SimlabError

COMMANDS = ("run", "validate", "sweep", "stress", "runs", "compare", "attribute", "list", "pipeline",
            "state")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command's subparser."""
    parser = argparse.ArgumentParser(prog="simlab", description="Replay history through a portfolio stack.")
    sub = parser.add_subparsers()
    for name in COMMANDS:
        import_module(f"simlab.cli.{name}_command").add_parser(sub)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
