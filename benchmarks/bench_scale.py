"""The scale case: 3,000 assets x 7,560 days, monthly momentum top-300 into factor-model
minimum variance with sector caps, 20 scenarios in one batch; vectorbt on the slices it fits.

    python benchmarks/bench_scale.py                       # the full case, a few minutes
    python benchmarks/bench_scale.py --assets 500 --days 2520 --vbt-columns 250,500   # a quick look

Each tool runs in its own 'spawn' child, so a peak memory (VmHWM) is that tool's own.
See benchmarks/README.md ("Scale: 3,000 assets") for what is measured and the targets.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

SECTOR_CAPS = (0.15, 0.2, 0.25, 0.3)
COST_BPS = (0.0, 5.0, 10.0, 20.0, 40.0)
TOP_N = 300
INIT_CASH = 1_000_000.0
TARGET_SECONDS, TARGET_MIB = 120.0, 4096.0


def market(n_assets: int, n_days: int):
    """The synthetic market: 8 sectors, a calm/stress factor model, 40% late listings, 30% delistings."""
    from simlab.data.synthetic import generate_market

    return generate_market(n_assets=n_assets, n_days=n_days, seed=21, n_factors=4,
                           late_listing=0.4, delisting=0.3)


def config(n_factors: int) -> dict:
    """One experiment, 20 scenarios: ``sector_cap`` x ``costs.bps``."""
    return {
        "name": "scale_factor_min_variance",
        "data": {"benchmark": None},
        "schedule": {"frequency": "monthly", "day": "first"},
        "execution": {"lag": 1, "init_cash": INIT_CASH, "fractional": True, "min_trade_value": 0},
        "costs": {"type": "flat", "bps": 10},
        "strategy": {"type": "momentum", "lookback": 252, "skip": 21},
        "pipeline": [{"type": "factor_min_variance", "model": "pca", "n_factors": n_factors, "window": 252,
                      "top_n": TOP_N, "max_weight": 0.02, "sector_cap": 0.2, "solver": "native"}],
        "scenarios": {"grid": {"pipeline.0.sector_cap": list(SECTOR_CAPS), "costs.bps": list(COST_BPS)}},
    }


def simlab_child(n_assets: int, n_days: int, n_factors: int) -> dict:
    """Generate the market, run the batch once (numba kernels from their cache), check it."""
    gen_s, md = C.timed(market, n_assets, n_days)
    base = C.rss_mib()
    run_s, res = C.timed(C.run_simlab, config(n_factors), md)
    peak = C.peak_rss_mib()
    diag = res.diagnostics
    level = diag[diag.key == "fallback_level"]
    n_active = diag[diag.key == "n_active"]
    return {"gen_s": gen_s, "run_s": run_s, "base_mib": base, "peak_mib": peak,
            "decisions": len(level), "solved": int((level.value == 0).sum()),
            "no_history": int((n_active.value == 0).sum()),
            "max_sector_excess": sector_excess(diag)}


def sector_excess(diag) -> float:
    """Largest target sector weight above its cap over all decisions (<= 0 when every cap
    holds), from the Step's ``max_sector_weight`` diagnostic."""
    top = diag[diag.key == "max_sector_weight"]
    caps = dict(zip(top.scenario.unique(), np.repeat(SECTOR_CAPS, len(COST_BPS))))  # the grid's order
    return float((top.value - top.scenario.map(caps)).max())


def vbt_child(n_assets: int, n_days: int, n_columns: int) -> dict:
    """vectorbt on one scenario over the first ``n_columns`` assets of the same market:
    momentum top-300 targets (equal weight: vectorbt has no optimizer, so it gets the
    simpler targets), 10 bps fees; ``Portfolio.from_orders`` and the value, timed once."""
    import vectorbt as vbt

    close = market(n_assets, n_days).close.iloc[:, :n_columns]
    base = C.rss_mib()

    def run_once():
        values = close.to_numpy(dtype=np.float64)
        rows = np.flatnonzero(C.first_of_month(close.index))
        ranks = C.momentum_ranks(values, rows, 252, 21)
        targets = C.top_n_targets(ranks, TOP_N, rows, len(values))
        pf = vbt.Portfolio.from_orders(close, size=targets, size_type="targetpercent", group_by=True,
                                       cash_sharing=True, call_seq="auto", init_cash=INIT_CASH, fees=10e-4,
                                       freq="1D")
        return np.asarray(pf.value(), dtype=np.float64)

    seconds, _ = C.timed(run_once)
    return {"seconds": seconds, "base_mib": base, "peak_mib": C.peak_rss_mib()}


def in_child(fn, *args):
    """Run ``fn(*args)`` in a fresh 'spawn' process; a child killed (out of memory) raises."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def mark(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=3000)
    parser.add_argument("--days", type=int, default=7560)
    parser.add_argument("--factors", type=int, default=10, help="k of the PCA risk model")
    parser.add_argument("--vbt-columns", default="750,1500",
                        help="asset counts vectorbt runs one scenario on (comma-separated), each in its own child")
    parser.add_argument("--no-vbt", action="store_true")
    args = parser.parse_args(argv)
    n_scen = len(SECTOR_CAPS) * len(COST_BPS)
    print(f"scale case: {args.assets} assets x {args.days} days, monthly, momentum top-{TOP_N} -> "
          f"factor_min_variance (PCA, k={args.factors}, 252-day window) with sector caps, "
          f"{n_scen} scenarios in one batch")
    print(f"machine: {C.machine()}; load average before: {C.load_average()}; {C.versions()}", flush=True)
    sl = in_child(simlab_child, args.assets, args.days, args.factors)
    print(f"\nsimlab: market generated in {sl['gen_s']:.1f} s (not in the timing); simlab.run "
          f"{sl['run_s']:.1f} s; peak memory {sl['peak_mib']:,.0f} MiB (after generation {sl['base_mib']:,.0f})")
    print(f"  {sl['decisions']} decisions (rebalances x scenarios): {sl['solved']} solved by the factor QP, "
          f"{sl['no_history']} before any asset had a full window; largest target sector weight minus "
          f"its cap: {sl['max_sector_excess']:+.2e}", flush=True)
    full = args.assets == 3000 and args.days == 7560
    what = "" if full else " (a smaller case: the targets are for 3,000 x 7,560)"
    print(f"  target <= {TARGET_SECONDS:.0f} s: {mark(sl['run_s'] <= TARGET_SECONDS)}{what}", flush=True)
    print(f"  target <= {TARGET_MIB:,.0f} MiB peak: {mark(sl['peak_mib'] <= TARGET_MIB)}{what}", flush=True)
    if not args.no_vbt:
        columns = n_scen * args.assets
        print(f"\nvectorbt, one scenario on the first N assets (same market, momentum top-{TOP_N} equal-weight "
              f"targets, 10 bps), extrapolated linearly to the batch's {columns:,} columns:", flush=True)
        for n in (int(v) for v in args.vbt_columns.split(",")):
            try:
                vb = in_child(vbt_child, args.assets, args.days, n)
            except Exception as err:  # noqa: BLE001 - a slice that does not fit is a figure too
                print(f"  {n:,} columns: failed ({type(err).__name__}: {err})", flush=True)
                continue
            extra = vb["peak_mib"] - vb["base_mib"]
            print(f"  {n:,} columns x {args.days:,} days: {vb['seconds']:.1f} s, peak {vb['peak_mib']:,.0f} MiB "
                  f"(base {vb['base_mib']:,.0f}); extrapolated to {columns:,} columns: "
                  f"{vb['seconds'] * columns / n:,.0f} s, {vb['base_mib'] + extra * columns / n:,.0f} MiB", flush=True)
    print(f"\nload average after: {C.load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    raise SystemExit(main())
