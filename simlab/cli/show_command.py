"""``simlab show NAME [--kind step|strategy|cost|detector]``: one component's fields,
defaults and limits, and its docstring as plain text."""

from __future__ import annotations

KINDS = ("step", "strategy", "cost", "detector")


def add_parser(sub) -> None:
    """Register ``simlab show``."""
    cmd = sub.add_parser("show", help="a component's fields, defaults, limits and documentation")
    cmd.add_argument("name", help="registered name, e.g. mean_variance, momentum, flat")
    cmd.add_argument("--kind", choices=KINDS, default=None, help="which registry (default: the one that has NAME)")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Print the component's page."""
    from simlab.config import registry
    from simlab.config.describe import component_page
    from simlab.errors import ConfigError

    kinds = [args.kind] if args.kind else [k for k in KINDS if args.name in registry.registry(k)]
    if not kinds:
        registry.lookup(args.kind or "step", args.name, "")  # raises, with the nearest name
        raise ConfigError(f"no component named {args.name!r}")
    for kind in kinds:
        print(component_page(kind, args.name))
    return 0
