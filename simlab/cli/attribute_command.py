"""``simlab attribute RUN_OR_CONFIG``: factor exposures, risk by sector, Brinson, stages."""

from __future__ import annotations

from pathlib import Path

FACTOR_SETS = ("market", "ff3", "etf")


def add_parser(sub) -> None:
    """Register ``simlab attribute``."""
    cmd = sub.add_parser("attribute", help="where a run's return, risk and cost came from")
    cmd.add_argument("target", help="experiment YAML, or a run folder / run id (its saved config is rerun)")
    cmd.add_argument("--root", type=Path, default=Path("experiments"), help="where run ids are looked up")
    cmd.add_argument("--factors", default=",".join(FACTOR_SETS),
                     help=f"comma-separated factor sets (of {', '.join(FACTOR_SETS)}; default all)")
    cmd.add_argument("--no-stages", action="store_true", help="skip attribution by pipeline stage (one more batch)")
    cmd.add_argument("--benchmark-weights", type=Path, default=None,
                     help="CSV of benchmark weights (date column, one column per asset) for Brinson; "
                          "default equal weight over the universe")
    cmd.add_argument("--out", type=Path, default=None, help="folder to write the attribution tables as CSV")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Run (or rerun) the experiment, print its attribution, optionally write the tables."""
    from simlab.analysis.attribution import write_attribution
    from simlab.config.loader import load_config
    from simlab.errors import ConfigError
    from simlab.lab.run import run

    sets = tuple(s.strip() for s in args.factors.split(",") if s.strip())
    unknown = [s for s in sets if s not in FACTOR_SETS]
    if unknown:
        raise ConfigError(f"--factors: unknown set(s) {', '.join(unknown)}; expected some of {', '.join(FACTOR_SETS)}")
    result = run(load_config(_config_path(args.target, args.root)))
    weights = None if args.benchmark_weights is None else _read_weights(args.benchmark_weights)
    att = result.attribution(factor_sets=sets, stages=not args.no_stages, benchmark_weights=weights)
    print(f"{result!r}\n")
    print(att.format())
    if args.out is not None:
        print(f"\ntables: {write_attribution(att, args.out)}")
    return 0


def _config_path(target: str, root: Path) -> Path:
    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return path
    from simlab.lab.store import resolve_run

    return resolve_run(target, root) / "config.yaml"


def _read_weights(path: Path):
    from simlab.analysis.brinson import read_benchmark_weights

    return read_benchmark_weights(path)
