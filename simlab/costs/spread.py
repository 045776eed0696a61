"""Spread and commission: half the bid-ask spread on the traded value, plus a broker's fee per share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.costs.base import CostModel
from simlab.contract.step import per_scenario


@register("cost", "spread")
@dataclass(frozen=True)
class SpreadCost(CostModel):
    """``half_spread_bps`` of the traded value plus a per-share commission with a minimum.

    For a trade of ``q`` shares worth ``V = q * price``::

        cost = half_spread_bps * 1e-4 * |V| + commission
        commission = min(max(commission_per_share * |q|, min_commission), max_commission_bps * 1e-4 * |V|)

    and 0 for no trade. ``max_commission_bps`` (None: no cap) is the broker's cap as a share
    of the trade value (1% = 100 bps at Interactive Brokers' fixed tier, whose $0.005 per
    share and $1 minimum are the defaults here); it also keeps a tiny fractional trade from
    paying the whole minimum. Buys and sells pay alike.

    The minimum breaks ``cost(s * x) <= s * cost(x)`` (the contract in
    :mod:`simlab.costs.base`): a trade scaled down keeps paying the minimum. The order
    generator scales buys to the cash assuming that property, so on a day when buys are
    scaled by ``s < 1`` the recomputed costs can exceed the cash by at most
    ``(1 - s) * min_commission`` per buy: cash can end a few dollars below zero (or below the
    borrowing allowance). Set ``execution.min_trade_value`` to skip trades whose commission
    would dwarf them.
    """

    half_spread_bps: Annotated[float, Field(ge=0)] = 5.0
    commission_per_share: Annotated[float, Field(ge=0)] = 0.005
    min_commission: Annotated[float, Field(ge=0)] = 1.0
    max_commission_bps: Annotated[float, Field(gt=0)] | None = None

    def __call__(self, value, shares, price, ctx=None):
        b = value.shape[0]
        size = np.abs(value)
        commission = np.maximum(np.abs(shares) * per_scenario(self.commission_per_share, b),
                                per_scenario(self.min_commission, b))
        if self.max_commission_bps is not None:
            commission = np.minimum(commission, size * per_scenario(self.max_commission_bps, b) * 1e-4)
        traded = (shares != 0) & (size > 0)
        return size * per_scenario(self.half_spread_bps, b) * 1e-4 + np.where(traded, commission, 0.0)

    def linear_rate(self, n_scenarios):
        if np.any(np.asarray(self.commission_per_share) != 0) or np.any(np.asarray(self.min_commission) != 0):
            return None
        return per_scenario(self.half_spread_bps, n_scenarios)[:, 0] * 1e-4
