"""Small, deterministic building blocks for tests: price panels, CSV experiments, Step contexts.

Everything here is plain numpy/pandas and seeded, so a failing example is reproduced by
calling the same function with the same arguments.

>>> close = price_frame(n_days=60, n_assets=3, seed=1, listing={2: 10}, delisting={0: 40})
>>> close.shape, int(close["A0"].isna().sum()), int(close["A2"].isna().sum())
((60, 3), 20, 10)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlab.data.market import PointInTimeView
from simlab.contract.step import StepContext


def asset_names(n_assets: int) -> list[str]:
    """``A0 .. A{n-1}``: short names that sort in asset order."""
    return [f"A{i}" for i in range(n_assets)]


def price_frame(
    n_days: int,
    n_assets: int,
    seed: int = 0,
    *,
    start: str = "2020-01-01",
    vol: float = 0.02,
    listing: Mapping[int, int] | None = None,
    delisting: Mapping[int, int] | None = None,
    gaps: Sequence[tuple[int, int]] = (),
    dates: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """A (T, N) panel of positive closes from a seeded lognormal random walk.

    Parameters
    ----------
    n_days, n_assets : int
        Shape of the panel (``n_days`` is ignored when ``dates`` is given).
    seed : int
        Seed of ``numpy.random.default_rng``.
    start : str
        First business day of the calendar (when ``dates`` is not given).
    vol : float
        Daily log-return volatility.
    listing : {asset index: row}
        The asset's first price is on ``row``: rows before it are NaN (listed later).
    delisting : {asset index: row}
        The asset's last price is on ``row - 1``: rows from ``row`` on are NaN (delisted).
    gaps : [(row, asset index)]
        Single untradeable days (NaN) inside an asset's life.
    dates : DatetimeIndex, optional
        The calendar to use (for example one with holidays).
    """
    if dates is None:
        dates = pd.bdate_range(start, periods=n_days)
    dates = pd.DatetimeIndex(dates, name="date")
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, vol, (len(dates), n_assets))
    steps[0] = 0.0
    values = rng.uniform(20.0, 200.0, n_assets) * np.exp(np.cumsum(steps, axis=0))
    for asset, row in (listing or {}).items():
        values[:row, asset] = np.nan
    for asset, row in (delisting or {}).items():
        values[row:, asset] = np.nan
    for row, asset in gaps:
        values[row, asset] = np.nan
    return pd.DataFrame(values, index=dates, columns=pd.Index(asset_names(n_assets)))


def write_prices(close: pd.DataFrame, folder: str | Path, name: str = "prices.csv") -> str:
    """Write ``close`` as a researcher's wide CSV and return its ``csv:PATH`` source string."""
    path = Path(folder) / name
    close.rename_axis("date").to_csv(path)
    return f"csv:{path}"


def csv_experiment(
    close: pd.DataFrame, folder: str | Path, *, name: str = "prices.csv", **keys: Any
) -> dict[str, Any]:
    """An experiment dict on ``close`` written to CSV under ``folder`` (no benchmark).

    ``keys`` are top-level config keys (``pipeline``, ``strategy``, ``schedule``, ...);
    ``data`` entries given in ``keys["data"]`` are merged over the CSV source.
    """
    data = {"source": write_prices(close, folder, name), "benchmark": None}
    data.update(keys.pop("data", {}))
    cfg: dict[str, Any] = {"name": "test", "data": data, "pipeline": [{"type": "equal_weight"}]}
    cfg.update(keys)
    return cfg


def make_context(
    n_assets: int | None = None,
    *,
    signal: np.ndarray | None = None,
    tradeable: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    nav: np.ndarray | float = 1_000_000.0,
    n_scenarios: int | None = None,
    close: np.ndarray | None = None,
    seed: int = 0,
) -> StepContext:
    """A StepContext for calling a Step by hand.

    The batch size comes from ``signal`` or ``weights`` (else ``n_scenarios``, default 1)
    and the asset count from any of the arrays. ``close`` (T, N) feeds the point-in-time
    view, decided on its last row; by default a flat panel of 100s over 5 days.
    """
    arrays = [a for a in (signal, weights) if a is not None]
    b = n_scenarios or (np.asarray(arrays[0]).shape[0] if arrays else 1)
    if n_assets is None:
        shapes = [np.asarray(a).shape[-1] for a in (signal, weights, tradeable, close) if a is not None]
        if not shapes:
            raise ValueError("make_context needs n_assets or an array to take it from")
        n_assets = shapes[0]
    if close is None:
        close = np.full((5, n_assets), 100.0)
    close = np.array(close, dtype=float)
    t = close.shape[0] - 1
    dates = pd.bdate_range("2020-01-01", periods=close.shape[0])
    returns = np.vstack([np.full((1, n_assets), np.nan), close[1:] / close[:-1] - 1.0])
    for arr in (close, returns):
        arr.flags.writeable = False
    view = PointInTimeView({"close": close, "returns": returns}, dates, t)
    if tradeable is None:
        tradeable = np.isfinite(close[t])
    return StepContext(
        t=t,
        date=dates[t],
        view=view,
        assets=tuple(asset_names(n_assets)),
        tradeable=np.asarray(tradeable, dtype=bool),
        signal=None if signal is None else np.asarray(signal, dtype=float),
        weights=np.zeros((b, n_assets)) if weights is None else np.asarray(weights, dtype=float),
        nav=np.broadcast_to(np.asarray(nav, dtype=float), (b,)).copy(),
        peak_nav=np.broadcast_to(np.asarray(nav, dtype=float), (b,)).copy(),
        meta=None,
        scenarios=tuple(f"s{i}" for i in range(b)),
        rng=np.random.default_rng(seed),
    )


def daily_cov(n: int = 5, seed: int = 0, t: int = 400) -> np.ndarray:
    """(n, n) sample covariance of ``t`` seeded daily returns with a common factor."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, n)) @ rng.normal(size=(n, n)) * 0.01 / np.sqrt(n) + rng.normal(size=(t, 1)) * 0.005
    return np.cov(x.T)


def context_with_features(features: Mapping[str, np.ndarray], **kw) -> StepContext:
    """:func:`make_context` carrying the given Feature values (as the engine serves them)."""
    return dataclasses.replace(make_context(**kw), features=dict(features))


def report_experiment(name: str, n_days: int, seed: int, claims: Mapping[str, Any]) -> dict:
    """A small synthetic experiment with everything a report can show.

    Two scenarios, a proxy strategy (value-momentum), regime-conditioned constraints
    (regimes and ``util_*`` keys), the VIX overlay (the built-in VIX does not cover the
    synthetic span, so every day uses the proxy) and ``claims``.
    """
    return {
        "name": name,
        "description": "A small synthetic run with regimes, constraints, a proxy strategy and claims.",
        "data": {"source": "synthetic", "n_assets": 8, "n_days": n_days, "seed": seed,
                 "macro": {"vix": "builtin:vix"}},
        "strategy": {"type": "value_momentum", "value_lookback": 252, "value_skip": 63,
                     "momentum_lookback": 126, "momentum_skip": 5},
        "pipeline": [
            {"type": "equal_weight_top_n", "top_n": 4},
            {"type": "regime_constraints", "regime": {"type": "vix_threshold", "levels": [20, 30], "stress_from": 1},
             "max_weight": 0.3, "max_sector": 0.6},
            {"type": "vix_regime", "thresholds": [25, 30], "fractions": [0.25, 0.5]},
            {"type": "position_limit", "max_weight": 0.3},
        ],
        "scenarios": {"grid": {"pipeline.0.top_n": [3, 4]}},
        "claims": dict(claims),
    }
