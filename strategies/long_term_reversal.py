"""Long-term reversal: a price-only VALUE PROXY.

There are no fundamentals in the built-in data, so "value" here is a proxy: stocks that
fell most over the past several years (skipping the most recent year, where momentum
dominates) tend to be cheap on book-to-market, and their long-horizon reversal is the
price pattern De Bondt and Thaler (1985) documented. It is not a valuation ratio, and
reports built on it should call it a proxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from simlab.config.registry import register
from simlab.data.market import MarketData
from strategies.base import Strategy


@register("strategy", "long_term_reversal")
@dataclass(frozen=True)
class LongTermReversal(Strategy):
    """Value proxy: minus the log return from ``lookback`` days ago to ``skip`` days ago.

    ``signal[t] = -log(close[t - skip] / close[t - lookback])``: the 5-to-1-year loser
    scores highest by default (``lookback`` 1260 and ``skip`` 252 trading days). A price-only
    proxy for value (``proxy = True``), not a valuation. The log return keeps the long
    horizon's right tail from dominating a cross-sectional z-score; ranks are the same as
    with the simple return. NaN until an asset has ``lookback`` days of prices, and where
    either price is missing.
    """

    lookback: Annotated[int, Field(ge=2)] = 1260
    skip: Annotated[int, Field(ge=0)] = 252
    proxy: ClassVar[bool] = True

    def __post_init__(self):
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be smaller than lookback ({self.lookback})")

    def signal(self, md: MarketData) -> pd.DataFrame:
        log_close = np.log(md.close.where(md.close > 0))
        return -(log_close.shift(self.skip) - log_close.shift(self.lookback))
