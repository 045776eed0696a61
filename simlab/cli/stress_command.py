"""``simlab stress CONFIG``: replay an experiment against stress windows, and with stress forced on."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Register ``simlab stress``."""
    cmd = sub.add_parser("stress", help="replay an experiment against stress limits and with stress forced on")
    cmd.add_argument("config", type=Path, help="experiment YAML")
    cmd.add_argument("--windows", type=Path, default=None, help="YAML with windows: [{name, start, end}]")
    cmd.add_argument("--out", type=Path, default=None, help="folder for the tables (default experiments/<run id>-stress)")
    cmd.add_argument("--hypothetical", type=Path, default=None,
                     help="YAML with hypothetical: [{name, days, drift, vol, correlation}] (default: stagflation, "
                          "rate shock, liquidity crunch)")
    cmd.add_argument("--max-loss", type=float, default=0.25,
                     help="a stress scenario losing more than this fails the robustness score (default 0.25)")
    cmd.add_argument("--no-rerun", action="store_true", help="skip the re-run with stress forced on")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Run the experiment, replay it, print and write the tables."""
    import pandas as pd

    from simlab.lab.run import run
    from simlab.lab.store import run_id
    from simlab.errors import ConfigError
    from simlab.lab.hypothetical import DEFAULT_SCENARIOS, load_shocks
    from simlab.lab.stress import DEFAULT_WINDOWS, format_report, load_windows, replay

    if not 0 < args.max_loss <= 1:
        raise ConfigError(f"--max-loss must be in (0, 1]; got {args.max_loss}")
    windows = DEFAULT_WINDOWS if args.windows is None else load_windows(args.windows)
    shocks = DEFAULT_SCENARIOS if args.hypothetical is None else load_shocks(args.hypothetical)
    result = run(args.config)
    report = replay(result, windows, rerun=not args.no_rerun, shocks=shocks, max_loss=args.max_loss)
    folder = args.out or Path("experiments") / f"{run_id(result)}-stress"
    folder.mkdir(parents=True, exist_ok=True)
    report.rebalances.to_csv(folder / "stress_rebalances.csv", index=False)
    report.windows.to_csv(folder / "stress_windows.csv", index=False)
    if report.hypothetical is not None:
        report.hypothetical.to_csv(folder / "stress_hypothetical.csv", index=False)
    report.robustness.to_csv(folder / "stress_robustness.csv", index=False)
    if report.forced is not None:
        pd.concat({"base": result.nav, "forced_stress": report.forced.nav}, axis=1).to_csv(folder / "stress_nav.csv")
    print(f"{result!r}: stress replay over {len(windows)} historical windows and {len(shocks)} hypothetical scenarios")
    print(format_report(report))
    print(f"\ntables: {folder}")
    return 0
