r"""Market impact after Almgren et al. (2005): a square-root temporary impact and a linear permanent one.

For a trade of value :math:`V` in an asset with daily return volatility :math:`\sigma` and
average daily traded value :math:`\mathrm{ADV}`, with participation
:math:`x = |V| / \mathrm{ADV}` (the fill day is the execution horizon, :math:`T` = 1 day):

.. math::

    \text{cost} = |V|\,\sigma\,\Bigl(\eta\, x^{\beta} + \tfrac{\gamma}{2}\, x\Bigr)

The first term is the temporary impact :math:`\eta\sigma x^\beta`, paid on the whole trade
(:math:`\beta = 1/2` is the square-root law: Almgren, Thum, Hauptmann and Li, "Direct
Estimation of Equity Market Impact", Risk 2005, fit :math:`\beta = 0.6`; Toth et al. 2011
and Bouchaud's surveys find 1/2 across markets). The second is the permanent impact: the
price moves by :math:`\gamma\sigma x` over the trade and the trade, filled along the way,
pays half of that move on average; this is Almgren et al.'s realized cost
:math:`J = I/2 + \eta\sigma x^\beta` with the turnover factor :math:`(\Theta/V)^{1/4}` set
to 1. The defaults :math:`\eta = 0.142` and :math:`\gamma = 0.314` are their estimates for
US large caps.

ADV, per asset, first known of:

1. the engine's trailing ADV (``ctx.adv``: 20-day mean of ``close * volume``, or the
   universe's ``adv``);
2. the universe's ``liquidity_tier`` mapped through ``tier_adv``;
3. the fallback: ``default_adv`` if given, else the least liquid tier's ADV (the smallest
   value in ``tier_adv``), the conservative choice. Using it raises a ``SimlabWarning``
   naming the assets, so a run never prices impact on invented liquidity unknowingly.

A missing volatility (too little history) uses ``default_volatility``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.contract.cost import CostContext
from simlab.costs.base import CostModel
from simlab.errors import DataError, SimlabWarning
from simlab.contract.step import per_scenario

DEFAULT_TIER_ADV = {1: 1e9, 2: 2e8, 3: 5e7}


@register("cost", "sqrt_impact")
@dataclass(frozen=True)
class SqrtImpact(CostModel):
    r"""``|V| * sigma * (eta * (|V|/ADV)**beta + gamma / 2 * |V|/ADV)`` (see the module docstring).

    Superlinear in size, so ``cost(s * x) <= s * cost(x)`` holds for ``0 <= s <= 1``.
    """

    eta: Annotated[float, Field(ge=0)] = 0.142
    beta: Annotated[float, Field(gt=0, le=1)] = 0.5
    gamma: Annotated[float, Field(ge=0)] = 0.314
    tier_adv: dict[int, Annotated[float, Field(gt=0)]] = field(default_factory=lambda: dict(DEFAULT_TIER_ADV))
    default_adv: Annotated[float, Field(gt=0)] | None = None
    default_volatility: Annotated[float, Field(gt=0)] = 0.02
    requires = frozenset({"adv", "volatility"})

    def __post_init__(self):
        if self.default_adv is None and not self.tier_adv:
            raise ValueError("give tier_adv or default_adv, the ADV of an asset with no liquidity data")

    def __call__(self, value, shares, price, ctx=None):
        b, n = value.shape
        adv = self.adv(n, ctx)
        vol = self.volatility(n, ctx, b)
        size = np.abs(value)
        x = size / adv
        temporary = per_scenario(self.eta, b) * np.power(x, per_scenario(self.beta, b))
        permanent = 0.5 * per_scenario(self.gamma, b) * x
        return size * vol * (temporary + permanent)

    def adv(self, n_assets: int, ctx: CostContext | None) -> np.ndarray:
        """(N,) ADV in money per day: data, else liquidity tier, else the fallback (warned)."""
        adv = np.full(n_assets, np.nan)
        if ctx is not None and ctx.adv is not None:
            adv = np.where(ctx.adv > 0, ctx.adv, np.nan)
        tiers = _tiers(ctx, n_assets)
        if tiers is not None:
            from_tier = np.array([self.tier_adv.get(int(t), np.nan) if np.isfinite(t) else np.nan for t in tiers])
            adv = np.where(np.isfinite(adv), adv, from_tier)
        missing = ~np.isfinite(adv)
        if missing.any():
            fallback = self.default_adv if self.default_adv is not None else min(self.tier_adv.values())
            names = _names(ctx, missing)
            warnings.warn(
                f"sqrt_impact: no ADV for {names}; their impact uses the fallback ADV {fallback:,.0f}. "
                "Give the universe an `adv` or a `liquidity_tier` per asset, or data with volume.",
                SimlabWarning, stacklevel=2,
            )
            adv = np.where(missing, fallback, adv)
        return adv

    def volatility(self, n_assets: int, ctx: CostContext | None, n_scenarios: int = 1) -> np.ndarray:
        """(N,) daily volatility: the engine's trailing estimate, else ``default_volatility``.

        (B, N) when ``default_volatility`` holds one value per scenario.
        """
        vol = np.full(n_assets, np.nan) if ctx is None or ctx.volatility is None else np.asarray(ctx.volatility)
        default = self.default_volatility
        if np.ndim(default):
            default = per_scenario(default, n_scenarios)
        return np.where(np.isfinite(vol), vol, default)


def _tiers(ctx: CostContext | None, n_assets: int) -> np.ndarray | None:
    """(N,) liquidity tiers from the asset metadata (rows in asset order), or None."""
    meta = None if ctx is None else ctx.meta
    if meta is None or "liquidity_tier" not in meta:
        return None
    if len(meta) != n_assets:
        raise DataError(f"asset metadata has {len(meta)} rows for {n_assets} assets; expected one row per asset")
    return meta["liquidity_tier"].to_numpy(dtype=np.float64, na_value=np.nan)


def _names(ctx: CostContext | None, missing: np.ndarray) -> str:
    meta = None if ctx is None else ctx.meta
    if meta is not None and len(meta) == len(missing):
        names = [str(a) for a in meta.index[missing]]
    else:
        names = [f"asset #{i}" for i in np.flatnonzero(missing)]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
