"""Risk overlays: Steps that reshape the allocator's weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.portfolio.step import Step, per_scenario
from simlab.portfolio.weights import cap_and_redistribute


@register("step", "position_limit")
@dataclass(frozen=True)
class PositionLimit(Step):
    """Cap every long position at ``max_weight``; the excess goes to uncapped names pro rata.

    Total invested weight is kept where the cap allows it; when every held name is at the
    cap, the rest goes to cash. Diagnostics: how many names were capped and the weight moved.

    Requires: weights. Provides: weights.
    """

    max_weight: Annotated[float, Field(gt=0, le=1)] = 0.25

    def __call__(self, weights, ctx):
        long = np.maximum(weights, 0.0)
        capped, hit = cap_and_redistribute(long, per_scenario(self.max_weight, ctx.n_scenarios))
        out = np.where(weights > 0, capped, weights)
        moved = np.abs(out - weights).sum(axis=1) / 2
        return out, {"n_capped": hit.sum(axis=1), "weight_moved": moved, "capped": hit.astype(float)}
