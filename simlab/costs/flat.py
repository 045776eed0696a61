"""Flat cost: a fixed number of basis points of traded value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.costs.base import CostModel, NoCost
from simlab.contract.step import per_scenario


@register("cost", "flat")
@dataclass(frozen=True)
class FlatCost(CostModel):
    """``bps`` basis points of the absolute traded value, on buys and sells alike."""

    bps: Annotated[float, Field(ge=0)] = 10.0

    def __call__(self, value, shares, price, ctx=None):
        return np.abs(value) * per_scenario(self.bps, value.shape[0]) * 1e-4

    def linear_rate(self, n_scenarios):
        return per_scenario(self.bps, n_scenarios)[:, 0] * 1e-4


register("cost", "none")(NoCost)
