"""Helpers shared by the benchmarks: memory, timing, versions, peer targets.

Nothing here imports simlab, numba or a peer library at module import time: benchmark
children are started with the ``spawn`` method and may set numba's environment (an empty
cache directory, say) before the first such import.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import time
from importlib import metadata

import numpy as np

MIB = 1024.0 * 1024.0


def _status_kib(key: str) -> float | None:
    """A ``kB`` field of /proc/self/status (Linux), or None where there is none."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (VmHWM; ru_maxrss as fallback)."""
    kib = _status_kib("VmHWM")
    if kib is None:  # macOS reports bytes, Linux KiB
        raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return raw / MIB if platform.system() == "Darwin" else raw / 1024.0
    return kib / 1024.0


def rss_mib() -> float:
    """Current resident memory of this process, MiB (VmRSS; the peak as fallback)."""
    kib = _status_kib("VmRSS")
    return peak_rss_mib() if kib is None else kib / 1024.0


def timed(fn, *args, **kwargs):
    """``(seconds, result)`` of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def warm_times(fn, repeat: int, min_total_s: float = 1.0, max_calls: int = 50) -> list[float]:
    """Seconds of at least ``repeat`` calls of ``fn()``, more while they add up to less than
    ``min_total_s`` (at most ``max_calls``): the best of many short calls is steadier on a
    shared machine than the best of three."""
    import gc

    times: list[float] = []
    while len(times) < repeat or (sum(times) < min_total_s and len(times) < max_calls):
        gc.collect()
        seconds, out = timed(fn)
        del out
        times.append(seconds)
    return times


def versions() -> dict[str, str]:
    """Installed versions of the packages a benchmark result depends on."""
    out = {"python": platform.python_version()}
    for name in ("simlab", "vectorbt", "numba", "numpy", "pandas"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> str:
    """One line about the machine the figures come from."""
    total = _meminfo_gib()
    mem = f", {total:.0f} GiB RAM" if total else ""
    return f"{platform.machine()}, {os.cpu_count()} CPUs{mem}, {platform.system()} {platform.release()}"


def load_average() -> str:
    """The 1-minute load average (how busy a shared machine was), or '?' where unknown."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _meminfo_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return float(line.split()[1]) / MIB
    except OSError:
        return None
    return None


def today() -> str:
    return dt.date.today().isoformat()


# --- simlab without its data loading ---------------------------------------------------


def load_simlab_market(cfg: dict):
    """The MarketData ``simlab.run(cfg)`` would load, so that timings can leave it out."""
    import simlab
    from simlab.lab.run import load_market

    return load_market(simlab.load_config(cfg))


def run_simlab(cfg: dict, md):
    """``simlab.run(cfg)`` on already loaded data; ``res.nav`` forced, nothing else built.

    ``simlab.run`` is called as it is, with its data loader answering ``md`` for the
    duration of the call, so a timing measures config validation, scenario expansion,
    signals and the simulation, and not the data (synthetic generation, CSV parsing).
    ``res.weights`` and the other lazy tables are never built.
    """
    import simlab
    import simlab.lab.run as lab_run

    original = lab_run.load_market
    lab_run.load_market = lambda _config: md
    try:
        res = simlab.run(cfg)
    finally:
        lab_run.load_market = original
    res.nav  # noqa: B018 - force the NAV frame
    return res


# --- the targets a peer engine gets, built independently of simlab ----------------------


def first_of_month(dates) -> np.ndarray:
    """Boolean mask of the first trading day of each calendar month of ``dates``."""
    key = np.asarray(dates.year) * 12 + np.asarray(dates.month)
    return np.r_[True, key[1:] != key[:-1]]


def equal_weight_targets(close: np.ndarray, rebalance: np.ndarray) -> np.ndarray:
    """(T, N) targets: 1/n over the assets with a price on rebalance rows, NaN elsewhere."""
    priced = np.isfinite(close)
    count = priced.sum(axis=1, keepdims=True)
    weights = np.divide(priced, count, out=np.zeros(close.shape), where=count > 0)
    weights[~rebalance] = np.nan
    return weights


def momentum_ranks(close: np.ndarray, rows: np.ndarray, lookback: int = 252, skip: int = 21) -> np.ndarray:
    """(len(rows), N) rank of ``close[t-skip] / close[t-lookback] - 1`` on rows ``t``, 0 = best.

    Ties keep the column order (stable sort); a NaN signal (not enough history, a missing
    price) gets rank ``N`` and is never chosen.
    """
    rows = np.asarray(rows)
    n_cols = close.shape[1]
    signal = np.full((len(rows), n_cols), np.nan)
    ok = rows >= lookback
    with np.errstate(invalid="ignore", divide="ignore"):
        signal[ok] = close[rows[ok] - skip] / close[rows[ok] - lookback] - 1.0
    order = np.argsort(-signal, axis=1, kind="stable")  # NaN sorts last
    ranks = np.empty(signal.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(n_cols), signal.shape), axis=1)
    ranks[~np.isfinite(signal)] = n_cols
    return ranks


def top_n_targets(ranks: np.ndarray, top_n: int, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """(n_rows, N) targets: equal weight over the ``top_n`` best ranks on ``rows``, NaN elsewhere.

    ``ranks`` holds one row per entry of ``rows`` (see :func:`momentum_ranks`). Fewer
    eligible assets than ``top_n`` share the whole book; none eligible means all cash.
    """
    chosen = ranks < top_n
    count = chosen.sum(axis=1, keepdims=True)
    targets = np.full((n_rows, ranks.shape[1]), np.nan)
    targets[rows] = np.divide(chosen, count, out=np.zeros(ranks.shape), where=count > 0)
    return targets
