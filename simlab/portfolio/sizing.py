r"""Position sizing Steps: volatility target, fractional Kelly, risk budgets.

Each sizer takes the allocator's weights (B, N) as the choice of names and directions
(and, where it says so, of relative importance) and returns sized weights; what is not
invested stays in cash. All three then apply the same two limits, in this order:

1. **Gross cap.** If ``sum |w|`` exceeds ``max_gross`` every position is scaled down by the
   same factor.
2. **Per-position limit with a soft override.** ``|w_i|`` is clipped to

   .. math::  L_i = \text{max\_weight}\,\bigl(1 + \text{override\_margin}\cdot
              \operatorname{clip}\bigl(\tfrac{c_i - \theta}{1 - \theta}, 0, 1\bigr)\bigr)

   with :math:`\theta` the ``conviction_threshold``. Conviction :math:`c_i` (see
   :func:`conviction`) is the signal's cross-sectional percentile in the position's
   direction, in (0, 1]. At or below the threshold the limit is ``max_weight``; above it
   the limit rises linearly, reaching ``max_weight * (1 + override_margin)`` for the single
   strongest name. The limit is continuous in conviction: no name jumps from capped to
   uncapped when its rank moves by one. Clipped weight goes to cash.

   The design documents' rule as written, "soft limit: 20% override margin when
   conviction > 0.8", is ``override_ramp: step`` (or the preset ``rules: as_written``):
   every name with conviction strictly above the threshold gets the whole margin, the
   others none. The documents do not define conviction; here it stays the percentile
   rank, so with 20 names the top 3 (conviction 0.85, 0.9, 0.95 and 1.0 above 0.8) get
   the override. The linear ramp is the default because the step lets one rank's move
   across 0.8 change a position by the whole margin.

Volatilities are the :class:`simlab.features.volatility.Volatility` Feature (daily), and
covariances the :class:`simlab.features.covariance.Covariance` Feature, annualized with
``periods`` daily returns a year (default: the data's calendar, 252, or 365 on
``data.calendar: every_day``). A held name without a volatility (too little history) cannot be sized:
its weight becomes 0 and the diagnostics count it in ``n_unsized``.

Numeric fields may hold one value per scenario (arrays of shape (B,)), the feature windows
included: each scenario then reads its own Feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.features.covariance import Covariance
from simlab.features.returns import MeanReturn
from simlab.features.volatility import Volatility
from simlab.contract.step import Step, StepContext, per_scenario, scenario_values, year_of

Fraction = Annotated[float, Field(gt=0, le=1)]


def conviction(signal: np.ndarray | None, weights: np.ndarray) -> np.ndarray:
    """(B, N) conviction in each position: its signal's percentile in the position's direction.

    For a long (or zero) weight it is pandas' ``rank(pct=True)`` of the signal across the
    assets with a finite signal (highest = 1, ties averaged); for a short it is the same
    rank of minus the signal, so the most negative signal is the strongest short. Assets
    without a finite signal, and every asset when there is no signal, have conviction 0:
    they never get the override.
    """
    if signal is None:
        return np.zeros(weights.shape)
    from scipy.stats import rankdata  # scipy.stats takes a second to import: loaded by the Steps that rank

    signal = np.broadcast_to(np.asarray(signal, dtype=float), weights.shape)
    finite = np.isfinite(signal)
    count = finite.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = rankdata(np.where(finite, signal, np.nan), axis=1, nan_policy="omit") / count
        down = rankdata(np.where(finite, -signal, np.nan), axis=1, nan_policy="omit") / count
    pct = np.where(weights < 0, down, up)
    return np.where(finite, pct, 0.0)


def soft_limit(weights, conv, max_weight, threshold, margin, ramp: str = "linear"):
    """Clip ``|weights|`` (B, N) to the conviction-dependent limit; return (weights, limit (B, N)).

    ``max_weight``, ``threshold`` and ``margin`` are (B, 1) columns; ``ramp`` is ``linear``
    or ``step`` (the whole margin above the threshold); see the module docstring.
    """
    if ramp == "step":
        ramp = (conv > threshold).astype(float)
    else:
        ramp = np.clip((conv - threshold) / (1.0 - threshold), 0.0, 1.0)
    limit = max_weight * (1.0 + margin * ramp)
    return np.sign(weights) * np.minimum(np.abs(weights), limit), limit


def cap_gross(weights: np.ndarray, max_gross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale rows whose ``sum |w|`` exceeds ``max_gross`` (B, 1) down to it; return (weights, scale (B,))."""
    gross = np.abs(weights).sum(axis=1, keepdims=True)
    scale = np.where(gross > max_gross, max_gross / np.where(gross > 0, gross, 1.0), 1.0)
    return weights * scale, scale[:, 0]


@dataclass(frozen=True)
class _Sizer(Step):
    """Fields and the limit stage shared by every sizer (documented in the module docstring)."""

    max_weight: Annotated[float, Field(gt=0)] = 0.25
    conviction_threshold: Annotated[float, Field(ge=0, lt=1)] = 0.8
    override_margin: Annotated[float, Field(ge=0)] = 0.2
    max_gross: Annotated[float, Field(gt=0)] = 1.0
    override_ramp: Literal["linear", "step"] = "linear"
    rules: Literal["simlab", "as_written"] = "simlab"

    def __post_init__(self):
        if self.rules == "as_written":
            object.__setattr__(self, "override_ramp", "step")

    def _limit(self, sized: np.ndarray, ctx: StepContext, diag: dict) -> tuple[np.ndarray, dict]:
        b = ctx.n_scenarios
        capped, scale = cap_gross(sized, per_scenario(self.max_gross, b))
        base = per_scenario(self.max_weight, b)
        conv = conviction(ctx.signal, capped)
        out, limit = soft_limit(capped, conv, base, per_scenario(self.conviction_threshold, b),
                                per_scenario(self.override_margin, b), self.override_ramp)
        diag.update({
            "gross_scale": scale,
            "n_limited": (np.abs(capped) > limit * (1 + 1e-12)).sum(axis=1),
            "n_override": (np.abs(out) > base * (1 + 1e-12)).sum(axis=1),
            "gross": np.abs(out).sum(axis=1),
            "conviction": conv,
            "limit": limit,
        })
        return out, diag


def _volatility_features(window, halflife, n_scenarios) -> list[Volatility]:
    return [Volatility(window=int(w), halflife=h)
            for w, h in zip(scenario_values(window, n_scenarios), scenario_values(halflife, n_scenarios))]


def _annual_vol(daily: np.ndarray, periods, floor) -> np.ndarray:
    """Annualized vol (B, N) floored at ``floor`` (B, 1); NaN stays NaN."""
    vol = np.asarray(daily, dtype=float) * np.sqrt(periods)
    return np.where(np.isfinite(vol), np.maximum(vol, floor), np.nan)


@register("step", "vol_target_size")
@dataclass(frozen=True)
class VolTargetSize(_Sizer):
    r"""Inverse-volatility sizing to an annualized volatility target.

    ``scope: position``: every held name gets :math:`|w_i| = \text{target\_vol} / \sigma_i`
    in the direction of its incoming weight, so each position alone has volatility
    ``target_vol``; incoming magnitudes are ignored.

    ``scope: portfolio``: :math:`w = k\,u` with :math:`u_i = w^{in}_i / \sigma_i` (or
    :math:`u = w^{in}` when ``tilt`` is false) and :math:`k` such that the portfolio's
    volatility :math:`\sqrt{\text{periods}\cdot u^\top \Sigma u}\,k` equals ``target_vol``,
    with :math:`\Sigma` the daily covariance of the trailing ``window`` returns (sample, or
    EWMA with ``halflife``).

    :math:`\sigma_i` is the annualized trailing volatility (``window``, ``halflife``),
    floored at ``vol_floor``. Then the gross cap and the soft per-position limit.
    Diagnostics: ``vol_scale`` (k, or 1 for position scope), ``ex_ante_vol`` of the
    result, ``n_unsized``, and the limit stage's keys.

    Requires: prices. Provides: weights.
    """

    target_vol: Annotated[float, Field(gt=0)] = 0.10
    scope: Literal["portfolio", "position"] = "portfolio"
    tilt: bool = True
    window: Annotated[int, Field(ge=2)] = 60
    halflife: Annotated[float, Field(gt=0)] | None = None
    vol_floor: Annotated[float, Field(gt=0)] = 0.01
    periods: Annotated[float, Field(gt=0)] | None = None

    def features(self, n_scenarios):
        if self.scope == "position":
            return {"volatility": _volatility_features(self.window, self.halflife, n_scenarios)}
        return {"covariance": [
            Covariance(estimator="sample" if h is None else "ewma", window=int(w), halflife=h)
            for w, h in zip(scenario_values(self.window, n_scenarios), scenario_values(self.halflife, n_scenarios))
        ]}

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        periods, target = year_of(self.periods, ctx), per_scenario(self.target_vol, b)
        if self.scope == "position":
            vol = _annual_vol(ctx.feature("volatility"), periods, per_scenario(self.vol_floor, b))
            cov = None
        else:
            cov = np.asarray(ctx.feature("covariance"), dtype=float)
            vol = _annual_vol(np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), periods, per_scenario(self.vol_floor, b))
        held = weights != 0
        sizable = held & np.isfinite(vol)
        safe_vol = np.where(sizable, vol, 1.0)
        if cov is None:
            sized = np.where(sizable, np.sign(weights) * target / safe_vol, 0.0)
            k = np.ones(b)
        else:
            u = np.where(sizable, weights / safe_vol if self.tilt else weights, 0.0)
            port = np.sqrt(periods[:, 0] * _quadratic(cov, u))
            k = np.divide(target[:, 0], port, out=np.zeros(b), where=port > 0)
            sized = u * k[:, None]
        diag = {"vol_scale": k, "n_unsized": (held & ~sizable).sum(axis=1)}
        out, diag = self._limit(sized, ctx, diag)
        if cov is not None:
            diag["ex_ante_vol"] = np.sqrt(periods[:, 0] * _quadratic(cov, out))
        return out, diag


@register("step", "fractional_kelly")
@dataclass(frozen=True)
class FractionalKelly(_Sizer):
    r"""Fractional Kelly sizing, asset by asset: :math:`w_i = f\,\mu_i / \sigma_i^2`.

    :math:`f` is ``fraction`` (0.5: half Kelly, which gives up a quarter of the full-Kelly
    growth rate for half its volatility). :math:`\mu_i` is the expected annual excess return:
    ``mu: history`` (the default) is the trailing mean daily return over ``mu_window`` days
    times ``periods``; ``mu: signal`` reads it as ``mu_scale * signal`` (a signal in return
    units, such as momentum's trailing return, scaled to a one-year forecast) and needs a
    strategy. :math:`\sigma_i` is
    the annualized trailing volatility (``window``, ``halflife``), floored at ``vol_floor``.
    Each asset is treated as an independent bet (the diagonal of the covariance), the
    standard single-asset Kelly rule applied name by name.

    Only names the incoming weights hold are sized, in their direction: a name whose
    :math:`\mu` points against its direction gets 0 (continuous at :math:`\mu = 0`). Then the
    gross cap (Kelly weights are often levered) and the soft per-position limit.
    Diagnostics: ``kelly_gross`` before the caps, ``n_unsized`` (no mu or no vol), ``n_against``.

    Requires: prices (and a signal with ``mu: signal``). Provides: weights.
    """

    fraction: Annotated[float, Field(gt=0)] = 0.5
    mu: Literal["history", "signal"] = "history"
    mu_scale: Annotated[float, Field(gt=0)] = 1.0
    mu_window: Annotated[int, Field(ge=2)] = 252
    window: Annotated[int, Field(ge=2)] = 60
    halflife: Annotated[float, Field(gt=0)] | None = None
    vol_floor: Annotated[float, Field(gt=0)] = 0.01
    periods: Annotated[float, Field(gt=0)] | None = None

    def features(self, n_scenarios):
        specs = {"volatility": _volatility_features(self.window, self.halflife, n_scenarios)}
        if self.mu == "history":
            specs["mean_return"] = [MeanReturn(window=int(w)) for w in scenario_values(self.mu_window, n_scenarios)]
        return specs

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        periods = year_of(self.periods, ctx)
        vol = _annual_vol(ctx.feature("volatility"), periods, per_scenario(self.vol_floor, b))
        mu = self._expected_return(ctx, periods, weights.shape)
        held = weights != 0
        sizable = held & np.isfinite(vol) & np.isfinite(mu)
        safe_vol = np.where(sizable, vol, 1.0)
        kelly = per_scenario(self.fraction, b) * np.where(sizable, mu, 0.0) / safe_vol**2
        direction = np.sign(weights)
        sized = direction * np.maximum(direction * kelly, 0.0)
        diag = {
            "kelly_gross": np.abs(sized).sum(axis=1),
            "n_unsized": (held & ~sizable).sum(axis=1),
            "n_against": (sizable & (direction * kelly < 0)).sum(axis=1),
        }
        return self._limit(sized, ctx, diag)

    def _expected_return(self, ctx: StepContext, periods: np.ndarray, shape) -> np.ndarray:
        if self.mu == "history":
            return np.asarray(ctx.feature("mean_return"), dtype=float) * periods
        if ctx.signal is None:
            raise ValueError("fractional_kelly with mu: signal needs a strategy; use mu: history without one")
        return per_scenario(self.mu_scale, ctx.n_scenarios) * np.broadcast_to(ctx.signal, shape)


@register("step", "risk_budget")
@dataclass(frozen=True)
class RiskBudget(_Sizer):
    r"""Sizes whose component VaRs are in proportion to risk budgets.

    Parametric (normal) daily VaR of the book is :math:`z_\alpha\sqrt{w^\top\Sigma w}` and
    its Euler decomposition gives each position's component VaR
    :math:`\mathrm{CVaR}_i = z_\alpha\, w_i(\Sigma w)_i / \sqrt{w^\top\Sigma w}`; they sum to
    the VaR. The Step solves for :math:`w` with :math:`\mathrm{CVaR}_i / \mathrm{VaR} = b_i`
    (risk budgeting; equal budgets give equal risk contribution), by cyclical coordinate
    descent (Griveau-Billion, Richard and Roncalli 2013), which converges for any positive
    definite :math:`\Sigma`. Budgets :math:`b` are the incoming ``|w|`` normalized
    (``budgets: weights``) or equal over the held names (``budgets: equal``); directions
    are the incoming signs. :math:`\Sigma` is the ``estimator`` covariance of the trailing
    ``window`` daily returns.

    Scale: with ``var_target`` the book's daily VaR at ``confidence`` is set to that fraction
    of NAV; without it the incoming gross exposure is kept. Then the gross cap and the soft
    per-position limit (which may move the realized shares off the budgets; the diagnostics
    ``var_share`` (B, N) and ``var`` (B,) report the result). Held names without a full
    covariance window cannot be sized (``n_unsized``).

    Requires: prices. Provides: weights.
    """

    budgets: Literal["weights", "equal"] = "weights"
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    var_target: Annotated[float, Field(gt=0)] | None = None
    estimator: Literal["sample", "ewma", "ledoit_wolf", "ledoit_wolf_cc"] = "sample"
    window: Annotated[int, Field(ge=2)] = 252
    halflife: Annotated[float, Field(gt=0)] | None = None

    def features(self, n_scenarios):
        return {"covariance": [
            Covariance(estimator=self.estimator, window=int(w), halflife=h)
            for w, h in zip(scenario_values(self.window, n_scenarios), scenario_values(self.halflife, n_scenarios))
        ]}

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = np.asarray(ctx.feature("covariance"), dtype=float)
        held = weights != 0
        sizable = held & np.isfinite(np.diagonal(cov, axis1=1, axis2=2))
        budget = np.where(sizable, np.abs(weights) if self.budgets == "weights" else 1.0, 0.0)
        direction = np.sign(weights)
        clean = np.where(sizable[:, :, None] & sizable[:, None, :] & np.isfinite(cov), cov, 0.0)
        signed_cov = clean * direction[:, :, None] * direction[:, None, :]
        y = risk_budget_solve(signed_cov, budget)
        sized = direction * y * self._scale(y, signed_cov, np.abs(weights).sum(axis=1))[:, None]
        diag = {"n_unsized": (held & ~sizable).sum(axis=1)}
        out, diag = self._limit(sized, ctx, diag)
        var, share = component_var(out, clean, self._z(b))
        diag.update({"var": var, "var_share": share})
        return out, diag

    def _z(self, b: int) -> np.ndarray:
        conf = np.broadcast_to(np.asarray(self.confidence, dtype=float), (b,))
        return np.array([NormalDist().inv_cdf(c) for c in conf])

    def _scale(self, y: np.ndarray, cov: np.ndarray, gross_in: np.ndarray) -> np.ndarray:
        if self.var_target is None:
            gross = y.sum(axis=1)
            return np.divide(gross_in, gross, out=np.zeros_like(gross), where=gross > 0)
        var = self._z(len(y)) * np.sqrt(_quadratic(cov, y))
        return np.divide(per_scenario(self.var_target, len(y))[:, 0], var, out=np.zeros_like(var), where=var > 0)


@register("step", "volatility_cash_buffer")
@dataclass(frozen=True)
class VolatilityCashBuffer(Step):
    """Hold more cash when the book is riskier: a volatility-dependent cash buffer.

    The design documents' rule, "a volatility-dependent cash buffer". The buffer is

    ``buffer = clip(base + sensitivity * (vol - reference), min_buffer, max_buffer)``

    with ``vol`` the ex-ante annualized volatility of the incoming weights, ``sqrt(periods
    * w'Σw)``, ``Σ`` the sample covariance of the trailing ``window`` daily returns. The
    book is then scaled down so that at least ``buffer`` stays in cash: ``w * min(1, (1 -
    buffer) / gross)``. It never scales up. Defaults: 5% cash at 15% volatility, one more
    point of cash per two points of volatility, between 0 and 50%. Held names without a
    full window count with zero covariance; where no volatility can be estimated the
    buffer is ``base`` and ``vol_missing`` says so.

    Diagnostics (B,): ``volatility``, ``buffer``, ``scale``, ``vol_missing``.

    Requires: prices. Provides: weights.
    """

    base: Annotated[float, Field(ge=0, lt=1)] = 0.05
    reference: Annotated[float, Field(gt=0)] = 0.15
    sensitivity: Annotated[float, Field(ge=0)] = 0.5
    min_buffer: Annotated[float, Field(ge=0, lt=1)] = 0.0
    max_buffer: Annotated[float, Field(ge=0, lt=1)] = 0.5
    window: Annotated[int, Field(ge=2)] = 63
    periods: Annotated[int, Field(ge=1)] | None = None

    def __post_init__(self):
        if np.any(np.asarray(self.min_buffer) > np.asarray(self.max_buffer)):
            raise ValueError(f"min_buffer ({self.min_buffer}) must not exceed max_buffer ({self.max_buffer})")

    def features(self, n_scenarios):
        return {"covariance": [Covariance("sample", int(w)) for w in scenario_values(self.window, n_scenarios)]}

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = np.asarray(ctx.feature("covariance"), dtype=float)
        held = weights != 0
        known = np.isfinite(np.diagonal(cov, axis1=1, axis2=2))
        missing = (held & ~known).all(axis=1) & held.any(axis=1)
        vol = np.sqrt(_quadratic(np.where(np.isfinite(cov), cov, 0.0), np.where(known, weights, 0.0))
                      * year_of(self.periods, ctx)[:, 0])
        col = {k: per_scenario(getattr(self, k), b)[:, 0]
               for k in ("base", "reference", "sensitivity", "min_buffer", "max_buffer")}
        raw = col["base"] + col["sensitivity"] * (vol - col["reference"])
        buffer = np.clip(np.where(missing, col["base"], raw), col["min_buffer"], col["max_buffer"])
        gross = np.abs(weights).sum(axis=1)
        scale = np.minimum(1.0, np.divide(1.0 - buffer, gross, out=np.ones(b), where=gross > 0))
        diag = {"volatility": np.where(missing, np.nan, vol), "buffer": buffer, "scale": scale,
                "vol_missing": missing}
        return weights * scale[:, None], diag


def risk_budget_solve(cov: np.ndarray, budgets: np.ndarray, tol: float = 1e-12, max_sweeps: int = 1000) -> np.ndarray:
    r"""Long-only risk-budget weights (B, N), summing to 1, for covariances (B, N, N).

    Solves :math:`y_i(\Sigma y)_i = b_i` for :math:`y > 0` on the names with a positive budget
    by cyclical coordinate descent: each :math:`y_i` is the positive root of
    :math:`\Sigma_{ii} y_i^2 + c_i y_i - b_i = 0`, :math:`c_i = \sum_{j \ne i}\Sigma_{ij} y_j`,
    repeated until no weight moves by more than ``tol`` (relative). Names with a zero budget
    get 0; a row without budget stays 0.
    """
    cov = np.asarray(cov, dtype=float)
    active = budgets > 0
    b = np.divide(budgets, budgets.sum(axis=1, keepdims=True), out=np.zeros(budgets.shape),
                  where=budgets.sum(axis=1, keepdims=True) > 0)
    diag = np.diagonal(cov, axis1=1, axis2=2)
    safe_diag = np.where(active & (diag > 0), diag, 1.0)
    y = np.where(active, np.sqrt(b) / np.sqrt(safe_diag), 0.0)
    for _ in range(max_sweeps):
        before = y.copy()
        for i in range(cov.shape[1]):
            c = np.einsum("bj,bj->b", cov[:, i, :], y) - diag[:, i] * y[:, i]
            root = (-c + np.sqrt(c * c + 4.0 * safe_diag[:, i] * b[:, i])) / (2.0 * safe_diag[:, i])
            y[:, i] = np.where(active[:, i], root, 0.0)
        if np.all(np.abs(y - before) <= tol * np.maximum(np.abs(y).max(axis=1, keepdims=True), 1e-300)):
            break
    total = y.sum(axis=1, keepdims=True)
    return np.divide(y, total, out=np.zeros_like(y), where=total > 0)


def component_var(weights: np.ndarray, cov: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parametric VaR (B,) of ``weights`` (B, N) and each position's share of it (B, N)."""
    sigma_w = np.einsum("bij,bj->bi", cov, weights)
    var = np.sqrt(np.maximum(np.einsum("bi,bi->b", weights, sigma_w), 0.0))
    share = np.divide(weights * sigma_w, (var * var)[:, None], out=np.zeros_like(weights),
                      where=(var > 0)[:, None])
    return z * var, share


def _quadratic(cov: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) ``w_b' cov_b w_b``, NaN entries of ``cov`` where ``w`` is 0 ignored."""
    safe = np.where(np.isfinite(cov), cov, 0.0)
    return np.maximum(np.einsum("bi,bij,bj->b", w, safe, w), 0.0)
