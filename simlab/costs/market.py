"""Trailing liquidity and volatility for cost models, known before each fill's close."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.data.market import MarketData


def trailing_adv(md: MarketData, window: int = 20) -> np.ndarray:
    """(T, N) mean daily traded value over the ``window`` days before each row.

    From ``close * volume`` when the data has volume; otherwise the universe's ``adv``
    column (money per day) for every row; NaN where neither is known.
    """
    shape = md.close.shape
    if md.volume is not None:
        traded = (md.close * md.volume).rolling(window, min_periods=max(1, window // 2)).mean()
        return traded.shift(1).to_numpy(dtype=np.float64)
    if md.meta is not None and "adv" in md.meta:
        adv = pd.to_numeric(md.meta["adv"].reindex(md.assets), errors="coerce").to_numpy(dtype=np.float64)
        return np.broadcast_to(adv, shape)
    return np.full(shape, np.nan)


def trailing_volatility(md: MarketData, window: int = 20) -> np.ndarray:
    """(T, N) standard deviation (ddof=1) of daily returns over the ``window`` days before each row."""
    vol = md.returns().rolling(window, min_periods=max(2, window // 2)).std()
    return vol.shift(1).to_numpy(dtype=np.float64)
