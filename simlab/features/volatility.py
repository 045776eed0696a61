"""Trailing daily volatility, point in time: the :class:`Volatility` Feature.

``Volatility(window=60)`` at row t is the sample standard deviation (ddof=1) of the daily
simple returns of rows ``t - 59 .. t``; with ``halflife`` it is pandas'
``ewm(halflife=...).std()`` over the same window slice. Daily units, not annualized. NaN
where an asset has fewer than ``min_periods`` (default ``window``) finite returns in the
window, so an asset listed recently never gets a volatility from a handful of days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.features.base import Feature, FeatureInputs
from simlab.features.returns import check_window, trailing_moments


@dataclass(frozen=True)
class Volatility(Feature):
    """(R, N) daily volatility over the trailing ``window`` rows (see the module docstring)."""

    window: int = 60
    halflife: float | None = None
    min_periods: int | None = None

    def __post_init__(self):
        check_window(self.window, self.halflife, self.min_periods)

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        """Daily volatility at each row of ``rows``."""
        _, var, _ = trailing_moments(inputs.returns, rows, int(self.window), self.halflife, self.min_periods)
        return np.sqrt(var)


def volatility(returns: pd.DataFrame, window: int = 60, halflife: float | None = None) -> pd.Series:
    """Daily volatility of each column over the last ``window`` rows of ``returns``.

    Equals ``returns.iloc[-window:].std()`` (or ``.ewm(halflife=...).std().iloc[-1]``);
    NaN for a column with fewer than ``window`` finite returns.
    """
    _, var, _ = trailing_moments(returns.to_numpy(float), np.array([len(returns) - 1]), int(window), halflife)
    return pd.Series(np.sqrt(var[0]), index=returns.columns, name="volatility")
