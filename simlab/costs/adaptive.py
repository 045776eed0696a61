r"""An impact model that recalibrates itself from the run's realized fills, point in time.

``adaptive_impact`` is :mod:`~simlab.costs.sqrt_impact` times a per-scenario scale
:math:`k_t` learned from the fills booked *before* the fill being priced (the engine
hands them in as :class:`~simlab.contract.cost.FillHistory`; a fill on row t never sees
row t's own fills):

.. math::

    k_t = \frac{\sum_{i: t_i < t} \omega_i \, \text{realized}_i}{\sum_{i: t_i < t} \omega_i \, \text{prior}_i}

where :math:`\text{prior}_i` is the square-root model's cost of fill i at the configured
(prior) coefficients and :math:`\omega_i = 2^{-(t - t_i)/h}` with half-life h rows
(``halflife``; None weighs every past fill equally). With fewer than ``min_fills`` past
fills, :math:`k_t = 1`: the prior holds. The calibrated coefficients are
:math:`k_t \eta` and :math:`k_t \gamma` (:meth:`AdaptiveImpact.calibrated_eta`): the
estimator recovers a true model of the same shape whose coefficients are off by a common
factor, such as a prior three times too high. Realized costs come from the run's
``realized_costs`` model in a backtest, or from broker fills.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.contract.cost import CostContext
from simlab.contract.step import per_scenario
from simlab.costs.sqrt_impact import SqrtImpact
from simlab.errors import SimlabWarning


@register("cost", "adaptive_impact")
@dataclass(frozen=True)
class AdaptiveImpact(SqrtImpact):
    r"""Square-root impact scaled by :math:`k_t`, calibrated on past realized fills (module docstring)."""

    min_fills: Annotated[int, Field(ge=1)] = 20
    halflife: Annotated[float, Field(gt=0)] | None = None
    requires = frozenset({"adv", "volatility", "fill_history"})

    def __call__(self, value, shares, price, ctx=None):
        base = super().__call__(value, shares, price, ctx)
        return base * self.scale(value.shape[0], ctx)[:, None]

    def calibrated_eta(self, n_scenarios: int, ctx: CostContext | None) -> np.ndarray:
        """(B,) the temporary-impact coefficient in force for a fill at ``ctx.row``."""
        return per_scenario(self.eta, n_scenarios)[:, 0] * self.scale(n_scenarios, ctx)

    def calibration(self, n_scenarios: int, ctx: CostContext | None) -> dict[str, np.ndarray]:
        """Diagnostics of the calibration in force at ``ctx.row``: ``impact_scale`` and ``eta`` (B,)."""
        k = self.scale(n_scenarios, ctx)
        return {"impact_scale": k, "eta": per_scenario(self.eta, n_scenarios)[:, 0] * k}

    def scale(self, n_scenarios: int, ctx: CostContext | None) -> np.ndarray:
        """(B,) the calibration factor :math:`k_t` (1 until ``min_fills`` past fills)."""
        out = np.ones(n_scenarios)
        hist = None if ctx is None else ctx.fill_history
        if hist is None or len(hist.row) == 0:
            return out
        past = hist.row < ctx.row
        prior = self._prior_costs(hist, ctx, n_scenarios)
        weight = np.where(past, 1.0, 0.0)
        if self.halflife is not None:
            halflife = per_scenario(self.halflife, n_scenarios)[hist.scenario, 0]
            weight = weight * np.exp2(-(ctx.row - hist.row) / halflife)
        counts = np.bincount(hist.scenario[past], minlength=n_scenarios)[:n_scenarios]
        realized = np.bincount(hist.scenario, weights=weight * hist.realized, minlength=n_scenarios)[:n_scenarios]
        expected = np.bincount(hist.scenario, weights=weight * prior, minlength=n_scenarios)[:n_scenarios]
        ready = (counts >= per_scenario(self.min_fills, n_scenarios)[:, 0]) & (expected > 0)
        return np.where(ready, realized / np.where(ready, expected, 1.0), 1.0)

    def _prior_costs(self, hist, ctx: CostContext, n_scenarios: int) -> np.ndarray:
        """(K,) the prior model's cost of each past fill, with the ADV and volatility it was priced with."""
        n_assets = len(ctx.assets) if ctx.assets else int(hist.asset.max()) + 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SimlabWarning)  # the fill itself already warned
            fallback_adv = self.adv(n_assets, CostContext(row=ctx.row, assets=ctx.assets, meta=ctx.meta))
        adv = np.where(np.isfinite(hist.adv) & (hist.adv > 0), hist.adv, fallback_adv[hist.asset])
        default_vol = per_scenario(self.default_volatility, n_scenarios)[hist.scenario, 0]
        vol = np.where(np.isfinite(hist.volatility), hist.volatility, default_vol)
        size = np.abs(hist.value)
        x = size / adv
        eta = per_scenario(self.eta, n_scenarios)[hist.scenario, 0]
        beta = per_scenario(self.beta, n_scenarios)[hist.scenario, 0]
        gamma = per_scenario(self.gamma, n_scenarios)[hist.scenario, 0]
        return size * vol * (eta * np.power(x, beta) + 0.5 * gamma * x)
