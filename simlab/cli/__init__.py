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
``simlab serve --state URL [--config CONFIG] [--host H --port P]``  the book over HTTP (FastAPI).
``simlab show NAME``  a component's fields, defaults, limits and documentation.
``simlab schema``  the JSON Schema of an experiment (editor completion).
``simlab warmup``  compile the numba kernels ahead of the first run.

Bad input never ends in a traceback: a :class:`~simlab.errors.SimlabError` prints
``error: <message>`` and its notes and exits 1; any other exception prints
``internal error: ...`` with a pointer to ``--debug`` and exits 1; Ctrl-C prints
``interrupted`` and exits 130. ``--debug`` (anywhere on the line) shows the full traceback instead.

Each command module defines ``add_parser(sub)`` with the standard library only and imports
the numerical stack inside its ``main(args)``, so ``simlab --help`` starts in well under a
second.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from simlab.errors import SimlabError

COMMANDS = ("run", "validate", "sweep", "stress", "runs", "compare", "attribute", "list", "show", "schema",
            "warmup", "pipeline", "state", "monitor", "report", "serve")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv:  # accepted anywhere on the line, as in `simlab run x.yaml --debug`
        argv = ["--debug", *(a for a in argv if a != "--debug")]
    args = parser.parse_args(argv)
    _configure_logging(args.verbose - args.quiet)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt as err:
        if args.debug:
            raise
        print(f"\ninterrupted{f': {err}' if str(err) else ''}", file=sys.stderr)
        return 130
    except SimlabError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        for note in getattr(err, "__notes__", []):
            print(f"  {note}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - never a traceback unless asked for
        if args.debug:
            raise
        print(f"internal error: {type(err).__name__}: {err}\n"
              "  simlab did not expect this; rerun with --debug for the traceback", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command's subparser."""
    from simlab import __version__

    parser = argparse.ArgumentParser(prog="simlab", description="Replay history through a portfolio stack.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument("--version", action="version", version=f"simlab {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="errors only")
    sub = parser.add_subparsers()
    for name in COMMANDS:
        import_module(f"simlab.cli.{name}_command").add_parser(sub)
    return parser


def _configure_logging(level: int) -> None:
    """stdlib logging on stderr: warnings by default, ``-v`` info, ``-vv`` debug, ``-q`` errors."""
    import logging

    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
    logging.basicConfig(level=levels.get(max(min(level, 2), -1), logging.DEBUG),
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
