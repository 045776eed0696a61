"""What a config asks of its data, checked once the data is loaded and before anything runs.

:func:`check_feasible` raises before the simulation when the experiment cannot mean anything
on this data:

- fewer than two dates from ``data.start`` on (a one-row file gives no return);
- a strategy's ``lookback`` or the execution ``lag`` (in the experiment or a scenario) of at
  least as many rows as the data holds: nothing could ever be decided or filled (a Step's
  estimation window may be longer than the data: its estimator starts on what there is);
- a ``min_weight`` that, held by every asset, exceeds the budget (``min_weight x N > 1``);
- caps that cannot reach an optimizer's budget: ``max_weight x N < 1 - cash_buffer`` in a
  Step that has both keys (the bounded allocators) and no per-asset bounds;
- a ``long_short_top_n`` whose two legs (``top_n + bottom_n``) ask for more names than the
  data has: the longs are chosen first, so the short leg would be short of names (or empty)
  and the book would not be the long-short book the config describes;
- a benchmark that is missing on more than :data:`BENCHMARK_GAP` of the run's dates (its beta
  and tracking numbers would describe a fraction of the run).

It warns (:class:`~simlab.errors.SimlabWarning`) when the benchmark's daily returns follow
the assets' average a day early or a day late much more closely than on the same day: a
benchmark shifted by a day gives a beta near 0 for a long-only stock book.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from simlab.errors import ConfigError, DataError, SimlabWarning

BENCHMARK_GAP = 0.05
"""The largest share of the run's dates a benchmark may miss."""
SHIFT_MARGIN = 0.3
"""Warn when the benchmark correlates with the assets' average this much better a day off."""


def check_feasible(cfg, md) -> None:
    """Raise ConfigError (a key) or DataError (the data) when ``cfg`` cannot run on ``md``."""
    start = cfg.experiment.data.start
    span = md.dates if start is None else md.dates[md.dates >= np.datetime64(str(start))]
    if len(span) < 2:
        raise DataError(f"data {cfg.experiment.data.source}: {len(span)} date(s) from data.start on "
                        f"({', '.join(str(d.date()) for d in span) or 'none'}); a backtest needs at least 2")
    tree = cfg.to_dict()
    for path, value in _integers(tree):
        name = path.rsplit(".", 1)[-1]
        if _is_window(name) and value >= len(md.dates):
            raise ConfigError(f"{path}: {value} rows, but the data has {len(md.dates)} "
                              f"({md.dates[0].date()} .. {md.dates[-1].date()}): nothing could ever be decided")
    for path, value in _numbers(tree):
        if path.rsplit(".", 1)[-1] == "min_weight" and value * len(md.assets) > 1 + 1e-12:
            raise ConfigError(f"{path}: {value} x {len(md.assets)} assets = {value * len(md.assets):.3g} > 1: "
                              "no weights meet it within the budget")
    for path, step in _mappings(tree):
        _check_caps(path, step, len(md.assets))
        _check_legs(path, step, len(md.assets))
    _check_benchmark(md, span)


def _check_caps(path: str, step: dict, n_assets: int) -> None:
    if not {"max_weight", "cash_buffer"} <= step.keys() or step.get("asset_bounds"):
        return
    cap, buffer = step["max_weight"], step["cash_buffer"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (cap, buffer)):
        return  # a per-scenario list: each scenario's own values are checked in its own entry
    if cap * n_assets < 1.0 - buffer - 1e-12:
        raise ConfigError(f"{path}.max_weight: {cap} x {n_assets} assets = {cap * n_assets:.3g} cannot reach the "
                          f"budget {1.0 - buffer:.3g} (1 - cash_buffer): no weights meet the bounds, the fallback "
                          "would answer every decision; raise max_weight or add assets")


def _check_legs(path: str, step: dict, n_assets: int) -> None:
    if step.get("type") != "long_short_top_n":
        return
    top, bottom = step.get("top_n", 5), step.get("bottom_n", 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (top, bottom)):
        return  # a per-scenario list: each scenario's own values are checked in its own entry
    legs = top + (bottom if bottom > 0 else top)
    if legs > n_assets:
        raise ConfigError(f"{path}.top_n: {top} long + {bottom if bottom > 0 else top} short = {legs} names, but "
                          f"the data has {n_assets} assets: the short leg would be short of names and the book "
                          "not the long-short book asked for; lower top_n (or bottom_n)")


def _mappings(tree, where: str = ""):
    """Every mapping in ``tree`` with its key path."""
    if isinstance(tree, dict):
        if where:
            yield where, tree
        items = tree.items()
    elif isinstance(tree, list):
        items = enumerate(tree)
    else:
        return
    for key, value in items:
        yield from _mappings(value, f"{where}.{key}" if where else str(key))


def _is_window(name: str) -> bool:
    return name in ("lookback", "lag")


def _integers(tree, where: str = ""):
    for path, value in _numbers(tree, where):
        if isinstance(value, int):
            yield path, value


def _numbers(tree, where: str = ""):
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        path = f"{where}.{key}" if where else str(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            yield path, value
        else:
            yield from _numbers(value, path)


def _check_benchmark(md, span) -> None:
    if md.benchmark is None:
        return
    present = md.benchmark.reindex(span).notna().to_numpy()
    if present.mean() < 1 - BENCHMARK_GAP:
        _raise_gap(md, span, present)
    _warn_shift(md, span)


def _raise_gap(md, span, present) -> None:
    name = md.benchmark.name or "benchmark"
    covered = span[present]
    where = f"it covers {covered[0].date()} .. {covered[-1].date()}" if len(covered) else "it has no value there"
    raise DataError(f"benchmark {name!r}: missing on {int((~present).sum())} of the run's {len(span)} dates "
                    f"({span[0].date()} .. {span[-1].date()}); {where}. Give a benchmark covering the run "
                    "(or shorten the run with data.start / data.end)")


def _warn_shift(md, span) -> None:
    bench = md.benchmark.reindex(span).pct_change(fill_method=None)
    if bench.notna().sum() < 20:
        return
    assets = pd.Series(_mean_return(md, span), index=span)
    corr = {lag: assets.corr(bench.shift(lag)) for lag in (-1, 0, 1)}
    best = max((-1, 1), key=lambda lag: corr[lag] if pd.notna(corr[lag]) else -np.inf)
    if pd.notna(corr[best]) and corr[best] > (corr[0] if pd.notna(corr[0]) else 0.0) + SHIFT_MARGIN:
        name = md.benchmark.name or "benchmark"
        warnings.warn(f"benchmark {name!r}: its daily returns match the assets' average a day "
                      f"{'late' if best == 1 else 'early'} (correlation {corr[best]:.2f}) far better than on "
                      f"the same day ({corr[0]:.2f}); is it shifted by a day?", SimlabWarning, stacklevel=3)


def _mean_return(md, span) -> np.ndarray:
    """The assets' average daily simple return on each date of ``span`` (NaNs skipped, as
    ``close.pct_change(fill_method=None).mean(axis=1)``; NaN where no asset has one)."""
    close = (md.close if len(span) == len(md.dates) else md.close.reindex(span)).to_numpy(dtype=np.float64)
    returns = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(close[1:], close[:-1], out=returns[1:])
    returns[1:] -= 1.0
    known = ~np.isnan(returns)
    counted = known.sum(axis=1)
    total = np.where(known, returns, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, total / np.maximum(counted, 1), np.nan)
