"""Crash drill: 1,000 writers killed with SIGKILL mid-commit per store; the store is checked after each.

    python benchmarks/bench_crash_store.py [--kills 1000] [--stores json,sqlite] [--seed 0]

Each kill forks a writer that commits versions of a book in a loop; after a random number of
commits (and a random spin) the parent kills it and loads the store: it must hold the last
committed version or the one after, every field from the same commit, one history row per
version (:mod:`simlab.production.crash`). Prints kills, versions committed, how many kills
landed after the commit point, and the time per kill.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--stores", default="json,sqlite")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from simlab.production.crash import crash_drill

    with tempfile.TemporaryDirectory() as folder:
        for kind in args.stores.split(","):
            url = {"json": f"json:{Path(folder) / 'book.json'}", "sqlite": f"sqlite:///{Path(folder) / 'book.db'}"}[kind]
            started = time.perf_counter()
            result = crash_drill(url, kills=args.kills, seed=args.seed)
            took = time.perf_counter() - started
            print(f"{kind:7s} kills {result['kills']:5d}  versions {result['versions']:5d}  "
                  f"killed after the commit point {result['killed_after_commit_point']:4d}  "
                  f"torn 0  {took:6.1f} s ({1e3 * took / result['kills']:.1f} ms a kill)")


if __name__ == "__main__":
    main()
