"""The simulator against vectorbt: the same backtests in both, in the same run.

    python benchmarks/bench_simulator.py [--case a|b|c|all] [--repeat 3] [--full]

Cases (monthly rebalancing on the first trading day of the month, fills at the decision
close (lag 0), fractional shares, 1,000,000 initial cash):

  a  20 real stocks (builtin:sp500_20), 1990-2022 (8313 days), equal weight, no costs
  b  500 synthetic assets, 5040 days (20 years), 12-1 momentum top 50 equally weighted, no costs
  c  100 synthetic assets, 5040 days, 200 scenarios in one batch: 12-1 momentum with
     top_n in 5, 10, .., 100 crossed with flat costs of 0, 1, .., 9 bps. vectorbt runs
     them as column groups (one group of 100 columns per scenario, fees per group); by
     default only 20 of them, and its time and memory are extrapolated linearly to 200
     (a full run takes over a minute and more than 10 GiB of RAM); --full runs all 200.

Each tool runs in its own child process (multiprocessing, 'spawn'), so its peak resident
memory (VmHWM) is its own: interpreter, imports, data and the simulation. In a child, the
data are built first (not timed: synthetic generation, CSV parsing), then one first call
is timed (numba kernels loaded from their on-disk cache, or compiled if there is none),
then at least ``--repeat`` warm calls (more while they add up to less than a second, at
most 50), of which the best is reported. simlab is also run once in a
child with an empty numba cache directory, to show the cold compile cost.

What is timed: simlab, from the config dict and the loaded MarketData to ``res.nav``
(config validation, scenario expansion, signals, the event loop; ``res.weights`` and the
other lazy tables are never built). vectorbt, from the close prices to ``pf.value()``
(the momentum signal and target weights in numpy, the tiled close and fee arrays of
case c, ``Portfolio.from_orders`` and the value).

Both NAVs come back to the parent and are compared day by day. Without costs they agree
to about 1e-14; with costs they differ by design (vectorbt fills buys one after another until
the cash runs out, simlab scales all buys by one factor), ~1e-4 over 20 years.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

INIT_CASH = 1_000_000.0
SCHEDULE = {"frequency": "monthly", "day": "first"}
EXECUTION = {"lag": 0, "init_cash": INIT_CASH, "fractional": True}
MOMENTUM = {"type": "momentum", "lookback": 252, "skip": 21}
C_TOP_N = list(range(5, 101, 5))  # 20 values
C_BPS = list(range(10))  # 10 values: 200 scenarios
DEFAULT_VBT_SCENARIOS = 20
NO_FEE_RTOL = 1e-9
PER_REBALANCE_TARGET_S = 20e-6  # case a: marginal cost of one rebalance (weekly vs monthly)


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    config: dict
    target_ratio: float
    memory_limit_mib: float | None = None


def cases() -> dict[str, Case]:
    a = Case("a", "20 real stocks, 8313 days, equal weight", {
        "name": "bench_a",
        "data": {"source": "builtin:sp500_20", "benchmark": None},
        "schedule": SCHEDULE, "execution": EXECUTION,
        "pipeline": [{"type": "equal_weight"}],
    }, target_ratio=3.0)
    b = Case("b", "500 synthetic, 5040 days, momentum top 50", {
        "name": "bench_b",
        "data": {"source": "synthetic", "n_assets": 500, "n_days": 5040, "seed": 11, "benchmark": None},
        "schedule": SCHEDULE, "execution": EXECUTION, "strategy": MOMENTUM,
        "pipeline": [{"type": "equal_weight_top_n", "top_n": 50}],
    }, target_ratio=20.0)
    c = Case("c", "100 synthetic, 5040 days, 200 scenarios", {
        "name": "bench_c",
        "data": {"source": "synthetic", "n_assets": 100, "n_days": 5040, "seed": 12, "benchmark": None},
        "schedule": SCHEDULE, "execution": EXECUTION, "strategy": MOMENTUM,
        "costs": {"type": "flat", "bps": 0},
        "pipeline": [{"type": "equal_weight_top_n", "top_n": 5}],
        "scenarios": {"grid": {"pipeline.0.top_n": C_TOP_N, "costs.bps": C_BPS}},
    }, target_ratio=20.0, memory_limit_mib=500.0)
    return {"a": a, "b": b, "c": c}


def scenario_grid(case: Case) -> list[tuple[int, float]]:
    """(top_n, bps) of every scenario, in simlab's batch order (grid order: top_n, then bps)."""
    grid = case.config.get("scenarios", {}).get("grid")
    if not grid:
        top_n = case.config["pipeline"][0].get("top_n", 0)
        return [(top_n, float(case.config.get("costs", {}).get("bps", 0.0)))]
    return [(n, float(bps)) for n in grid["pipeline.0.top_n"] for bps in grid["costs.bps"]]


def vbt_subset(n_total: int, n_wanted: int) -> np.ndarray:
    """Scenario indices vectorbt runs: the first ``n_wanted`` of an order that covers every
    top_n early and cycles through the cost levels, so a subset still has fee-free scenarios.

    With 20 top_n x 10 bps, k = 20 q + r maps to top_n index r and bps index (r + q) % 10,
    a permutation of all 200.
    """
    n_top, n_bps = len(C_TOP_N), len(C_BPS)
    if n_total != n_top * n_bps:
        return np.arange(min(n_wanted, n_total))
    order = [(k % n_top) * n_bps + ((k % n_top) + k // n_top) % n_bps for k in range(n_total)]
    assert sorted(order) == list(range(n_total))
    return np.asarray(order[:n_wanted])


# --- children -----------------------------------------------------------------------------


def simlab_child(key: str, repeat: int, cold_cache: bool) -> dict:
    """Time simlab on case ``key`` in this (fresh) process; return times, memory and NAV."""
    if cold_cache:
        cache_dir = tempfile.mkdtemp(prefix="simlab-bench-numba-")
        os.environ["NUMBA_CACHE_DIR"] = cache_dir
    case = cases()[key]
    md = C.load_simlab_market(case.config)
    base = C.rss_mib()
    first, res = C.timed(C.run_simlab, case.config, md)
    out = {"first": first, "base_mib": base}
    if cold_cache:
        shutil.rmtree(cache_dir, ignore_errors=True)
        out["peak_mib"] = C.peak_rss_mib()
        return out
    nav = res.nav.to_numpy()
    del res
    warm = C.warm_times(lambda: C.run_simlab(case.config, md), repeat)
    out.update(warm=warm, peak_mib=C.peak_rss_mib(), nav=nav)
    if key == "a":
        out["per_rebalance"] = per_rebalance_seconds(case.config, md, repeat)
    # the timed path must be what the public API does
    import simlab

    public = simlab.run(case.config).nav.to_numpy()
    out["public_api_equal"] = bool(np.array_equal(public, nav, equal_nan=True))
    return out


def per_rebalance_seconds(config: dict, md, repeat: int) -> float:
    """Marginal seconds of one rebalance (decision, fill, records): the same run weekly and
    monthly, the difference in warm time over the difference in rebalances."""
    from simlab.portfolio.calendar import schedule_rows

    times, counts = [], []
    for frequency in ("monthly", "weekly"):
        cfg = {**config, "schedule": {**config["schedule"], "frequency": frequency}}
        times.append(min(C.warm_times(lambda: C.run_simlab(cfg, md), repeat)))
        counts.append(len(schedule_rows(md.dates, frequency, cfg["schedule"]["day"])))
    return (times[1] - times[0]) / (counts[1] - counts[0])


def vbt_child(key: str, repeat: int, scenarios: list[int]) -> dict:
    """Time vectorbt on case ``key`` (the given scenario indices); return times, memory, NAV."""
    import pandas as pd
    import vectorbt as vbt

    case = cases()[key]
    md = C.load_simlab_market(case.config)  # the same prices simlab sees
    close = md.close
    grid = scenario_grid(case)
    chosen = [grid[i] for i in scenarios]
    strategy = case.config.get("strategy")
    base = C.rss_mib()

    def run_once():
        values = close.to_numpy(dtype=np.float64)
        rebalance = C.first_of_month(close.index)
        if strategy is None:
            targets = [C.equal_weight_targets(values, rebalance)]
        else:
            rows = np.flatnonzero(rebalance)
            ranks = C.momentum_ranks(values, rows, strategy["lookback"], strategy["skip"])
            targets = [C.top_n_targets(ranks, top_n, rows, len(values)) for top_n, _ in chosen]
        n_groups, n_assets = len(chosen), values.shape[1]
        if n_groups == 1:
            prices, size, fees, group_by = close, targets[0], chosen[0][1] * 1e-4, True
        else:
            columns = pd.MultiIndex.from_product([range(n_groups), close.columns], names=["scenario", "asset"])
            prices = pd.DataFrame(np.tile(values, (1, n_groups)), index=close.index, columns=columns)
            size = np.concatenate(targets, axis=1)
            fees = np.repeat([bps * 1e-4 for _, bps in chosen], n_assets)[None, :]
            group_by = np.repeat(np.arange(n_groups), n_assets)
        pf = vbt.Portfolio.from_orders(
            prices, size=size, size_type="targetpercent", group_by=group_by, cash_sharing=True,
            call_seq="auto", init_cash=INIT_CASH, fees=fees, freq="1D",
        )
        value = pf.value()
        return np.asarray(value, dtype=np.float64).reshape(len(close), n_groups)

    first, nav = C.timed(run_once)
    warm = C.warm_times(run_once, repeat)
    return {"first": first, "warm": warm, "base_mib": base, "peak_mib": C.peak_rss_mib(), "nav": nav}


def in_child(fn, *args):
    """Run ``fn(*args)`` in a fresh 'spawn' process and return its result."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes=1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


# --- the parent ---------------------------------------------------------------------------


@dataclass
class Row:
    case: Case
    sl_warm: float
    sl_first: float
    sl_cold: float | None
    sl_peak: float
    vbt_warm: float
    vbt_first: float
    vbt_peak: float
    vbt_note: str
    nav_gap_nofee: float
    nav_gap_fee: float | None
    public_api_equal: bool
    sl_base: float
    vbt_base: float
    per_rebalance: float | None = None

    @property
    def ratio(self) -> float:
        return self.vbt_warm / self.sl_warm


def bench_case(case: Case, repeat: int, full: bool, n_vbt: int, cold: bool) -> Row:
    grid = scenario_grid(case)
    n_total = len(grid)
    subset = vbt_subset(n_total, n_total if full else min(n_vbt, n_total))
    print(f"[{case.key}] simlab ({n_total} scenario(s)) ...", flush=True)
    sl = in_child(simlab_child, case.key, repeat, False)
    sl_cold = in_child(simlab_child, case.key, repeat, True) if cold else None
    print(f"[{case.key}] vectorbt ({len(subset)} of {n_total} scenario(s)) ...", flush=True)
    vb = in_child(vbt_child, case.key, repeat, subset.tolist())

    ours = sl["nav"][:, subset]
    gap = np.abs(ours / vb["nav"] - 1.0)
    fee_free = np.array([grid[i][1] == 0.0 for i in subset])
    gap_nofee = float(gap[:, fee_free].max()) if fee_free.any() else float("nan")
    gap_fee = float(gap[:, ~fee_free].max()) if (~fee_free).any() else None

    scale = n_total / len(subset)
    vbt_warm = min(vb["warm"]) * scale
    # the first call's extra over a warm call (numba cache loading or compiling) does not
    # grow with the number of scenarios; only the warm part is scaled
    vbt_first = vb["first"] - min(vb["warm"]) + vbt_warm
    vbt_peak = vb["base_mib"] + (vb["peak_mib"] - vb["base_mib"]) * scale
    note = "" if scale == 1 else f"extrapolated from {len(subset)} scenarios"
    return Row(case, min(sl["warm"]), sl["first"], None if sl_cold is None else sl_cold["first"],
               sl["peak_mib"], vbt_warm, vbt_first, vbt_peak, note, gap_nofee, gap_fee,
               sl["public_api_equal"], sl["base_mib"], vb["base_mib"], sl.get("per_rebalance"))


def print_report(rows: list[Row], repeat: int, load: tuple[str, str]) -> None:
    v = C.versions()
    print()
    print(f"date {C.today()}; {C.machine()}; 1-min load average {load[0]} before, {load[1]} after")
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    print(f"times in seconds; warm = best of >= {repeat} calls (short ones repeated to fill 1 s); "
          "memory = peak RSS of the tool's own process (MiB)")
    print()
    header = (f"{'case':<44} {'simlab':>8} {'1st call':>8} {'cold':>6} {'vbt':>8} {'vbt 1st':>8} "
              f"{'vbt/simlab':>10} {'simlab MiB':>10} {'vbt MiB':>9} {'NAV gap':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        cold = "-" if r.sl_cold is None else f"{r.sl_cold:.2f}"
        mark = "*" if r.vbt_note else " "
        print(f"({r.case.key}) {r.case.title:<40} {r.sl_warm:8.3f} {r.sl_first:8.3f} {cold:>6} "
              f"{r.vbt_warm:7.2f}{mark} {r.vbt_first:7.2f}{mark} {r.ratio:9.1f}x{mark}"
              f"{r.sl_peak:10.0f} {r.vbt_peak:8.0f}{mark} {r.nav_gap_nofee:9.1e}")
    print()
    for r in rows:
        print(f"  ({r.case.key}) resident memory before the first call (interpreter, imports, data): "
              f"simlab {r.sl_base:.0f} MiB, vectorbt {r.vbt_base:.0f} MiB")
        if r.vbt_note:
            print(f"* ({r.case.key}) vectorbt {r.vbt_note}: time and memory above the baseline "
                  f"scaled linearly to {len(scenario_grid(r.case))} (--full runs them all)")
        if r.nav_gap_fee is not None:
            print(f"  ({r.case.key}) NAV gap above is over the fee-free scenarios; with 1-9 bps fees "
                  f"it is {r.nav_gap_fee:.1e} (by design: vectorbt fills buys in order until the cash "
                  f"runs out, simlab scales all buys by one factor)")
        if not r.public_api_equal:
            print(f"  ({r.case.key}) WARNING: simlab.run(cfg).nav differs from the timed path")
    print()
    print("targets:")
    for r in rows:
        checks = [(f"vectorbt/simlab >= {r.case.target_ratio:g}x", r.ratio >= r.case.target_ratio,
                   f"{r.ratio:.1f}x")]
        if r.per_rebalance is not None:
            checks.append((f"simlab per-rebalance overhead < {PER_REBALANCE_TARGET_S * 1e6:g} us",
                           r.per_rebalance < PER_REBALANCE_TARGET_S, f"{r.per_rebalance * 1e6:.1f} us"))
        if r.case.memory_limit_mib is not None:
            checks.append((f"simlab peak memory < {r.case.memory_limit_mib:g} MiB",
                           r.sl_peak < r.case.memory_limit_mib, f"{r.sl_peak:.0f} MiB"))
        checks.append((f"NAV gap without fees <= {NO_FEE_RTOL:g}", r.nav_gap_nofee <= NO_FEE_RTOL,
                       f"{r.nav_gap_nofee:.1e}"))
        for label, ok, got in checks:
            print(f"  ({r.case.key}) {label:<34} {got:>10}  {'MET' if ok else 'MISSED'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=["a", "b", "c", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=3,
                        help="warm calls per tool, at least; calls are repeated until they add up to 1 s "
                             "(at most 50); the best is reported")
    parser.add_argument("--full", action="store_true",
                        help="case c: run all 200 scenarios in vectorbt (over a minute, >10 GiB RAM)")
    parser.add_argument("--vbt-scenarios", type=int, default=DEFAULT_VBT_SCENARIOS,
                        help="case c without --full: scenarios vectorbt runs (default 20)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache simlab run")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if importlib.util.find_spec("vectorbt") is None:
        parser.error("vectorbt is not installed (pip install vectorbt); it is the peer this benchmark runs")
    chosen = "abc" if args.case == "all" else args.case
    load_before = C.load_average()
    rows = [bench_case(cases()[k], args.repeat, args.full, args.vbt_scenarios, not args.no_cold) for k in chosen]
    print_report(rows, args.repeat, (load_before, C.load_average()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
