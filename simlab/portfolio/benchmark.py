"""Benchmark weights at a decision day, for the benchmark-relative allocators.

What the data allows decides where a benchmark's weights can come from. The built-in data
holds adjusted closes only (no shares outstanding, no index constituents' weights), so a
true cap-weighted benchmark cannot be rebuilt point in time from it. The sources:

============  ================================================================================
source        weights at decision day t, over the assets that may be held at t
============  ================================================================================
equal         ``1 / n``: the equal-weight index of the tradeable assets
weights       the ``benchmark_weights`` of the config (``{asset: weight}``; names not given
              get 0), renormalized over the assets that may be held
price         price-weighted (the Dow's rule): ``close_i(t) / sum close(t)``, point in time
market_cap    the universe file's ``market_cap`` column. It is one snapshot: used over a
              history before the date it was taken, it is look-ahead (today's caps decide
              yesterday's benchmark); meant for a book, or for a universe file written as of
              the start of the study. An asset without one is a ConfigError
cash          no benchmark (all zeros): the tracking error is the portfolio's own volatility
============  ================================================================================

Each source's weights are renormalized to 1 over the assets that may be held (a
tradeable price and a covariance row); ``coverage`` is the share of the benchmark's own
weight that fell on those assets before the renormalization (1 for ``equal``, ``price``
and ``cash``; below 1 when ``weights`` or ``market_cap`` name assets that cannot be held
at t, or none of them can: then the benchmark is empty and coverage is 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from simlab.errors import ConfigError

BenchmarkSource = Literal["equal", "weights", "price", "market_cap", "cash"]
SOURCES = ("equal", "weights", "price", "market_cap", "cash")


def raw_benchmark(source: str, ctx, given: Mapping[str, float], where: str) -> np.ndarray:
    """(N,) benchmark weights at ``ctx.t`` before renormalization (NaN-free, >= 0).

    ``where`` names the config entry in error messages.
    """
    n = len(ctx.assets)
    if source == "equal":
        return np.ones(n)
    if source == "cash":
        return np.zeros(n)
    if source == "weights":
        if not given:
            raise ConfigError(f"{where}.benchmark_weights: benchmark 'weights' needs {{asset: weight}}; got none")
        unknown = sorted(set(given) - set(ctx.assets))
        if unknown:
            raise ConfigError(f"{where}.benchmark_weights names {unknown}, not assets of the data")
        return np.array([float(given.get(a, 0.0)) for a in ctx.assets])
    if source == "price":
        close = np.asarray(ctx.view.at("close"), dtype=float)
        return np.where(np.isfinite(close) & (close > 0), close, 0.0)
    if source == "market_cap":
        return _market_caps(ctx, where)
    raise ConfigError(f"{where}.benchmark: unknown source {source!r}; valid: {', '.join(SOURCES)}")


def _market_caps(ctx, where: str) -> np.ndarray:
    meta = ctx.meta
    if meta is None or "market_cap" not in meta:
        raise ConfigError(f"{where}.benchmark: 'market_cap' needs a universe file giving each asset's market_cap; "
                          "the data has none (the built-in data holds prices only)")
    caps = meta["market_cap"].reindex(list(ctx.assets)).to_numpy(dtype=float)
    missing = [a for a, c in zip(ctx.assets, caps) if not np.isfinite(c)]
    if missing:
        raise ConfigError(f"{where}.benchmark: 'market_cap' needs a market_cap for every asset in the universe "
                          f"file; missing for {missing}")
    return caps


def benchmark_weights(raw: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, N) weights summing to 1 over each row's ``usable`` assets, and (B,) coverage.

    ``raw`` (N,) or (B, N) non-negative; a row whose usable assets hold no weight is all
    zeros with coverage 0, unless ``raw`` is all zeros (``cash``): zeros with coverage 1.
    """
    raw = np.broadcast_to(np.asarray(raw, dtype=float), usable.shape)
    total = raw.sum(axis=1)
    inside = np.where(usable, raw, 0.0)
    held = inside.sum(axis=1)
    weights = np.divide(inside, held[:, None], out=np.zeros(usable.shape), where=held[:, None] > 0)
    coverage = np.divide(held, total, out=np.ones(len(total)), where=total > 0)
    return weights, coverage
