"""Covariance and the batched QP on a GPU (cupy) against the CPU kernels (numba), with ratios.

    python benchmarks/bench_gpu.py                         # N = 500 and 2,000, 240 rebalances
    python benchmarks/bench_gpu.py --sizes 500 --repeat 5
    python benchmarks/bench_gpu.py --device numpy --sizes 40 --rebalances 6   # dry run, no GPU

Needs cupy and a CUDA device (``pip install "simlab[gpu]"``); without them it stops at once
with exit status 2 and says what is missing. ``--device numpy`` runs the very same code
with numpy in cupy's place (simlab's array-namespace twins of the kernels), to try the
script on a machine without a GPU; its figures are no GPU figures.

The data: ``--rebalances`` month-end rebalances (every 21 days) of a synthetic market
(``simlab.data.generate_market``, seed 0) with a ``--window``-day trailing window (252).

- **covariance**: ``covariance_batch`` at every rebalance, ``--estimator`` (``sample``,
  ``ewma`` with a 20-day half-life, or ``ledoit_wolf``), on the CPU (``backend="numba"``)
  and on the device (``backend="cupy"``), each from the host returns to the host result
  (transfers included). Checked: the largest difference over the largest value, at most 1e-10.
- **QP**: minimum variance (the annualized covariances), long-only, box [0, 0.1], budget 1,
  10 sector caps of 0.2 (round robin), all rebalances as one batch: ``solve_qp`` with
  ``backend="numba"`` (one thread, and ``--threads`` threads) and with ``backend="cupy"``,
  cold starts, host arrays in and out. The device solves ``--qp-batch`` problems per call
  (default: as many as fit 2 GiB of covariances: all 240 at N=500, 67 at N=2,000). Checked:
  the same statuses, and objectives within 1e-6 relative where both solved.
  ``--cpu-rebalances K`` times the CPU QP on the first K rebalances only and scales its
  time to all of them (the CPU needs minutes at N=2,000); the output marks it.

Each time is the best of ``--repeat`` runs after one untimed warm-up (numba's kernels
loaded from its cache, cupy's kernels compiled and its memory pool filled); the warm-up
times are printed too. Ratios are CPU time over device time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

STEP, N_SECTORS, BOX, CAP, HALFLIFE = 21, 10, 0.1, 0.2, 20.0
COV_TOL, OBJ_TOL = 1e-10, 1e-6
BATCH_BYTES = 2 * 2**30
ESTIMATORS = ("sample", "ewma", "ledoit_wolf")
REFUSED = 2  # exit status without a usable device


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (module docstring); raises SystemExit on a bad value."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000], help="numbers of assets")
    parser.add_argument("--rebalances", type=int, default=240)
    parser.add_argument("--window", type=int, default=252)
    parser.add_argument("--estimator", choices=ESTIMATORS, default="sample")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads of the QP")
    parser.add_argument("--qp-batch", type=int, default=0, help="problems per device QP call (0: auto)")
    parser.add_argument("--cpu-rebalances", type=int, default=0,
                        help="time the CPU QP on the first K rebalances and scale (0: all)")
    parser.add_argument("--parts", nargs="+", choices=("covariance", "qp"), default=["covariance", "qp"])
    parser.add_argument("--device", choices=("cupy", "numpy"), default="cupy",
                        help="cupy (the GPU), or numpy for a dry run of the same code on the CPU")
    args = parser.parse_args(argv)
    for name in ("rebalances", "repeat", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; got {getattr(args, name)}")
    if min(args.sizes) < N_SECTORS:
        parser.error(f"--sizes must be at least {N_SECTORS} (one asset per sector); got {args.sizes}")
    if args.window < 2:
        parser.error(f"--window must be at least 2; got {args.window}")
    if args.qp_batch < 0 or args.cpu_rebalances < 0:
        parser.error("--qp-batch and --cpu-rebalances must be 0 or more")
    return args


def device_problem(device: str) -> str:
    """Why ``device`` cannot run here, or ``""``: numpy always runs; cupy needs a CUDA device."""
    if device == "numpy":
        return ""
    from simlab.kernels._support import gpu_problem

    return gpu_problem()


def refusal(problem: str) -> str:
    """The message printed when no device is usable."""
    return (f"bench_gpu: no GPU run possible: {problem}.\n"
            "  On a machine with an NVIDIA GPU and CUDA 12: pip install \"simlab[gpu]\" (cupy-cuda12x),"
            " then run this command again.\n"
            "  To try the script here without a GPU: --device numpy (its figures are not GPU figures).")


def qp_batch_size(n: int, requested: int, k: int) -> int:
    """Problems per device QP call: ``requested``, or as many (N, N) covariances as fit BATCH_BYTES."""
    size = requested or max(1, BATCH_BYTES // (8 * n * n))
    return max(1, min(size, k))


def market(n: int, rebalances: int, window: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns (T, N) and the rebalance rows (R,), each with a full window before it."""
    from simlab.data import generate_market

    n_days = window + STEP * (rebalances - 1) + 1
    md = generate_market(n_assets=n, n_days=n_days, seed=seed)
    returns = np.ascontiguousarray(md.returns(), dtype=np.float64)
    rows = window + STEP * np.arange(rebalances)
    return returns, rows


def sectors(n: int) -> np.ndarray:
    """(10, N) round-robin sector rows."""
    G = np.zeros((N_SECTORS, n))
    G[np.arange(n) % N_SECTORS, np.arange(n)] = 1.0
    return G


def cov_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference over the largest value (NaN where both are NaN counts as equal)."""
    same_nan = np.isnan(a) == np.isnan(b)
    if not same_nan.all():
        return np.inf
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    scale = max(float(np.abs(a).max()), 1e-300)
    return float(np.abs(a - b).max()) / scale


def objective_gap(cov: np.ndarray, w_a: np.ndarray, w_b: np.ndarray, both: np.ndarray) -> float:
    """Largest relative difference of ``0.5 w'Σw`` between two solutions, over the rows ``both``."""
    if not both.any():
        return 0.0
    f_a = 0.5 * np.einsum("ki,kij,kj->k", w_a[both], cov[both], w_a[both])
    f_b = 0.5 * np.einsum("ki,kij,kj->k", w_b[both], cov[both], w_b[both])
    return float(np.max(np.abs(f_a - f_b) / np.maximum(np.abs(f_b), 1e-300)))


def synchronize(device: str) -> None:
    """Wait for the device's queued work (a no-op for numpy)."""
    if device == "cupy":
        import cupy

        cupy.cuda.Device().synchronize()


def timed_best(fn, repeat: int, device: str) -> tuple[float, float, object]:
    """(warm-up seconds, best of ``repeat`` seconds, last result) of ``fn()``."""
    t0 = time.perf_counter()
    out = fn()
    synchronize(device)
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return first, best, out


@dataclass
class Row:
    """One line of the report."""

    n: int
    part: str
    cpu: str
    cpu_s: float
    dev_s: float
    dev_first_s: float
    check: str
    ok: bool
    scaled: bool = False

    def line(self) -> str:
        ratio = self.cpu_s / self.dev_s if self.dev_s > 0 else np.inf
        mark = " *" if self.scaled else ""
        return (f"{self.n:>6} {self.part:<11} {self.cpu:<22} {self.cpu_s:10.4f}{mark:2} {self.dev_s:10.4f}"
                f" {self.dev_first_s:10.4f} {ratio:8.1f}x  {self.check}{'' if self.ok else '  FAILED'}")


HEADER = (f"{'N':>6} {'part':<11} {'CPU kernel':<22} {'CPU s':>10}   {'device s':>10} {'dev 1st s':>10}"
          f" {'CPU/dev':>9}  check")


def covariance_rows(returns, rows, args) -> list[Row]:
    """The covariance part for one N."""
    from simlab.kernels.dispatch import covariance_batch

    halflife = HALFLIFE if args.estimator == "ewma" else None
    kw = {"estimator": args.estimator, "window": args.window, "halflife": halflife}
    _, t_cpu, (cpu, _) = timed_best(lambda: covariance_batch(returns, rows, backend="numba", **kw), args.repeat, "numpy")
    first, t_dev, (dev, _) = timed_best(lambda: covariance_batch(returns, rows, backend=args.device, **kw),
                                        args.repeat, args.device)
    err = cov_error(dev.cov, cpu.cov)
    return [Row(returns.shape[1], "covariance", f"{args.estimator}, numba", t_cpu, t_dev, first,
                f"max error {err:.1e} (tol {COV_TOL:.0e})", err <= COV_TOL)]


def qp_rows(returns, rows, args) -> list[Row]:
    """The QP part for one N: the annualized sample covariances, one batch."""
    from simlab.kernels.dispatch import covariance_batch
    from simlab.kernels.qp_solve import solve_qp

    n = returns.shape[1]
    batch, _ = covariance_batch(returns, rows, estimator="sample", window=args.window, backend="numba")
    cov = batch.cov * 252.0
    kw = {"lo": 0.0, "hi": BOX, "budget": 1.0, "G": sectors(n), "g": CAP}
    k_cpu = min(args.cpu_rebalances or len(cov), len(cov))
    scale = len(cov) / k_cpu
    size = qp_batch_size(n, args.qp_batch, len(cov))

    def on_device():
        parts = [solve_qp(cov[i:i + size], backend=args.device, **kw) for i in range(0, len(cov), size)]
        return np.concatenate([p.w for p in parts]), np.concatenate([p.status for p in parts])

    first, t_dev, (w_dev, st_dev) = timed_best(on_device, args.repeat, args.device)
    out = []
    for threads in sorted({1, args.threads}):
        _, t_cpu, res = timed_best(lambda: solve_qp(cov[:k_cpu], threads=threads, **kw), args.repeat, "numpy")
        both = (res.status == 0) & (st_dev[:k_cpu] == 0)
        gap = objective_gap(cov[:k_cpu], w_dev[:k_cpu], res.w, both)
        same = bool((res.status == st_dev[:k_cpu]).all())
        check = f"statuses {'equal' if same else 'DIFFER'}, objective gap {gap:.1e} (tol {OBJ_TOL:.0e})"
        out.append(Row(n, "qp", f"ADMM, numba, {threads} thr", t_cpu * scale, t_dev, first, check,
                       same and gap <= OBJ_TOL, scaled=scale > 1))
    return out


def run(args) -> list[Row]:
    """Every part at every size; prints each line as it is measured."""
    print(HEADER)
    report = []
    for n in args.sizes:
        returns, rows = market(n, args.rebalances, args.window)
        for part in args.parts:
            lines = covariance_rows(returns, rows, args) if part == "covariance" else qp_rows(returns, rows, args)
            for row in lines:
                print(row.line(), flush=True)
            report.extend(lines)
    return report


def main(argv=None) -> int:
    args = parse_args(argv)
    problem = device_problem(args.device)
    if problem:
        print(refusal(problem), file=sys.stderr)
        return REFUSED
    print(f"{C.machine()}; load average {C.load_average()}; device: {device_name(args.device)}")
    print(f"{args.rebalances} rebalances every {STEP} days, {args.window}-day windows; times in seconds for all"
          f" rebalances, best of {args.repeat}")
    if args.device == "numpy":
        print("DRY RUN: --device numpy runs the GPU code path on the CPU; these are not GPU figures")
    report = run(args)
    if any(r.scaled for r in report):
        print(f"* CPU QP timed on the first {args.cpu_rebalances} rebalances and scaled to {args.rebalances}")
    ok = all(r.ok for r in report)
    print("checks: " + ("all passed" if ok else "SOME FAILED"))
    return 0 if ok else 1


def device_name(device: str) -> str:
    """The device's name, for the report."""
    if device == "numpy":
        return "numpy on the CPU (dry run)"
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return f"{name}, {props['totalGlobalMem'] / 2**30:.0f} GiB, cupy {cupy.__version__}"


if __name__ == "__main__":
    sys.exit(main())
