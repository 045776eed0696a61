"""The participation cap: no trade may exceed a fraction of the asset's trailing daily volume.

With ``execution.max_participation`` set, each trade is clipped to
``max_participation * ADV / price`` shares (ADV over ``execution.adv_window`` days before
the fill); what the cap holds back is carried to the next trading day
(:meth:`simlab.execution.orders.Order.rest`). An asset with no known ADV is not capped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.data.market import MarketData
from simlab.execution.cost_inputs import trailing_adv


@dataclass(frozen=True)
class ParticipationCap:
    """The cap of one run: ``fraction`` of ``adv`` (T, N), the trailing traded value."""

    fraction: float
    adv: np.ndarray

    @classmethod
    def build(cls, md: MarketData, execution) -> ParticipationCap | None:
        """The cap ``execution`` (an ExecutionConfig) asks for on ``md``; None without one."""
        if execution.max_participation is None:
            return None
        return cls(execution.max_participation, trailing_adv(md, execution.adv_window))

    def max_shares(self, row: int, price: np.ndarray) -> np.ndarray:
        """(N,) the most shares one trade may fill on ``row`` at ``price`` (N,); inf where unknown."""
        with np.errstate(invalid="ignore", divide="ignore"):
            cap = self.fraction * self.adv[row] / price
        return np.where(np.isfinite(cap), cap, np.inf)
