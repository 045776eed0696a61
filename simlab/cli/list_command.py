"""``simlab list [steps|strategies|costs|detectors|data]``: what a config can name."""

from __future__ import annotations

KINDS = {"steps": "step", "strategies": "strategy", "costs": "cost", "detectors": "detector"}


def add_parser(sub) -> None:
    """Register ``simlab list``."""
    cmd = sub.add_parser("list", help="list registered components or built-in data")
    cmd.add_argument("what", choices=[*KINDS, "data"], nargs="?", default="steps")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Print one line per component (key and first docstring line) or built-in data set."""
    if args.what == "data":
        from simlab.data import available

        for name in available():
            print(f"builtin:{name}")
        return 0
    from simlab.config.registry import describe

    for key, doc in describe(KINDS[args.what]):
        print(f"{key:24s} {doc}")
    return 0
