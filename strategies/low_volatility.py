"""Low volatility: the calmer the stock, the higher the score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from simlab.config.registry import register
from simlab.data.market import MarketData
from strategies.base import Strategy


@register("strategy", "low_volatility")
@dataclass(frozen=True)
class LowVolatility(Strategy):
    """Minus the annualized volatility of daily returns over the trailing ``window`` days.

    ``signal[t] = -std(r[t - window + 1 .. t], ddof=1) * sqrt(periods)``, with ``r`` the
    daily simple returns (pandas ``rolling(window, min_periods).std()``). The window ends at
    t: the return into t uses the close of t, which is known at the decision. NaN until an
    asset has ``min_periods`` returns in the window (``window`` by default, so a missing
    price blanks the windows that span it).
    """

    window: Annotated[int, Field(ge=2)] = 252
    min_periods: Annotated[int, Field(ge=2)] | None = None
    periods: Annotated[float, Field(gt=0)] = 252.0

    def __post_init__(self):
        if self.min_periods is not None and self.min_periods > self.window:
            raise ValueError(f"min_periods ({self.min_periods}) must not exceed window ({self.window})")

    def signal(self, md: MarketData) -> pd.DataFrame:
        min_periods = self.window if self.min_periods is None else self.min_periods
        vol = md.returns().rolling(self.window, min_periods=min_periods).std()
        return -vol * np.sqrt(self.periods)
