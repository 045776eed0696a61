"""Sweeps at scale: 1,000 scenarios in one batch, and the Dask executor against local processes.

    python benchmarks/bench_sweep.py [--part scale|dask|all] [--repeat 1] [--workers 2]

scale  One experiment, 1,000 scenarios: ``pipeline.0.top_n`` (5, 10, .., 50) x
       ``strategy.lookback`` (63, 84, .., 252) x ``costs.bps`` (0, 1, .., 9), 12-1 style
       momentum (skip 21), top-N equal weight, monthly, on 100 synthetic assets x 5040
       days (20 years; seed 1, no benchmark). The engine runs the 1,000 scenarios in one
       pass. Timed in a fresh process, end to end from the config dict: the synthetic data,
       ``simlab.run`` (validation, scenario expansion, signals, the event loop), ``res.nav``
       and ``res.metrics()``; then the same experiment through ``simlab.lab.sweep.run_sweep``
       as a one-variant sweep on the local executor (one worker process; the variant
       folder's parquet tables, the merged netCDF and metrics table written). Peak
       resident memory (VmHWM) of the process that ran the engine is reported.
       Targets: end to end under 60 s, peak memory under 2 GiB.

dask   The same small sweep (8 variants: ``data.seed`` 1..4 x ``schedule.frequency``
       weekly|monthly, each a 10-scenario grid on 30 synthetic assets x 1260 days) through
       ``--executor local`` and ``--executor dask``, each in its own fresh process, with the
       same number of workers. For Dask, a LocalCluster is started first (its start time
       printed apart), then the sweep is run twice through its address (cold workers, then
       warm ones), each into a new folder. Local processes run the sweep twice too (a new
       pool each time, as every ``simlab sweep`` does). The overhead printed is Dask minus
       local for each pass, also per variant, and the numbers of the two are checked to be
       identical (nav, returns and metrics).

Every figure is one run on whatever machine this is; a shared machine is noisy, so the
1-minute load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

TIME_TARGET_S = 60.0
MEMORY_TARGET_MIB = 2048.0

SCALE = {
    "name": "bench_sweep_scale",
    "data": {"source": "synthetic", "n_assets": 100, "n_days": 5040, "seed": 1, "benchmark": None},
    "schedule": {"frequency": "monthly", "day": "first"},
    "strategy": {"type": "momentum", "lookback": 252, "skip": 21},
    "costs": {"type": "flat", "bps": 10},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 10}],
    "scenarios": {"grid": {
        "pipeline.0.top_n": list(range(5, 51, 5)),
        "strategy.lookback": list(range(63, 253, 21)),
        "costs.bps": list(range(10)),
    }},
}

SMALL = {
    "name": "bench_sweep_dask",
    "data": {"source": "synthetic", "n_assets": 30, "n_days": 1260, "seed": 1, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 126, "skip": 21},
    "costs": {"type": "flat", "bps": 10},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 5}],
    "scenarios": {"grid": {"pipeline.0.top_n": [3, 5, 8, 10, 15], "costs.bps": [0, 10]}},
    "sweep": {"data.seed": [1, 2, 3, 4], "schedule.frequency": ["weekly", "monthly"]},
}


# --- children (fresh processes: python bench_sweep.py --child NAME ARGS) -------------------------


PROBE = "top_n=10,lookback=252,bps=0"  # a scenario whose Sharpe both scale children report


def child_scale() -> dict:
    """The 1,000-scenario experiment end to end: run, nav, metrics."""
    import simlab

    base = C.rss_mib()
    t0 = time.perf_counter()
    res = simlab.run(SCALE)
    t_run = time.perf_counter() - t0
    nav = res.nav
    t_nav = time.perf_counter() - t0
    metrics = res.metrics()
    t_total = time.perf_counter() - t0
    return {"base_mib": base, "run_s": t_run, "nav_s": t_nav, "total_s": t_total, "peak_mib": C.peak_rss_mib(),
            "scenarios": nav.shape[1], "probe_sharpe": float(metrics.loc[PROBE, "sharpe"])}


def child_scale_sweep(out: str) -> dict:
    """The same experiment as a one-variant sweep on the local executor (one worker)."""
    from simlab.lab.sweep import run_sweep

    t0 = time.perf_counter()
    res = run_sweep(SCALE, "local", workers=1, out=out, progress=False)
    seconds = time.perf_counter() - t0
    ok = list(res.variants["status"]) == ["ok"]
    sharpe = float(res.metrics.set_index("scenario").loc[PROBE, "sharpe"]) if ok else float("nan")
    return {"sweep_s": seconds, "ok": ok, "probe_sharpe": sharpe, "parent_peak_mib": C.peak_rss_mib(),
            "nc_mib": os.path.getsize(os.path.join(out, "result.nc")) / C.MIB if ok else float("nan"),
            "has_weights": bool(ok and "weights" in res.dataset)}


def child_dask(executor: str, workers: int, out: str) -> dict:
    """The small sweep twice through one executor; the merged numbers come back as files."""
    from simlab.lab.sweep import run_sweep

    out_info: dict = {"executor": executor}
    address = None
    cluster = None
    if executor == "dask":
        from distributed import LocalCluster

        from simlab.lab.executors import PRELOAD

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, preload=PRELOAD, silence_logs=40)
        address = cluster.scheduler_address
        out_info["cluster_start_s"] = time.perf_counter() - t0
    for n in (1, 2):
        t0 = time.perf_counter()
        res = run_sweep(SMALL, executor, address=address, workers=workers,
                        out=os.path.join(out, f"{executor}{n}"), progress=False)
        out_info[f"pass{n}_s"] = time.perf_counter() - t0
        out_info[f"pass{n}_ok"] = int((res.variants["status"] == "ok").sum())
    if cluster is not None:
        t0 = time.perf_counter()
        cluster.close()
        out_info["cluster_close_s"] = time.perf_counter() - t0
    out_info["variants"] = len(res.variants)
    return out_info


def run_child(*args: str) -> dict:
    """Run a child in a fresh interpreter and return the JSON it prints last."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the parent ---------------------------------------------------------------------------------


def part_scale(tmp: str) -> bool:
    r = run_child("scale")
    w = run_child("scale-sweep", os.path.join(tmp, "scale"))
    print(f"scale: {r['scenarios']} scenarios x 100 assets x 5040 days in one batch (fresh process)")
    print(f"  simlab.run        {r['run_s']:8.2f} s   (data, validation, signals, event loop)")
    print(f"  + res.nav         {r['nav_s']:8.2f} s")
    print(f"  + res.metrics()   {r['total_s']:8.2f} s   end to end")
    print(f"  peak memory       {r['peak_mib']:8.0f} MiB (process baseline {r['base_mib']:.0f} MiB)")
    same = w["ok"] and w["probe_sharpe"] == r["probe_sharpe"]
    print(f"  as a 1-variant sweep (local executor, 1 worker; variant folder, result.nc and metrics written): "
          f"{w['sweep_s']:.2f} s; result.nc {w['nc_mib']:.0f} MiB, weights "
          f"{'kept' if w['has_weights'] else 'left out (too large)'}; sweep parent peak {w['parent_peak_mib']:.0f} MiB; "
          f"same Sharpe as simlab.run: {same}")
    t_ok = r["total_s"] < TIME_TARGET_S
    m_ok = r["peak_mib"] < MEMORY_TARGET_MIB
    print(f"  target end to end < {TIME_TARGET_S:.0f} s: {'MET' if t_ok else 'MISSED'} ({r['total_s']:.1f} s)")
    print(f"  target peak memory < {MEMORY_TARGET_MIB:.0f} MiB: {'MET' if m_ok else 'MISSED'} ({r['peak_mib']:.0f} MiB)")
    return t_ok and m_ok and same


def part_dask(tmp: str, workers: int) -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("dask: skipped (pip install \"dask[distributed]\")")
        return True
    local = run_child("dask", "local", str(workers), tmp)
    dask = run_child("dask", "dask", str(workers), tmp)
    n = local["variants"]
    print(f"dask: {n} variants x 10 scenarios (30 assets x 1260 days), {workers} workers, each executor in a fresh process")
    print(f"  dask LocalCluster start {dask['cluster_start_s']:6.2f} s (workers import simlab), close {dask['cluster_close_s']:.2f} s")
    for p, what in ((1, "cold workers"), (2, "warm workers")):
        lo, da = local[f"pass{p}_s"], dask[f"pass{p}_s"]
        print(f"  pass {p} ({what}): local {lo:6.2f} s, dask {da:6.2f} s, overhead {da - lo:+6.2f} s "
              f"({(da - lo) / n * 1000:+.0f} ms per variant, x{da / lo:.2f})")
    same = _same_numbers(os.path.join(tmp, "local1"), os.path.join(tmp, "dask1"))
    print(f"  dask numbers identical to local processes: {'MET' if same else 'MISSED'}")
    return same and local["pass1_ok"] == dask["pass1_ok"] == n


def _same_numbers(a: str, b: str) -> bool:
    import xarray as xr

    from simlab.lab.sweep import load_sweep

    da, db = load_sweep(a).dataset, load_sweep(b).dataset
    try:
        for name in ("nav", "returns", "metrics"):
            xr.testing.assert_identical(da[name], db[name])
    except AssertionError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["scale", "dask", "all"], default="all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, *rest = args.child
        if name == "scale":
            out = child_scale()
        elif name == "scale-sweep":
            out = child_scale_sweep(rest[0])
        else:
            out = child_dask(rest[0], int(rest[1]), rest[2])
        print(json.dumps(out))
        return 0
    print(f"machine: {C.machine()}; load average {C.load_average()}; {C.today()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in C.versions().items() if k != "vectorbt"))
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        if args.part in ("scale", "all"):
            ok &= part_scale(tmp)
        if args.part in ("dask", "all"):
            ok &= part_dask(tmp, args.workers)
    print(f"load average after: {C.load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
