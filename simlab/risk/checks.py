"""Pre-trade checks: Steps that block a rebalance instead of reshaping it.

A check looks at the targets the pipeline arrived at and, for each scenario, either lets
them through unchanged or blocks the whole rebalance: it returns the book's current
weights for that scenario and sets the diagnostics key :data:`~simlab.contract.step.HOLD`,
so the engine leaves the book as it is (no order, no fill, no cost) and records why.

A limit is breached when the measured value is above it by more than :data:`TOLERANCE`
(a rounding allowance: equal weights of a third add up to 1 + 2e-16); exactly at the
limit passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from simlab.config.registry import register
from simlab.errors import ConfigError
from simlab.contract.roles import UTILIZATION
from simlab.contract.step import HOLD, Step, StepContext, per_scenario

TOLERANCE = 1e-9


def _block(weights: np.ndarray, ctx: StepContext, blocked: np.ndarray) -> np.ndarray:
    """The targets, with each blocked scenario's row replaced by its current weights."""
    return np.where(blocked[:, None], ctx.weights, weights)


def one_way_turnover(targets: np.ndarray, current: np.ndarray) -> np.ndarray:
    """(B,) half the sum of absolute weight changes: buying a whole book from cash is 0.5."""
    return 0.5 * np.abs(targets - current).sum(axis=1)


@register("step", "max_turnover_check")
@dataclass(frozen=True)
class MaxTurnoverCheck(Step):
    """Block a rebalance whose one-way turnover against the current book exceeds ``max_turnover``.

    One-way turnover is half the sum of absolute changes from ``ctx.weights`` (the
    convention of :func:`simlab.analysis.metrics.annual_turnover`). With
    ``allow_initial`` (default) a scenario that has never rebalanced is not checked, so
    that a limit under 0.5 cannot keep a new book in cash for ever.

    Diagnostics (B,): ``turnover``, ``utilization`` (turnover / limit) and ``hold``.

    Requires: weights. Provides: hold.
    """

    diagnostic_roles = {"utilization": UTILIZATION}

    max_turnover: Annotated[float, Field(gt=0)] = 0.5
    allow_initial: bool = True

    def __call__(self, weights, ctx):
        limit = per_scenario(self.max_turnover, ctx.n_scenarios)[:, 0]
        turnover = one_way_turnover(weights, ctx.weights)
        blocked = turnover > limit + TOLERANCE
        if self.allow_initial and ctx.last_rebalance is not None:
            blocked &= ctx.last_rebalance >= 0
        diag = {HOLD: blocked, "turnover": turnover, "utilization": turnover / limit}
        return _block(weights, ctx, blocked), diag


def sector_codes(ctx: StepContext, step: str) -> tuple[np.ndarray, list[str]]:
    """(N,) sector index of each asset of ``ctx`` (-1: no sector) and the sector names."""
    meta = ctx.meta
    if meta is None or "sector" not in meta:
        raise ConfigError(f"{step} needs a sector per asset: give the experiment a universe file "
                          "whose assets have a 'sector'")
    sectors = meta["sector"].reindex(list(ctx.assets))
    codes, names = pd.factorize(sectors, use_na_sentinel=True)
    return codes, [str(n) for n in names]


@register("step", "sector_concentration_check")
@dataclass(frozen=True)
class SectorConcentrationCheck(Step):
    """Block a rebalance whose targets put more than ``max_sector_weight`` in one sector.

    A sector's weight is the sum of the absolute target weights of its assets; assets
    without a sector count toward none. Sectors come from the universe metadata.

    Diagnostics (B,): ``max_sector_weight``, ``utilization`` (it / limit), ``hold``, and
    ``sector_weight.NAME`` for every sector of the universe.

    Requires: universe sectors. Provides: hold.
    """

    diagnostic_roles = {"utilization": UTILIZATION}

    max_sector_weight: Annotated[float, Field(gt=0, le=1)] = 0.40

    def __call__(self, weights, ctx):
        codes, names = sector_codes(ctx, self.key)
        members = (codes[:, None] == np.arange(len(names))[None, :]).astype(float)  # (N, S)
        by_sector = np.abs(weights) @ members  # (B, S)
        worst = by_sector.max(axis=1) if names else np.zeros(len(weights))
        limit = per_scenario(self.max_sector_weight, ctx.n_scenarios)[:, 0]
        blocked = worst > limit + TOLERANCE
        diag = {HOLD: blocked, "max_sector_weight": worst, "utilization": worst / limit}
        diag.update({f"sector_weight.{name}": by_sector[:, k] for k, name in enumerate(names)})
        return _block(weights, ctx, blocked), diag
