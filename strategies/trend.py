"""Trend: price against its moving average."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pandas as pd
from pydantic import Field

from simlab.config.registry import register
from simlab.data.market import MarketData
from strategies.base import Strategy


@register("strategy", "trend")
@dataclass(frozen=True)
class Trend(Strategy):
    """How far the close stands above its ``window``-day simple moving average.

    ``signal[t] = close[t] / mean(close[t - window + 1 .. t]) - 1``: a fraction, positive
    in an uptrend, comparable across assets whatever their price level. NaN until an asset
    has ``window`` prices, wherever a price inside the window is missing, and on a day
    without a close.
    """

    window: Annotated[int, Field(ge=2)] = 200

    def signal(self, md: MarketData) -> pd.DataFrame:
        sma = md.close.rolling(self.window, min_periods=self.window).mean()
        return md.close / sma - 1.0
