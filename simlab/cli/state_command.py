"""``simlab state show|history|export|restore|deposit|withdraw|apply-fills --state URL``: a book's state."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    """Register the ``state`` command and its actions."""
    cmd = sub.add_parser("state", help="show, export, restore or adjust a book's stored state")
    actions = cmd.add_subparsers(dest="action", required=True)
    for name, text in (("show", "the book now"), ("history", "every commit")):
        act = actions.add_parser(name, help=text)
        act.add_argument("--state", required=True)
    act = actions.add_parser("export", help="write the state as JSON")
    act.add_argument("--state", required=True)
    act.add_argument("file", type=Path)
    act = actions.add_parser("restore", help="commit an exported state as the book's next version")
    act.add_argument("--state", required=True)
    act.add_argument("file", type=Path)
    for name in ("deposit", "withdraw"):
        act = actions.add_parser(name, help=f"record a cash {name} at the book's last close")
        act.add_argument("--state", required=True)
        act.add_argument("amount", type=float)
        act.add_argument("--note", default="")
    act = actions.add_parser("apply-fills", help="book a broker's fills.csv (asset, shares, price, cost)")
    act.add_argument("--state", required=True)
    act.add_argument("file", type=Path)
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Run the action."""
    from simlab.production import book_ops
    from simlab.production.stores import open_store

    store = open_store(args.state)
    action = args.action.replace("-", "_")
    if action == "show":
        print(book_ops.show(book_ops.loaded(store)))
    elif action == "history":
        print(book_ops.history_table(store).to_string(index=False))
    elif action == "export":
        args.file.write_text(book_ops.loaded(store).to_json() + "\n")
        print(f"wrote {args.file}")
    elif action == "restore":
        state = book_ops.restore(store, args.file.read_text())
        print(f"restored {args.file} as version {state.version}")
    elif action in ("deposit", "withdraw"):
        amount = args.amount if action == "deposit" else -args.amount
        state = book_ops.cash_flow(store, amount, args.note)
        print(f"{action} {abs(amount):,.2f} at {state.as_of}: cash {state.cash:,.2f}, NAV {state.nav:,.2f} "
              f"(version {state.version})")
    else:
        state = book_ops.apply_fills(store, args.file)
        print(f"applied {args.file}: cash {state.cash:,.2f}, NAV {state.nav:,.2f} (version {state.version})")
    return 0
