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

With ``half_spread_bps`` above 0 the model is a half spread plus the impact,
:math:`s |V| + k_t \, \text{impact}(V)`, and both :math:`s` and :math:`k_t` are fitted
to the past fills' cost per unit traded, :math:`\text{realized}_i/|V_i| = s + k \,
\text{prior}_i/|V_i|`, by least squares with the weights :math:`\omega_i` (non-negative: a
negative one is set to 0 and the other refitted); the prior holds until ``min_fills``.
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
    half_spread_bps: Annotated[float, Field(ge=0)] = 0.0
    requires = frozenset({"adv", "volatility", "fill_history"})

    def __call__(self, value, shares, price, ctx=None):
        impact = super().__call__(value, shares, price, ctx)
        spread, scale = self.fit(value.shape[0], ctx)
        return np.abs(value) * spread[:, None] + impact * scale[:, None]

    def calibrated_eta(self, n_scenarios: int, ctx: CostContext | None) -> np.ndarray:
        """(B,) the temporary-impact coefficient in force for a fill at ``ctx.row``."""
        return per_scenario(self.eta, n_scenarios)[:, 0] * self.scale(n_scenarios, ctx)

    def calibration(self, n_scenarios: int, ctx: CostContext | None) -> dict[str, np.ndarray]:
        """Diagnostics of the calibration in force at ``ctx.row``: ``impact_scale``, ``eta`` and,
        with a spread, ``half_spread_bps`` (B,)."""
        spread, k = self.fit(n_scenarios, ctx)
        out = {"impact_scale": k, "eta": per_scenario(self.eta, n_scenarios)[:, 0] * k}
        if np.any(per_scenario(self.half_spread_bps, n_scenarios) > 0):
            out["half_spread_bps"] = spread * 1e4
        return out

    def scale(self, n_scenarios: int, ctx: CostContext | None) -> np.ndarray:
        """(B,) the calibration factor :math:`k_t` (1 until ``min_fills`` past fills)."""
        return self.fit(n_scenarios, ctx)[1]

    def fit(self, n_scenarios: int, ctx: CostContext | None) -> tuple[np.ndarray, np.ndarray]:
        """(B,) half spread (a fraction of traded value) and (B,) impact scale in force at ``ctx.row``."""
        spread0 = per_scenario(self.half_spread_bps, n_scenarios)[:, 0] * 1e-4
        hist = None if ctx is None else ctx.fill_history
        if hist is None or len(hist.row) == 0:
            return spread0, np.ones(n_scenarios)
        past = hist.row < ctx.row
        weight = np.where(past, 1.0, 0.0)
        if self.halflife is not None:
            halflife = per_scenario(self.halflife, n_scenarios)[hist.scenario, 0]
            weight = weight * np.exp2(-(ctx.row - hist.row) / halflife)
        counts = np.bincount(hist.scenario[past], minlength=n_scenarios)[:n_scenarios]
        ready = counts >= per_scenario(self.min_fills, n_scenarios)[:, 0]

        def total(x):
            return np.bincount(hist.scenario, weights=weight * x, minlength=n_scenarios)[:n_scenarios]

        prior, size, y = self._prior_costs(hist, ctx, n_scenarios), np.abs(hist.value), hist.realized
        with_spread = spread0 > 0
        ratio = total(y) / np.where(total(prior) > 0, total(prior), np.nan)
        spread, k = np.where(with_spread, np.nan, 0.0), ratio
        if with_spread.any():
            unit, z = prior / np.where(size > 0, size, 1.0), y / np.where(size > 0, size, 1.0)
            s_fit, k_fit = _two_term_fit(total(np.ones_like(z)), total(unit), total(unit * unit), total(z),
                                         total(unit * z))
            spread, k = np.where(with_spread, s_fit, 0.0), np.where(with_spread, k_fit, ratio)
        ok = ready & np.isfinite(k) & np.isfinite(spread)
        return np.where(ok, spread, spread0), np.where(ok, k, 1.0)

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


def _two_term_fit(svv, svc, scc, svy, scy) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative least squares of y on two regressors (a constant: the spread, and the prior
    impact per unit traded), from their weighted sums of squares and cross-products (``v`` the
    first regressor, ``c`` the second); (B,) each, NaN where not identified."""
    det = svv * scc - svc * svc
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(det > 0, (scc * svy - svc * scy) / det, np.nan)
        k = np.where(det > 0, (svv * scy - svc * svy) / det, np.nan)
        only_k = np.where(scc > 0, np.maximum(scy, 0.0) / scc, np.nan)
        only_s = np.where(svv > 0, np.maximum(svy, 0.0) / svv, np.nan)
    s, k = np.where(s < 0, 0.0, s), np.where(s < 0, only_k, k)
    return np.where(k < 0, only_s, s), np.where(k < 0, 0.0, k)
