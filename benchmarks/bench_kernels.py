"""Kernel benchmarks against their peers, measured in the same run, ratios and targets printed.

    python benchmarks/bench_kernels.py [--section covariance|all] [--sizes 100,500]
                                       [--repeat 5] [--blas-threads N] [--pandas-full]

Each section is one function in :data:`SECTIONS` (name -> function taking the parsed
arguments); a new kernel family adds its own function and one entry there.

``covariance``: 240 month-end rebalances, a 252-day window, N assets (synthetic market,
``simlab.data.generate_market``):

- EWMA (halflife 20, pandas conventions) at every rebalance: pandas ``ewm().cov()`` on
  each window (a few rebalances timed and scaled to 240; at N > 100 on the first 100
  columns and scaled by (N/100)^2, the pairwise work, unless ``--pandas-full``), the same
  formula as one numpy/BLAS product per rebalance, and simlab's batched kernel
  (``simlab.kernels.dispatch.covariance_batch``, backend numba);
- Ledoit-Wolf (scikit-learn conventions) over the 240 windows: ``sklearn.covariance
  .LedoitWolf`` in a loop (a tenth of the windows timed, best of up to 3, scaled to 240)
  against simlab.

Parity is checked before anything is timed. Timings are the best of ``--repeat`` runs
(other jobs share the machine): wall-clock seconds, and the process CPU seconds beside
them. The machine's matrix-multiply rate is measured in the same run, and each target
prints MET or MISSED.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if "--blas-threads" in sys.argv[:-1]:  # BLAS reads these once, when numpy first loads
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = sys.argv[sys.argv.index("--blas-threads") + 1]

import numpy as np  # noqa: E402

N_REBALANCES = 240
WINDOW = 252
HALFLIFE = 20.0


# --------------------------------------------------------------------------- helpers


def best_time(fn, repeat: int) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds, last result) over ``repeat`` calls."""
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def matmul_gflops(repeat: int, n: int = 2048) -> float:
    """This machine's double-precision matrix-multiply rate, GFLOP/s (best of ``repeat``)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    wall, _, _ = best_time(lambda: a @ b, repeat)
    return 2.0 * n**3 / wall / 1e9


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def relative_error(actual, expected) -> float:
    actual, expected = np.asarray(actual), np.asarray(expected)
    return float(np.nanmax(np.abs(actual - expected)) / np.nanmax(np.abs(expected)))


def check_parity(name: str, err: float, tol: float = 1e-10) -> None:
    print(f"  parity {name}: max error / max |value| = {err:.1e} (tolerance {tol:.0e})")
    if not err <= tol:
        raise SystemExit(f"parity check failed for {name}: {err:.3e} > {tol:.0e}; nothing timed")


def month_end_market(n_assets: int):
    """(T, N) returns of a synthetic market and its last 240 month-end rows with a full window."""
    from simlab.data import generate_market

    md = generate_market(n_assets=n_assets, n_days=N_REBALANCES * 22 + WINDOW + 150, seed=0)
    x = md.returns().to_numpy()
    dates = md.dates
    month_end = np.r_[dates.month[1:] != dates.month[:-1], True]
    rows = np.nonzero(month_end)[0]
    rows = rows[rows >= WINDOW][-N_REBALANCES:]
    if len(rows) < N_REBALANCES:
        raise SystemExit(f"only {len(rows)} month ends with a full window")
    return x, rows


# --------------------------------------------------------------------------- covariance


def ewma_numpy_form(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The EWMA covariance as one weighted (W, N) BLAS product per rebalance, pandas' bias correction."""
    decay = np.exp(np.log(0.5) / HALFLIFE)
    w = decay ** np.arange(WINDOW - 1, -1, -1.0)
    s0, s0b = w.sum(), (w * w).sum()
    out = np.empty((len(rows), x.shape[1], x.shape[1]))
    for i, t in enumerate(rows):
        xw = x[t - WINDOW + 1:t + 1]
        xc = xw - w @ xw / s0
        out[i] = (xc * w[:, None]).T @ xc * (s0 / (s0 * s0 - s0b))
    return out


def ewma_pandas(x: np.ndarray, t: int) -> np.ndarray:
    import pandas as pd

    return pd.DataFrame(x[t - WINDOW + 1:t + 1]).ewm(halflife=HALFLIFE).cov().loc[WINDOW - 1].to_numpy()


def executed_gemm_flops(rows: np.ndarray, n_cols: int) -> float:
    """Flops the kernel's gemms execute: every swept row once per column block (upper part)."""
    from simlab.kernels.covariance import BLOCK

    swept = rows[-1] - (rows[0] - WINDOW + 1) + 1
    per_row = sum(2.0 * min(BLOCK, n_cols - j0) * (n_cols - j0) for j0 in range(0, n_cols, BLOCK))
    return swept * per_row


def bench_ewma(x, rows, args, matmul):
    from simlab.kernels.dispatch import covariance_batch

    n = x.shape[1]
    kernel = lambda: covariance_batch(x, rows, estimator="ewma", halflife=HALFLIFE, window=WINDOW,  # noqa: E731
                                      backend="numba")[0].cov
    ours = kernel()
    check_parity("EWMA kernel vs numpy/BLAS form", relative_error(ours, ewma_numpy_form(x, rows)))
    cols = n if (args.pandas_full or n <= 100) else 100
    check_parity("EWMA kernel vs pandas ewm().cov()",
                 relative_error(ours[-1][:cols, :cols], ewma_pandas(x[:, :cols], rows[-1])))

    n_pandas = 2 if cols <= 100 else 1
    pandas_wall, pandas_cpu, _ = best_time(lambda: [ewma_pandas(x[:, :cols], t) for t in rows[:n_pandas]], 1)
    scale = N_REBALANCES / n_pandas * (n / cols) ** 2
    pandas_wall, pandas_cpu = pandas_wall * scale, pandas_cpu * scale
    np_wall, np_cpu, _ = best_time(lambda: ewma_numpy_form(x, rows), args.repeat)
    k_wall, k_cpu, _ = best_time(kernel, args.repeat)

    formula = 2.0 * WINDOW * n * n * N_REBALANCES
    executed = executed_gemm_flops(rows, n)
    how = "timed" if scale == N_REBALANCES / n_pandas else f"{cols} columns, x{(n / cols) ** 2:.0f}"
    print(f"  pandas ewm().cov()      {pandas_wall:10.2f} s  ({pandas_wall / N_REBALANCES * 1e3:9.1f} ms/rebalance; "
          f"{n_pandas} rebalances {how}, scaled to {N_REBALANCES})")
    print(f"  numpy/BLAS form         {np_wall:10.4f} s  ({np_wall / N_REBALANCES * 1e3:9.3f} ms/rebalance; "
          f"CPU {np_cpu:.4f} s; {formula / np_wall / 1e9:.1f} GFLOP/s)")
    print(f"  simlab kernel           {k_wall:10.4f} s  ({k_wall / N_REBALANCES * 1e3:9.3f} ms/rebalance; "
          f"CPU {k_cpu:.4f} s)")
    print(f"  ratios: pandas / simlab {pandas_wall / k_wall:,.0f}x   numpy / simlab {np_wall / k_wall:.2f}x")
    effective = formula / k_wall / 1e9
    achieved = executed / k_wall / 1e9
    print(f"  GFLOP/s: matmul {matmul:.1f}; simlab effective {effective:.1f} (the formula's "
          f"{formula / 1e9:.1f} GFLOP / time); simlab executed {achieved:.1f} "
          f"({executed / 1e9:.2f} GFLOP of gemm actually run / time)")
    print(f"  target EWMA at least as fast as numpy/BLAS form: {verdict(k_wall <= np_wall)}")
    print(f"  target EWMA GFLOP/s >= half of matmul, effective: {verdict(effective >= matmul / 2)}")
    print(f"  target EWMA GFLOP/s >= half of matmul, executed:  {verdict(achieved >= matmul / 2)}")
    return {"pandas": pandas_wall, "numpy": np_wall, "kernel": k_wall, "effective": effective, "executed": achieved}


def bench_ledoit_wolf(x, rows, args):
    from sklearn.covariance import LedoitWolf

    from simlab.kernels.dispatch import covariance_batch

    kernel = lambda: covariance_batch(x, rows, estimator="ledoit_wolf", window=WINDOW,  # noqa: E731
                                      backend="numba")[0].cov
    ours = kernel()
    sample = rows[:: N_REBALANCES // 24]
    peers = [LedoitWolf().fit(x[t - WINDOW + 1:t + 1]).covariance_ for t in sample]
    picked = ours[:: N_REBALANCES // 24]
    check_parity("Ledoit-Wolf vs scikit-learn", max(relative_error(a, b) for a, b in zip(picked, peers, strict=True)))
    sk_wall, _, _ = best_time(lambda: [LedoitWolf().fit(x[t - WINDOW + 1:t + 1]) for t in sample],
                              min(args.repeat, 3))
    sk_wall *= N_REBALANCES / len(sample)
    k_wall, k_cpu, _ = best_time(kernel, args.repeat)
    print(f"  scikit-learn LedoitWolf {sk_wall:10.3f} s  ({sk_wall / N_REBALANCES * 1e3:9.2f} ms/rebalance; "
          f"{len(sample)} windows timed, scaled to {N_REBALANCES})")
    print(f"  simlab ledoit_wolf      {k_wall:10.4f} s  ({k_wall / N_REBALANCES * 1e3:9.3f} ms/rebalance; "
          f"CPU {k_cpu:.4f} s)")
    print(f"  target Ledoit-Wolf >= 20x scikit-learn: {sk_wall / k_wall:.0f}x {verdict(sk_wall / k_wall >= 20)}")
    return {"sklearn": sk_wall, "kernel": k_wall}


def bench_covariance(args) -> dict:
    """EWMA and Ledoit-Wolf covariance over 240 month-end rebalances (module docstring)."""
    from simlab.kernels.dispatch import covariance_batch

    matmul = matmul_gflops(args.repeat)
    print(f"covariance: {N_REBALANCES} month-end rebalances, {WINDOW}-day window, halflife {HALFLIFE:g}; "
          f"matmul {matmul:.1f} GFLOP/s")
    results = {}
    for n in args.sizes:
        x, rows = month_end_market(n)
        covariance_batch(x, rows[:2], estimator="ewma", halflife=HALFLIFE, backend="numba")  # load the JIT cache
        covariance_batch(x, rows[:2], estimator="ledoit_wolf", backend="numba")
        print(f"N={n}")
        results[n] = {"ewma": bench_ewma(x, rows, args, matmul), "ledoit_wolf": bench_ledoit_wolf(x, rows, args)}
    return results


SECTIONS = {"covariance": bench_covariance}


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", default="all", choices=["all", *SECTIONS])
    parser.add_argument("--sizes", default="100,500", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--repeat", default=5, type=int)
    parser.add_argument("--blas-threads", default=None, type=int,
                        help="BLAS threads (OPENBLAS/OMP/MKL_NUM_THREADS), set before numpy loads")
    parser.add_argument("--pandas-full", action="store_true", help="time pandas on all N columns (slow)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    import platform

    args = parse(argv)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; "
          f"BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    for name in SECTIONS if args.section == "all" else [args.section]:
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
