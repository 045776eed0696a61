"""The first run of every shipped config with an empty numba cache, and ``import simlab``.

    python benchmarks/bench_coldstart.py [--configs configs/experiments/*.yaml] [--top 6] [--against DIR]

Each config runs in a fresh interpreter whose ``NUMBA_CACHE_DIR`` is a new empty folder, so
every kernel it needs is compiled: the **cold** time is ``simlab.run(path)`` from the
import to the result, and the **warm** time a second run in the same process. The kernels
that took the longest to compile are listed per config (numba's compile events, inclusive
of the functions they call). ``import simlab`` and ``simlab --help`` are timed in fresh
interpreters too (best of five). Targets: a cold first run within 20 s on 2 cores; ``import
simlab`` within 0.5 s. The cold time is given as wall seconds and as the process's CPU
seconds (compiling is single-threaded, so on a machine shared with other jobs the CPU
seconds move less with the load). ``--against DIR`` runs each config also on the simlab
checkout in DIR (another commit, say), alternating the two config by config so that both
see the same load.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, today

ROOT = Path(__file__).resolve().parents[1]
COLD_TARGET_S, IMPORT_TARGET_S = 20.0, 0.5

CHILD = r"""
import collections, json, sys, time
import numba.core.event as ev
spent = collections.Counter()
class Timer(ev.Listener):
    def __init__(self):
        self.stack = []
    def on_start(self, e):
        self.stack.append((e.data["dispatcher"].py_func.__qualname__, time.perf_counter()))
    def on_end(self, e):
        name, t0 = self.stack.pop()
        if not self.stack:
            spent[name] += time.perf_counter() - t0
ev.register("numba:compile", Timer())
t0, c0 = time.perf_counter(), time.process_time()
import simlab
simlab.run(sys.argv[1])
cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
t1 = time.perf_counter()
simlab.run(sys.argv[1])
warm = time.perf_counter() - t1
print(json.dumps({"cold": cold, "cold_cpu": cold_cpu, "warm": warm, "compile": sum(spent.values()), "top": spent.most_common(int(sys.argv[2]))}))
"""


def run_cold(config: str, top: int, root: Path = ROOT) -> dict:
    """One config's cold and warm run in a fresh interpreter with an empty numba cache,
    importing simlab from the checkout ``root``."""
    with tempfile.TemporaryDirectory() as cache:
        path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": path}
        out = subprocess.run([sys.executable, "-c", CHILD, config, str(top)], env=env, cwd=root,
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, r: dict) -> None:
    """One config's line: cold wall and CPU seconds, compile seconds, warm, verdict, slowest kernels."""
    verdict = "MET" if r["cold"] <= COLD_TARGET_S else "MISSED"
    print(f"{label:40s} {r['cold']:8.1f} {r['cold_cpu']:7.1f} {r['compile']:10.1f} {r['warm']:8.2f}  {verdict}"
          f"  (load {load_average()})")
    print("    " + ", ".join(f"{name} {sec:.1f}" for name, sec in r["top"]))


def best_start(code: list[str], repeat: int = 5) -> float:
    """Best wall time of a fresh interpreter running ``code``, minus a bare interpreter's."""
    def wall(args):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - t0

    bare = min(wall(["-c", "pass"]) for _ in range(repeat))
    return min(wall(code) for _ in range(repeat)) - bare


def config_path(name: str) -> str:
    """``name`` itself where it is a file, else the shipped config of that name."""
    shipped = ROOT / "configs/experiments" / f"{Path(name).stem}.yaml"
    if Path(name).is_file() or not shipped.is_file():
        return name
    return str(shipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", default=sorted(glob.glob(str(ROOT / "configs/experiments/*.yaml"))),
                        help="config files, or names of shipped configs (allocator_phases); default: every shipped one")
    parser.add_argument("--top", type=int, default=6, help="kernels listed per config")
    parser.add_argument("--against", type=Path, default=None,
                        help="another simlab checkout to run each config on too, alternating")
    args = parser.parse_args()
    print(f"bench_coldstart: {machine()}, load average {load_average()}, {today()}")
    imp = best_start(["-c", "import simlab"])
    helped = best_start(["-m", "simlab.cli", "--help"])
    print(f"import simlab {imp:.3f} s   simlab --help {helped:.3f} s   (fresh interpreters, best of 5, less a bare one)")
    print(f"target: import simlab <= {IMPORT_TARGET_S} s: {'MET' if imp <= IMPORT_TARGET_S else 'MISSED'}\n")
    print(f"{'config':40s} {'cold s':>8s} {'cpu s':>7s} {'compile s':>10s} {'warm s':>8s}  target <= {COLD_TARGET_S:.0f} s")
    for config in map(config_path, args.configs):
        stem = Path(config).stem
        if args.against is not None:
            other = args.against / Path(config).resolve().relative_to(ROOT)
            report(f"{stem} ({args.against})", run_cold(str(other), args.top, args.against.resolve()))
        report(stem, run_cold(config, args.top))


if __name__ == "__main__":
    main()
