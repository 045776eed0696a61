"""Value and momentum, blended: cross-sectional z-scores of the two, weighted.

Value and momentum are negatively correlated and each earns a premium (Asness, Moskowitz
and Pedersen 2013, "Value and Momentum Everywhere"), so a blend is steadier than either.
Value here is the price-only long-term reversal proxy (:mod:`strategies.long_term_reversal`);
the blend inherits its ``proxy`` label.
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
from strategies.long_term_reversal import LongTermReversal
from strategies.momentum import Momentum


def cross_sectional_zscore(panel: pd.DataFrame, min_periods: int = 2) -> pd.DataFrame:
    """Per row, ``(x - mean) / std`` over the assets with a finite value (std with ddof=1).

    A row with fewer than ``min_periods`` values is all NaN; an asset without a value stays
    NaN. A row whose values are all equal (no dispersion) scores 0 for every asset with a
    value: they rank level, which is information, not missing history.
    """
    values = panel.to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    count = finite.sum(axis=1, keepdims=True)
    enough = count >= max(int(min_periods), 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(values, axis=1, keepdims=True) / count
        dev = np.where(finite, values - mean, 0.0)
        std = np.sqrt((dev**2).sum(axis=1, keepdims=True) / (count - 1))
        z = np.where(std > 0, dev / std, 0.0)
    z = np.where(finite & enough, z, np.nan)
    return pd.DataFrame(z, index=panel.index, columns=panel.columns)


@register("strategy", "value_momentum")
@dataclass(frozen=True)
class ValueMomentum(Strategy):
    """``(value_weight * z(value) + momentum_weight * z(momentum)) / (value_weight + momentum_weight)``.

    ``z`` is the cross-sectional z-score of each day (:func:`cross_sectional_zscore`) over the
    assets that have that component; a day with fewer than ``min_periods`` such assets is NaN
    for that component. Value is :class:`LongTermReversal` (``value_lookback``,
    ``value_skip``), a price-only proxy; momentum is :class:`Momentum` (``momentum_lookback``,
    ``momentum_skip``). With ``require_all`` (the default) an asset needs every component
    with a positive weight, else it is NaN; without it, an asset missing one component scores
    on the others, their weights renormalized. A component with weight 0 is not computed.
    """

    value_weight: Annotated[float, Field(ge=0)] = 0.5
    momentum_weight: Annotated[float, Field(ge=0)] = 0.5
    value_lookback: Annotated[int, Field(ge=2)] = 1260
    value_skip: Annotated[int, Field(ge=0)] = 252
    momentum_lookback: Annotated[int, Field(ge=1)] = 252
    momentum_skip: Annotated[int, Field(ge=0)] = 21
    min_periods: Annotated[int, Field(ge=2)] = 3
    require_all: bool = True
    proxy: ClassVar[bool] = True

    def __post_init__(self):
        if self.value_weight + self.momentum_weight <= 0:
            raise ValueError("value_weight and momentum_weight cannot both be 0")
        LongTermReversal(self.value_lookback, self.value_skip)
        Momentum(self.momentum_lookback, self.momentum_skip)

    def components(self, md: MarketData) -> dict[str, tuple[float, pd.DataFrame]]:
        """Name -> (weight, z-scored panel) of each component with a positive weight."""
        out = {}
        if self.value_weight > 0:
            raw = LongTermReversal(self.value_lookback, self.value_skip).signal(md)
            out["value"] = (self.value_weight, cross_sectional_zscore(raw, self.min_periods))
        if self.momentum_weight > 0:
            raw = Momentum(self.momentum_lookback, self.momentum_skip).signal(md)
            out["momentum"] = (self.momentum_weight, cross_sectional_zscore(raw, self.min_periods))
        return out

    def signal(self, md: MarketData) -> pd.DataFrame:
        parts = list(self.components(md).values())
        total = np.zeros(md.close.shape)
        weight = np.zeros(md.close.shape)
        missing = np.zeros(md.close.shape, dtype=bool)
        for w, z in parts:
            values = z.to_numpy()
            has = np.isfinite(values)
            total += np.where(has, w * values, 0.0)
            weight += np.where(has, w, 0.0)
            missing |= ~has
        with np.errstate(invalid="ignore", divide="ignore"):
            blend = total / weight
        blend[weight == 0] = np.nan
        if self.require_all:
            blend[missing] = np.nan
        return pd.DataFrame(blend, index=md.close.index, columns=md.close.columns)
