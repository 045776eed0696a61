"""Cross-sectional price momentum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from simlab.config.registry import register
from simlab.data.market import MarketData
from strategies.base import Strategy


@register("strategy", "momentum")
@dataclass(frozen=True)
class Momentum(Strategy):
    """Total return from ``lookback`` days ago to ``skip`` days ago (the 12-1 month rule by default).

    ``signal[t] = close[t - skip] / close[t - lookback] - 1``. NaN until an asset has
    ``lookback`` days of prices, and where either price is missing.
    """

    lookback: Annotated[int, Field(ge=1)] = 252
    skip: Annotated[int, Field(ge=0)] = 21

    def __post_init__(self):
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be smaller than lookback ({self.lookback})")

    def signal(self, md: MarketData) -> pd.DataFrame:
        close = md.close.to_numpy(dtype=np.float64)
        out = np.full(close.shape, np.nan)
        n_rows = close.shape[0]
        if self.lookback < n_rows:  # row t: close[t - skip] / close[t - lookback] - 1, from t = lookback on
            with np.errstate(invalid="ignore", divide="ignore"):
                np.divide(close[self.lookback - self.skip : n_rows - self.skip], close[: n_rows - self.lookback],
                          out=out[self.lookback :])
            out[self.lookback :] -= 1.0
        return pd.DataFrame(out, index=md.close.index, columns=md.close.columns, copy=False)
