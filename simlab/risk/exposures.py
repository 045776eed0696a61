"""Exposure Features of the ``regime_constraints`` Step: market beta, benchmark volatility, style scores.

Each is a causal Feature (its value at row t uses data at or before t): a trailing
regression beta of every asset on the benchmark, the benchmark's trailing volatility (the
bands of :mod:`simlab.risk.constraints` are set against both), and size, value and
momentum proxies, reported but not constrained.

Beta and benchmark volatility may be *regime-conditional* (``regime``, a Feature of integer
labels per row such as :class:`simlab.risk.regime.RegimeState`): at row t only the window's
rows labelled like t count, as for the regime-conditional covariance; with fewer than
``min_regime_obs`` of them (or t unlabelled) the unconditional window is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.errors import DataError
from simlab.features.base import Feature, FeatureInputs
from simlab.features.covariance import MIN_REGIME_OBS

TRADING_DAYS = 252


@dataclass(frozen=True)
class MarketBeta(Feature):
    """(R, N) regression beta of each asset's daily returns on the benchmark's.

    Over the trailing ``window`` rows, on the days both have a return; NaN with fewer
    than ``min_periods`` (default half the window) such days. Equals
    ``returns[a].rolling(window).cov(bench) / bench.rolling(window).var()`` on complete days.
    """

    window: int = TRADING_DAYS
    min_periods: int | None = None
    regime: Feature | None = None
    min_regime_obs: int = MIN_REGIME_OBS

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        bench = _benchmark_returns(inputs, "beta")
        x = inputs.returns
        both = np.isfinite(x) & np.isfinite(bench)[:, None]
        xs, bs = np.where(both, x, 0.0), np.where(both, bench[:, None], 0.0)
        n, sx, sb, sxb, sbb = _sums((both, xs, bs, xs * bs, bs * bs), rows, self.window,
                                    _labels(self.regime, inputs), self.min_regime_obs)
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = (sxb - sx * sb / n) / (sbb - sb * sb / n)
        need = self.min_periods or max(2, self.window // 2)
        if self.regime is not None:
            need = min(need, self.min_regime_obs)
        return np.where((n >= need) & np.isfinite(beta), beta, np.nan)


@dataclass(frozen=True)
class BenchmarkVolatility(Feature):
    """(R,) daily volatility (ddof 1) of the benchmark's returns over the trailing ``window``."""

    window: int = 63
    regime: Feature | None = None
    min_regime_obs: int = MIN_REGIME_OBS

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        bench = _benchmark_returns(inputs, "volatility")
        ok = np.isfinite(bench)
        v = np.where(ok, bench, 0.0)
        n, s1, s2 = (a[:, 0] for a in _sums((ok[:, None], v[:, None], (v * v)[:, None]), rows, self.window,
                                            _labels(self.regime, inputs), self.min_regime_obs))
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (s2 - s1 * s1 / n) / (n - 1)
        need = max(2, self.window // 2)
        if self.regime is not None:
            need = min(need, self.min_regime_obs)
        return np.where(n >= need, np.sqrt(np.maximum(var, 0.0)), np.nan)


@dataclass(frozen=True)
class StyleScores(Feature):
    """(R, 3, N) cross-sectional z-scores of size, value and momentum, for reporting.

    momentum: the return from ``momentum[0]`` to ``momentum[1]`` days ago (12-1 months).
    value: a price-only proxy, long-horizon reversal: minus the return from ``value[0]`` to
    ``value[1]`` days ago (5 years to 1 year).
    size: there is no market-cap data, so the proxy is the log of the average daily traded
    value over ``size_window`` days where volume is known, else the log of the universe's
    ``adv``, else minus its ``liquidity_tier`` (tier 1 the largest); NaN without any.
    z-scores are taken over the assets with a value at t (NaN with fewer than two).
    """

    momentum: tuple[int, int] = (252, 21)
    value: tuple[int, int] = (1260, 252)
    size_window: int = 63

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        close = inputs.close
        raw = np.stack([
            self._size(inputs, rows),
            -_lagged_return(close, rows, *self.value),
            _lagged_return(close, rows, *self.momentum),
        ], axis=1)
        return _zscore(raw)

    def _size(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        n = len(inputs.assets)
        if inputs.volume is not None:
            traded = inputs.close * inputs.volume
            ok = np.isfinite(traded)
            total = _window_sum(np.where(ok, traded, 0.0), rows, self.size_window)
            count = _window_sum(ok, rows, self.size_window)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.log(total / count)
        meta = inputs.meta
        for column, sign in (("adv", 1.0), ("liquidity_tier", -1.0)):
            if meta is not None and column in meta.columns:
                values = meta[column].reindex(list(inputs.assets)).to_numpy(dtype=float)
                if np.isfinite(values).any():
                    level = np.log(values) if column == "adv" else sign * values
                    return np.broadcast_to(level, (len(rows), n)).copy()
        return np.full((len(rows), n), np.nan)


def _benchmark_returns(inputs: FeatureInputs, what: str) -> np.ndarray:
    if inputs.benchmark is None:
        raise DataError(
            f"regime_constraints: the {what} band needs a benchmark and this experiment has none; "
            f"set data.benchmark, or switch the band off ({what}: null)")
    level = np.asarray(inputs.benchmark, dtype=float)
    out = np.full(len(level), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = level[1:] / level[:-1] - 1.0
    return out


def _labels(regime: Feature | None, inputs: FeatureInputs) -> np.ndarray | None:
    """(T,) int labels of every row from a regime Feature (first column of a table), or None."""
    if regime is None:
        return None
    values = np.asarray(regime.compute(inputs, np.arange(len(inputs.returns))))
    if values.ndim == 2:
        values = values[:, 0]
    return np.where(np.isfinite(values.astype(float)), values, -1).astype(np.int64)


def _sums(arrays, rows, window: int, labels: np.ndarray | None, min_obs: int) -> list[np.ndarray]:
    """Window sums of each (T, N) array at ``rows``; regime-conditional where ``labels`` allow.

    At row t with a label >= 0 and at least ``min_obs`` rows of the window labelled like t,
    the sums run over those rows only; elsewhere over the whole window.
    """
    out = [_window_sum(np.asarray(a, dtype=float), rows, window) for a in arrays]
    if labels is None:
        return out
    for k, t in enumerate(np.asarray(rows, dtype=np.int64)):
        lo = max(t + 1 - int(window), 0)
        same = labels[lo:t + 1] == labels[t]
        if labels[t] < 0 or same.sum() < min_obs:
            continue
        for a, o in zip(arrays, out):
            o[k] = np.asarray(a, dtype=float)[lo:t + 1][same].sum(axis=0)
    return out


def _window_sum(values: np.ndarray, rows: np.ndarray, window: int) -> np.ndarray:
    """(R, N) sums of ``values`` (T, N) over rows ``t - window + 1 .. t`` for each t in rows."""
    c = np.vstack([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0, dtype=float)])
    rows = np.asarray(rows, dtype=np.int64)
    return c[rows + 1] - c[np.maximum(rows + 1 - int(window), 0)]


def _lagged_return(close: np.ndarray, rows: np.ndarray, far: int, near: int) -> np.ndarray:
    a, b = rows - far, rows - near
    ok = a >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = close[np.maximum(b, 0)] / close[np.maximum(a, 0)] - 1.0
    return np.where(ok[:, None], out, np.nan)


def _zscore(raw: np.ndarray) -> np.ndarray:
    ok = np.isfinite(raw)
    count = ok.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, raw, 0.0).sum(axis=-1, keepdims=True) / count
        var = (np.where(ok, raw - mean, 0.0) ** 2).sum(axis=-1, keepdims=True) / (count - 1)
        z = (raw - mean) / np.sqrt(var)
    return np.where(ok & (count >= 2) & (var > 0), z, np.nan)
