"""``simlab pipeline CONFIG --state URL --as-of DATE [--dry-run | --execute]``: run a book one day."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path


def _iso_date(text: str) -> datetime.date:
    """``--as-of``: a date written YYYY-MM-DD."""
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def add_parser(sub) -> None:
    """Register the ``pipeline`` command."""
    cmd = sub.add_parser("pipeline", help="run a paper or live book at a close: orders, decision, new state")
    cmd.add_argument("config", type=Path, help="experiment YAML (the same one `simlab run` backtests)")
    cmd.add_argument("--state", required=True, help="memory://NAME, json:PATH, sqlite:///PATH or postgresql://...")
    cmd.add_argument("--as-of", required=True, type=_iso_date, help="the close to decide at (a trading day of the data)")
    mode = cmd.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="decide and write the files; store nothing (default)")
    mode.add_argument("--execute", action="store_true", help="commit the new state (a paper book fills its orders)")
    cmd.add_argument("--scenario", default=None, help="the scenario the book runs (default: the config's first)")
    cmd.add_argument("--out", type=Path, default=Path("."), help="folder for orders.csv and decision.json (default .)")
    cmd.add_argument("--approve", action="store_true", help="approve orders the approval rule holds")
    cmd.add_argument("--approval-turnover", type=float, default=None,
                     help="one-way turnover (fraction of NAV) above which orders need --approve")
    cmd.add_argument("--approval-value", type=float, default=None,
                     help="order value above which orders need --approve")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Print the decision; exit 0, or 3 when the book is blocked."""
    import dataclasses

    from simlab.config.loader import load_config
    from simlab.lab.run import load_market
    from simlab.production.book_ops import money
    from simlab.production.pipeline import Approval, run_pipeline, select_scenario
    from simlab.production.stores import open_store

    store = open_store(args.state)  # a malformed URL fails before the data loads
    full = load_config(args.config)
    cfg = select_scenario(full, args.scenario)
    if args.scenario is None and len(full.scenarios) > 1:
        print(f"scenario {cfg.scenarios[0].name!r}: the first of {len(full.scenarios)} "
              f"({', '.join(s.name for s in full.scenarios)}); --scenario picks another")
    data = cfg.experiment.data.model_copy(update={"end": args.as_of})
    cfg = dataclasses.replace(cfg, experiment=cfg.experiment.model_copy(update={"data": data}))
    md = load_market(cfg)
    approval = Approval(args.approval_turnover, args.approval_value)
    decision = run_pipeline(cfg, md, store, args.as_of, execute=args.execute,
                            approve=args.approve, approval=approval)
    orders, path = decision.write(args.out)
    print(f"book {decision.state.book['config']} / {decision.scenario} at the close of {decision.as_of}: "
          f"{decision.status}")
    print(f"NAV {money(decision.state.nav)}  cash {money(decision.state.cash)}  orders {len(decision.orders)}"
          f"  filled {len(decision.filled)}")
    if len(decision.filled):
        print("filled (orders that waited for this close):")
        print(decision.filled.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))
    if len(decision.orders):
        print("orders:")
        print(decision.orders.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))
        if decision.status == "pending" and decision.committed:
            lag = cfg.experiment.execution.lag
            print(f"the orders wait in the book: they fill at the close {lag} trading day(s) on (execution.lag), "
                  "on the run that reaches it")
    for note in decision.notes:
        print(f"note: {note}")
    state_line = f"committed version {decision.state.version}" if decision.committed else "nothing stored"
    print(f"{state_line}; wrote {orders} and {path}")
    return 3 if decision.status == "blocked" else 0
