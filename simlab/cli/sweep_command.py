"""``simlab sweep CONFIG``: run the variants of an experiment's sweep: block and merge them."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(sub) -> None:
    """Register ``simlab sweep``."""
    cmd = sub.add_parser("sweep", help="run the variants of an experiment's sweep: block and merge them")
    cmd.add_argument("config", type=Path, help="experiment YAML with a sweep: block")
    cmd.add_argument("--executor", choices=["local", "dask"], default="local",
                     help="local processes (default) or a Dask distributed cluster")
    cmd.add_argument("--address", default=None, help="Dask scheduler address (default: start a local cluster)")
    cmd.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    cmd.add_argument("--out", type=Path, default=None, help="sweep folder (default experiments/<name>-sweep-<hash>)")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Run, print one line per variant; exit 1 if a variant failed."""
    from simlab.lab.sweep import format_variants, run_sweep, status_counts

    t0 = time.perf_counter()
    res = run_sweep(args.config, args.executor, address=args.address, workers=args.workers,
                    out=args.out, progress=not args.no_progress)
    print(f"sweep {res.folder.name}: {len(res.variants)} variant(s) on {args.executor}: "
          + ", ".join(f"{n} {k}" for k, n in status_counts(res.variants.to_dict("records")).items())
          + f" [{time.perf_counter() - t0:.1f} s]")
    print(format_variants(res))
    for row in res.failed.itertuples():
        print(f"\nfailed: {row.variant}\n  {row.error}", file=sys.stderr)
    print(f"\nsweep folder: {res.folder}")
    return 1 if len(res.failed) else 0
