"""Trailing moments of daily returns, point in time: the :class:`MeanReturn` Feature.

Every estimate at row t reads the ``window`` returns of rows ``t - window + 1 .. t`` and
nothing later. Weights are uniform, or exponential with ``halflife`` (in rows) counted back
from t; a missing return (NaN) is skipped and its weight dropped, as pandas does with
``ewm(adjust=True, ignore_na=False)``. Variances carry pandas' bias correction, so the
uniform case is ``rolling(window).var(ddof=1)`` and the exponential case is
``ewm(halflife=...).var()`` over the same window slice.

>>> import numpy as np
>>> r = np.array([[0.01], [0.03], [np.nan], [0.02]])
>>> mean, var, count = trailing_moments(r, np.array([3]), window=4, min_periods=2)
>>> round(float(mean[0, 0]), 12), round(float(var[0, 0]), 12), int(count[0, 0])
(0.02, 0.0001, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.features.base import Feature, FeatureInputs

TRADING_DAYS = 252


def window_weights(window: int, halflife: float | None) -> np.ndarray:
    """(W,) weights of the rows ``t - W + 1 .. t``: ones, or ``0.5 ** (lag / halflife)``."""
    if halflife is None:
        return np.ones(window)
    lags = np.arange(window - 1, -1, -1, dtype=float)
    return 0.5 ** (lags / float(halflife))


def trailing_windows(values: np.ndarray, rows: np.ndarray, window: int) -> np.ndarray:
    """(R, W, N) slices ``values[t - W + 1 : t + 1]`` for each t in ``rows``; NaN before row 0."""
    rows = np.asarray(rows, dtype=np.int64)
    index = rows[:, None] - np.arange(window - 1, -1, -1)[None, :]
    out = values[np.clip(index, 0, None)].astype(float)
    out[index < 0] = np.nan
    return out


def trailing_moments(
    returns: np.ndarray,
    rows: np.ndarray,
    window: int,
    halflife: float | None = None,
    min_periods: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean, variance and count of finite returns (each (R, N)) at ``rows``.

    Batched equivalent of ``returns[t-W+1:t+1]`` through pandas ``mean()``/``var(ddof=1)``
    (``halflife=None``) or ``ewm(halflife=h).mean()/.var()`` (last value) per row t. Mean and
    variance are NaN where fewer than ``min_periods`` (default ``window``) returns are finite,
    and the variance also where the weights leave no degree of freedom.
    """
    x = trailing_windows(np.asarray(returns, dtype=float), rows, window)
    finite = np.isfinite(x)
    w = window_weights(window, halflife)[None, :, None] * finite
    x = np.where(finite, x, 0.0)
    s0, s1 = w.sum(axis=1), (w * w).sum(axis=1)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * x).sum(axis=1) / s0
        dev = (w * (x - mean[:, None, :]) ** 2).sum(axis=1) / s0
        var = dev * s0 * s0 / (s0 * s0 - s1)
    enough = count >= (window if min_periods is None else min_periods)
    mean = np.where(enough & (s0 > 0), mean, np.nan)
    var = np.where(enough & (s0 * s0 > s1 * (1 + 1e-12)), np.maximum(var, 0.0), np.nan)
    return mean, var, count


@dataclass(frozen=True)
class MeanReturn(Feature):
    """(R, N) mean daily simple return over the trailing ``window`` rows, point in time.

    Uniform weights, or exponential ones with ``halflife`` rows; NaN where an asset has
    fewer than ``min_periods`` (default ``window``) finite returns in the window.
    """

    window: int = TRADING_DAYS
    halflife: float | None = None
    min_periods: int | None = None

    def __post_init__(self):
        check_window(self.window, self.halflife, self.min_periods)

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        """Mean daily return at each row of ``rows``."""
        mean, _, _ = trailing_moments(inputs.returns, rows, int(self.window), self.halflife, self.min_periods)
        return mean


def mean_return(returns: pd.DataFrame, window: int | None = None, halflife: float | None = None) -> pd.Series:
    """Mean daily return of each column over the last ``window`` rows (all rows by default)."""
    window = len(returns) if window is None else int(window)
    mean, _, _ = trailing_moments(returns.to_numpy(float), np.array([len(returns) - 1]), window, halflife, 1)
    return pd.Series(mean[0], index=returns.columns, name="mean_return")


def check_window(window, halflife, min_periods) -> None:
    if int(window) < 1:
        raise ValueError(f"window must be an integer >= 1; got {window!r}")
    if halflife is not None and not halflife > 0:
        raise ValueError(f"halflife must be > 0 or None; got {halflife!r}")
    if min_periods is not None and not 1 <= int(min_periods) <= int(window):
        raise ValueError(f"min_periods must be in [1, window={window}]; got {min_periods!r}")
