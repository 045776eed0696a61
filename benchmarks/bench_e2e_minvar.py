"""End to end: daily-rebalanced minimum variance with a turnover penalty, native vs cvxpy.

    python benchmarks/bench_e2e_minvar.py [--assets 500] [--days 5040] [--cvxpy-every 100] [--cvxpy-days 0]
                                          [--solver active_set|native] [--covariance rolling|exact]

One ``simlab.run`` of a synthetic market (``--assets`` x ``--days``, 20 years by default),
rebalanced every day (about 4,800 rebalances after the 252-day warm-up) with
``min_variance`` (Ledoit-Wolf over 252 days, long-only, 10% cap, turnover penalty 0.001,
5 bps, fills one day later), through simlab's native solvers: by default ``solver:
active_set`` (the primal active-set kernel started from the current book, the batched ADMM
kernel for what it does not finish), with ``--solver native`` the ADMM kernel alone
(warm-started from the previous day). The covariance's window sums are carried forward a
day at a time by default (``rolling_covariance: true``: the exact estimate to rounding);
``--covariance exact`` sums each window exactly (the Step's default). The run is timed end to end from the config and the loaded data to
``res.nav`` (covariances, solves, fills, accounting, the result), with its peak memory.

cvxpy cannot solve thousands of 500-asset problems in reasonable time, so it is timed on a
documented subset of the **same problems**: every ``--cvxpy-every``-th rebalance's QP, as the
native run posed it (covariance, bounds, the book it starts from), is captured and solved
again by simlab's cvxpy/Clarabel solver and by the run's first native solver (from a cold
start, the same inputs); the largest weight difference is printed. The full cvxpy run is then
**extrapolated**: the native run's time, less its own time in the solver over all
rebalances, plus cvxpy's mean time per captured problem times the number of rebalances.
The output says so. ``--cvxpy-days K`` also runs the configuration with ``solver: cvxpy``
end to end on the last K days (a different path: that run starts from cash) and prints its
time per rebalance as a cross-check.

Target: the extrapolated cvxpy run at least 60 times the native one (MET/MISSED).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

import simlab  # noqa: E402
from simlab.data import generate_market  # noqa: E402
from simlab.lab import run as lab_run  # noqa: E402
from simlab.portfolio import solvers  # noqa: E402

TARGET_RATIO = 60.0
CHAINS = {"native": (solvers.NATIVE,), "active_set": (solvers.ACTIVE_SET, solvers.NATIVE)}


def config(solver: str, start: str | None, rolling: bool = False) -> dict:
    """The experiment, on the solver given, simulating from ``start``."""
    return {
        "name": f"minvar_daily_{solver}",
        "data": {"source": "synthetic", "benchmark": None, "start": start},
        "schedule": {"frequency": "daily"},
        "execution": {"lag": 1},
        "costs": {"type": "flat", "bps": 5},
        "pipeline": [{"type": "min_variance", "estimator": "ledoit_wolf", "window": 252, "max_weight": 0.10,
                      "turnover_penalty": 0.001, "solver": solver, "rolling_covariance": rolling}],
    }


def timed_run(cfg: dict, md) -> tuple[float, simlab.Result]:
    """Seconds for one run on preloaded data (data generation not timed)."""
    original = lab_run.load
    lab_run.load = lambda *a, **k: md
    try:
        t0 = time.perf_counter()
        res = simlab.run(cfg)
        res.nav  # noqa: B018 - force the table
        return time.perf_counter() - t0, res
    finally:
        lab_run.load = original


class SolveRecorder:
    """Wraps the native solvers: times every call and keeps every ``every``-th problem the
    first solver of the chain is given."""

    def __init__(self, every: int, solver: str):
        self.every, self.calls, self.seconds, self.problems = every, 0, 0.0, []
        self.classes = [type(s) for s in CHAINS[solver]]
        self.originals = [c.solve for c in self.classes]

    def __enter__(self):
        recorder = self
        for depth, (cls, original) in enumerate(zip(self.classes, self.originals)):

            def solve(solver, problem, rows, *memory, _original=original, _first=depth == 0):
                t0 = time.perf_counter()
                out = _original(solver, problem, rows, *memory)
                recorder.seconds += time.perf_counter() - t0
                if _first:
                    if recorder.every and recorder.calls % recorder.every == 0:
                        recorder.problems.append((problem, rows, out[0]))
                    recorder.calls += 1
                return out

            cls.solve = solve
        return self

    def __exit__(self, *exc):
        for cls, original in zip(self.classes, self.originals):
            cls.solve = original


def resolve_subset(problems, native) -> dict:
    """cvxpy/Clarabel and the ``native`` solver (cold) on the captured problems, after one
    untimed solve each (cvxpy builds its problem template on its first call)."""
    t_cvx = t_nat = 0.0
    dw_run = dw_cold = gap = 0.0
    if problems:
        solvers.CVXPY.solve(*problems[0][:2])
        native.solve(*problems[0][:2])
    for problem, rows, w_run in problems:
        t0 = time.perf_counter()
        w_cvx, status = solvers.CVXPY.solve(problem, rows)
        t_cvx += time.perf_counter() - t0
        t0 = time.perf_counter()
        w_nat, _ = native.solve(problem, rows)
        t_nat += time.perf_counter() - t0
        ok = np.isin(status, solvers.ACCEPTED)
        if ok.any():
            dw_run = max(dw_run, float(np.abs(w_cvx[ok] - w_run[ok]).max()))
            dw_cold = max(dw_cold, float(np.abs(w_cvx[ok] - w_nat[ok]).max()))
            f_cvx, f_run = objective(problem, rows[ok], w_cvx[ok]), objective(problem, rows[ok], w_run[ok])
            gap = max(gap, float(np.max((f_run - f_cvx) / np.abs(f_cvx))))
    n = max(len(problems), 1)
    return {"n": len(problems), "cvx_s": t_cvx / n, "native_cold_s": t_nat / n, "dw_run": dw_run,
            "dw_cold": dw_cold, "gap": gap}


def objective(problem, rows, w) -> np.ndarray:
    """``risk_aversion / 2 w'Σw + kappa |w - w0|_1`` of the rows' weights."""
    quad = np.einsum("bi,bij,bj->b", w, problem.cov[rows], w)
    l1 = np.abs(w - problem.w0[rows]).sum(axis=1)
    return 0.5 * problem.risk_aversion[rows] * quad + problem.turnover[rows] * l1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--days", type=int, default=5040)
    parser.add_argument("--cvxpy-every", type=int, default=100,
                        help="time cvxpy on every k-th rebalance's problem (default 100)")
    parser.add_argument("--solver", choices=sorted(CHAINS), default="active_set",
                        help="the native chain: active_set (then the ADMM kernel) or native (ADMM only)")
    parser.add_argument("--covariance", choices=("rolling", "exact"), default="rolling",
                        help="rolling (rolling_covariance: true, the default here) or exact (the Step's default)")
    parser.add_argument("--cvxpy-days", type=int, default=0,
                        help="also run solver: cvxpy end to end on the last K days (default 0: no)")
    args = parser.parse_args()
    print(f"{C.machine()}; {C.load_average()}")
    md = generate_market(args.assets, args.days, seed=7)
    start = str(md.dates[252].date())
    rolling = args.covariance == "rolling"
    timed_run(config(args.solver, str(md.dates[-5].date()), rolling), md)  # compile and load the kernels
    base = C.rss_mib()
    with SolveRecorder(args.cvxpy_every, args.solver) as rec:
        t_native, native = timed_run(config(args.solver, start, rolling), md)
    peak = C.peak_rss_mib()
    n_reb = rec.calls
    solved_by = {}
    for solver in CHAINS[args.solver]:
        attempts = native.diagnostics.query(f"key == 'attempt.{solver.name}'").value
        solved_by[solver.name] = int((attempts == solvers.SOLVED).sum())
    level = native.diagnostics.query("key == 'fallback_level'").value
    solved = int((level == solvers.LEVEL_SOLVED).sum())
    sub = resolve_subset(rec.problems, CHAINS[args.solver][0])
    t_cvx_full = t_native - rec.seconds + sub["cvx_s"] * n_reb
    ratio = t_cvx_full / t_native
    sums = "rolling window sums" if rolling else "each window summed exactly"
    print(f"{args.assets} assets x {args.days} days, daily min-variance with turnover penalty, {n_reb} rebalances"
          f" (covariance: {sums})")
    print(f"  native ({args.solver}), end to end: {t_native:8.2f} s = {t_native / n_reb * 1e3:.2f} ms a rebalance"
          f" (of which the solver {rec.seconds / n_reb * 1e3:.2f} ms); solved {solved}/{len(level)}"
          f" ({', '.join(f'{k} {v}' for k, v in solved_by.items())});"
          f" peak memory {peak:.0f} MiB (baseline {base:.0f})")
    print(f"  same problems, every {args.cvxpy_every}th rebalance ({sub['n']} of them):"
          f" cvxpy/Clarabel {sub['cvx_s'] * 1e3:.1f} ms, {args.solver} cold {sub['native_cold_s'] * 1e3:.2f} ms each;"
          f" largest weight difference {sub['dw_run']:.1e} (warm-started run), {sub['dw_cold']:.1e} (cold);"
          f" objective of the run's weights above cvxpy's by at most {sub['gap']:.1e} (relative)")
    print(f"  cvxpy, full run:      {t_cvx_full:8.1f} s  EXTRAPOLATED from those {sub['n']} problems"
          f" (native time less its solver time, plus {n_reb} x cvxpy's mean)")
    if args.cvxpy_days:
        t_cvx, cvx = timed_run(config("cvxpy", str(md.dates[-args.cvxpy_days].date())), md)
        n_cvx = cvx.diagnostics.query("key == 'attempt.cvxpy'").date.nunique()
        print(f"  cross-check, solver: cvxpy end to end on the last {args.cvxpy_days} days:"
              f" {t_cvx:.1f} s = {t_cvx / n_cvx * 1e3:.1f} ms a rebalance")
    verdict = "MET" if ratio >= TARGET_RATIO else "MISSED"
    print(f"  ratio cvxpy/native: {ratio:.1f}x (target {TARGET_RATIO:.0f}x: {verdict})")


if __name__ == "__main__":
    main()
