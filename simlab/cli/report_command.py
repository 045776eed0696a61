"""``simlab report --state URL --as-of DATE [--config CONFIG]``: the book's daily risk report."""

from __future__ import annotations

from pathlib import Path

from simlab.cli.pipeline_command import _iso_date


def add_parser(sub) -> None:
    """Register the ``report`` command."""
    cmd = sub.add_parser("report", help="a book's daily risk report: report.html and report.md")
    cmd.add_argument("--state", required=True, help="memory://NAME, json:PATH, sqlite:///PATH or postgresql://...")
    cmd.add_argument("--as-of", required=True, type=_iso_date, help="the book's close (YYYY-MM-DD)")
    cmd.add_argument("--config", type=Path, default=None,
                     help="the experiment YAML the book runs (its benchmark gives the beta); default: the "
                          "data source the book was started on, without a benchmark")
    cmd.add_argument("--out", type=Path, default=Path("."), help="folder for report.html and report.md (default .)")
    cmd.add_argument("--window", type=int, default=252, help="daily returns for covariance and beta (252)")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Write report.html and report.md; print their paths."""
    import dataclasses

    from simlab.production.book_ops import loaded
    from simlab.production.risk_report import book_report
    from simlab.production.stores import open_store

    store = open_store(args.state)
    state = loaded(store)
    if args.config is not None:
        from simlab.config.loader import load_config
        from simlab.lab.run import load_market

        cfg = load_config(args.config)
        data = cfg.experiment.data.model_copy(update={"end": args.as_of})
        md = load_market(dataclasses.replace(cfg, experiment=cfg.experiment.model_copy(update={"data": data})))
    else:
        from simlab.data.loaders import load

        md = load(state.book["settings"]["data"]).slice(None, str(args.as_of))
    report = book_report(state, md, store.history(), args.as_of, window=args.window)
    args.out.mkdir(parents=True, exist_ok=True)
    page, text = args.out / "report.html", args.out / "report.md"
    page.write_text(report.html(), encoding="utf-8")
    text.write_text(report.markdown(), encoding="utf-8")
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {page} and {text}")
    return 0
