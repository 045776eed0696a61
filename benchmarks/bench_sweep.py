"""Sweeps at scale: 1,000 scenarios in one batch, and the Dask executor against local processes.

    python benchmarks/bench_sweep.py [--part scale|dask|sweep10k|all] [--workers 2]

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
       the local executor and the Dask executor (a LocalCluster), the same number of
       workers, each in its own fresh process. Each executor is started once and kept open
       for two passes into new folders: pass 1 meets cold workers (a fork server importing
       simlab, or Dask workers doing so at start; numba kernels loaded on first use), pass 2
       warm ones. Printed: start, both passes and close for each; the overhead of Dask for
       one ``simlab sweep`` (start + pass 1 + close, what the command does) and with warm
       executors (pass 2, also per variant); and whether the two give identical numbers
       (nav, returns, metrics).

sweep10k  10,000 scenarios through ``simlab sweep`` on Dask: the scale experiment's 1,000-scenario
       grid crossed with a ``sweep:`` over ``data.seed`` 1..10 (ten synthetic markets of 100
       assets x 5040 days: ten variants, each one batch, one task), on a ``LocalCluster`` of
       ``--workers`` single-threaded workers with a 2 GB memory limit each (Dask restarts a
       worker past 95% of it, which fails its variant). Timed in a fresh process from the
       config to the merged result on disk: cluster start, the variants, the merge
       (``result.nc``, the metrics table), the close. Printed: each part, the seconds and CPU
       seconds of the variants (from the variants' ``run.json``), the CPU seconds of the
       workers and of the sweep's parent, each worker's peak memory after each of its
       variants in order, the size of ``result.nc``. Targets: within 60 s, at most 2 GB per
       worker, every variant ``ok``.

Every figure is one run on whatever machine this is; a shared machine is noisy, so the
1-minute load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C

TIME_TARGET_S = 60.0
MEMORY_TARGET_MIB = 2048.0
SWEEP10K_LIMIT = "2GB"  # Dask's memory limit per worker
SWEEP10K_TARGET_MIB = 2e9 / 2**20

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
    t0, cpu0 = time.perf_counter(), time.process_time()
    res = simlab.run(SCALE)
    t_run = time.perf_counter() - t0
    nav = res.nav
    t_nav = time.perf_counter() - t0
    metrics = res.metrics()
    t_total = time.perf_counter() - t0
    return {"base_mib": base, "run_s": t_run, "nav_s": t_nav, "total_s": t_total, "peak_mib": C.peak_rss_mib(),
            "cpu_s": time.process_time() - cpu0,
            "scenarios": nav.shape[1], "probe_sharpe": float(metrics.loc[PROBE, "sharpe"])}


def child_scale_sweep(out: str) -> dict:
    """The same experiment as a one-variant sweep on the local executor (one worker)."""
    from simlab.lab.sweep import run_sweep

    t0 = time.perf_counter()
    res = run_sweep(SCALE, "local", workers=1, out=out, progress=False)
    seconds = time.perf_counter() - t0
    ok = list(res.variants["status"]) == ["ok"]
    sharpe = float(res.metrics.set_index("scenario").loc[PROBE, "sharpe"]) if ok else float("nan")
    record = json.loads((res.folder / res.variants.loc[0, "folder"] / "run.json").read_text()) if ok else {}
    return {"sweep_s": seconds, "ok": ok, "probe_sharpe": sharpe, "parent_peak_mib": C.peak_rss_mib(),
            "worker_peak_mib": record.get("worker_peak_rss_mib") or float("nan"),
            "nc_mib": os.path.getsize(os.path.join(out, "result.nc")) / C.MIB if ok else float("nan"),
            "has_weights": bool(ok and "weights" in res.dataset)}


def child_dask(executor: str, workers: int, out: str) -> dict:
    """The small sweep twice through one executor kept open: cold workers, then warm ones."""
    from simlab.lab.executors import make_executor
    from simlab.lab.sweep import run_sweep

    info: dict = {"executor": executor}
    t0 = time.perf_counter()
    ex = make_executor(executor, workers=workers)
    with ex:
        info["start_s"] = time.perf_counter() - t0
        for n in (1, 2):
            t1 = time.perf_counter()
            res = run_sweep(SMALL, ex, out=os.path.join(out, f"{executor}{n}"), progress=False)
            info[f"pass{n}_s"] = time.perf_counter() - t1
            info[f"pass{n}_ok"] = int((res.variants["status"] == "ok").sum())
        t2 = time.perf_counter()
    info["close_s"] = time.perf_counter() - t2
    info["variants"] = len(res.variants)
    return info


def child_sweep10k(workers: int, out: str) -> dict:
    """The 10,000-scenario sweep on a Dask LocalCluster with 2 GB per worker."""
    import resource

    from simlab.lab import sweep
    from simlab.lab.executors import DaskExecutor

    merge = sweep.merge_variants
    merge_s = []

    def timed_merge(*args, **kwargs):
        t = time.perf_counter()
        try:
            return merge(*args, **kwargs)
        finally:
            merge_s.append(time.perf_counter() - t)

    sweep.merge_variants = timed_merge
    cfg = {**SCALE, "name": "bench_sweep_10k", "sweep": {"data.seed": list(range(1, 11))}}
    t0 = time.perf_counter()
    ex = DaskExecutor(workers=workers, memory_limit=SWEEP10K_LIMIT)
    with ex:
        t1 = time.perf_counter()
        res = sweep.run_sweep(cfg, ex, out=out, progress=False)
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    ok = res.variants["status"] == "ok"
    runs = [json.loads((res.folder / folder / "run.json").read_text()) for folder in res.variants.loc[ok, "folder"]]
    by_worker: dict = {}
    for run in sorted(runs, key=lambda r: r.get("created", "")):
        by_worker.setdefault(run.get("worker_pid"), []).append(run.get("worker_peak_rss_mib") or float("nan"))
    peaks = [p for ps in by_worker.values() for p in ps]
    seconds = [float(v) for v in res.variants.loc[ok, "seconds"]]
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"start_s": t1 - t0, "sweep_s": t2 - t1, "close_s": t3 - t2, "total_s": t3 - t0,
            "merge_s": sum(merge_s), "variants": len(res.variants), "ok": int(ok.sum()),
            "scenarios": len(res.metrics), "variant_s": seconds,
            "variant_cpu_s": [float(r.get("cpu_seconds") or float("nan")) for r in runs],
            "parent_cpu_s": me.ru_utime + me.ru_stime, "workers_cpu_s": kids.ru_utime + kids.ru_stime,
            "peaks_by_worker": list(by_worker.values()), "worker_peak_mib": max(peaks) if peaks else float("nan"),
            "nc_mib": os.path.getsize(os.path.join(out, "result.nc")) / C.MIB if ok.any() else float("nan"),
            "errors": sorted({str(e) for e in res.variants["error"].dropna()})[:3]}


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
    print(f"  + res.metrics()   {r['total_s']:8.2f} s   end to end ({r['cpu_s']:.2f} s of CPU: what a quiet machine "
          "would take)")
    print(f"  peak memory       {r['peak_mib']:8.0f} MiB (process baseline {r['base_mib']:.0f} MiB)")
    same = w["ok"] and w["probe_sharpe"] == r["probe_sharpe"]
    print(f"  as a 1-variant sweep {w['sweep_s']:8.2f} s   (local executor, 1 worker started for it; "
          "variant folder, result.nc and metrics written)")
    print(f"    result.nc {w['nc_mib']:.0f} MiB, weights {'kept' if w['has_weights'] else 'left out (too large)'}; "
          f"peak memory: worker {w['worker_peak_mib']:.0f} MiB, sweep parent {w['parent_peak_mib']:.0f} MiB; "
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
    lo = run_child("dask", "local", str(workers), tmp)
    da = run_child("dask", "dask", str(workers), tmp)
    n = lo["variants"]
    print(f"dask: {n} variants x 10 scenarios (30 assets x 1260 days), {workers} workers; each executor in a fresh "
          "process, kept open for two passes")
    print(f"  start            local {lo['start_s']:6.2f} s, dask {da['start_s']:6.2f} s (LocalCluster; "
          "local processes start with the first pass)")
    print(f"  pass 1 (cold)    local {lo['pass1_s']:6.2f} s, dask {da['pass1_s']:6.2f} s")
    print(f"  pass 2 (warm)    local {lo['pass2_s']:6.2f} s, dask {da['pass2_s']:6.2f} s")
    print(f"  close            local {lo['close_s']:6.2f} s, dask {da['close_s']:6.2f} s")
    once_lo = lo["start_s"] + lo["pass1_s"] + lo["close_s"]
    once_da = da["start_s"] + da["pass1_s"] + da["close_s"]
    warm = da["pass2_s"] - lo["pass2_s"]
    print(f"  overhead of dask, one 'simlab sweep' (start + pass 1 + close): {once_da - once_lo:+.2f} s "
          f"(local {once_lo:.2f} s, dask {once_da:.2f} s, x{once_da / once_lo:.2f})")
    print(f"  overhead of dask, warm executors (pass 2): {warm:+.2f} s, {warm / n * 1000:+.0f} ms per variant "
          f"(x{da['pass2_s'] / lo['pass2_s']:.2f})")
    same = _same_numbers(os.path.join(tmp, "local1"), os.path.join(tmp, "dask1"))
    print(f"  dask numbers identical to local processes: {'MET' if same else 'MISSED'}")
    return same and lo["pass1_ok"] == da["pass1_ok"] == n


def part_sweep10k(tmp: str, workers: int) -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("sweep10k: skipped (pip install \"dask[distributed]\")")
        return True
    r = run_child("sweep10k", str(workers), os.path.join(tmp, "sweep10k"))
    print(f"sweep10k: {r['variants']} variants x 1,000 scenarios (100 assets x 5040 days) on a Dask LocalCluster, "
          f"{workers} workers, {SWEEP10K_LIMIT} each (fresh process)")
    print(f"  start {r['start_s']:.1f} s, variants and merge {r['sweep_s']:.1f} s, close {r['close_s']:.1f} s: "
          f"total {r['total_s']:.1f} s")
    print(f"  of which the merge in the parent (result.nc, metrics table) {r['merge_s']:.1f} s")
    if r["variant_s"]:
        print(f"  a variant in its worker: {min(r['variant_s']):.1f}-{max(r['variant_s']):.1f} s "
              f"(sum {sum(r['variant_s']):.1f} s over {workers} workers)")
    cpu = [c for c in r.get("variant_cpu_s", []) if not math.isnan(c)]
    if cpu:
        print(f"  CPU: a variant {min(cpu):.1f}-{max(cpu):.1f} s (sum {sum(cpu):.1f} s); workers in all "
              f"{r['workers_cpu_s']:.1f} s, the sweep's parent {r['parent_cpu_s']:.1f} s")
    for n, peaks in enumerate(r.get("peaks_by_worker", [])):
        print(f"  worker {n + 1}: peak memory after each of its variants "
              + ", ".join(f"{p:.0f}" for p in peaks) + " MiB")
    print(f"  variants ok {r['ok']}/{r['variants']}, {r['scenarios']} scenarios in the metrics table; "
          f"result.nc {r['nc_mib']:.0f} MiB; worker peak memory {r['worker_peak_mib']:.0f} MiB")
    for error in r["errors"]:
        print(f"  error: {error[:300]}")
    t_ok = r["total_s"] <= TIME_TARGET_S and r["ok"] == r["variants"]
    m_ok = r["worker_peak_mib"] <= SWEEP10K_TARGET_MIB and r["ok"] == r["variants"]
    print(f"  target within {TIME_TARGET_S:.0f} s: {'MET' if t_ok else 'MISSED'} ({r['total_s']:.1f} s)")
    print(f"  target at most 2 GB per worker: {'MET' if m_ok else 'MISSED'} ({r['worker_peak_mib']:.0f} MiB)")
    return t_ok and m_ok


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
    parser.add_argument("--part", choices=["scale", "dask", "sweep10k", "all"], default="all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, *rest = args.child
        if name == "scale":
            out = child_scale()
        elif name == "scale-sweep":
            out = child_scale_sweep(rest[0])
        elif name == "sweep10k":
            out = child_sweep10k(int(rest[0]), rest[1])
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
        if args.part in ("sweep10k", "all"):
            ok &= part_sweep10k(tmp, args.workers)
    print(f"load average after: {C.load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
