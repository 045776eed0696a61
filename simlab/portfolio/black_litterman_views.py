"""Black-Litterman with views written in the config (absolute or relative), view confidence
that follows the market regime, and max-Sharpe on the posterior.

A view is one row of the pick matrix P and its expected return Q::

    views:
      - {assets: {AAPL: 1, MSFT: -1}, return: 0.02, confidence: 0.6}   # AAPL beats MSFT by 2% a year
      - {assets: {XOM: 1}, return: 0.05, confidence: 0.3}              # absolute: XOM returns 5%
      - {assets: {JNJ: 0.5, PG: 0.5, AMD: -1}, return: 0.03}           # a basket against one name

``assets`` is the row of P by name (assets not named get 0), ``return`` the annual Q, and
``confidence`` in (0, 1] sets the view's uncertainty by Idzorek's method (Walters' closed
form, ``omega_k = tau (1 - c_k) / c_k * p_k'Σp_k``; 1 means the view holds exactly). A view
naming an asset that cannot be held on the decision day (no price yet, no covariance row)
is left out that day; ``n_views`` says how many were used.

Regime: with ``regime`` (a detector, as in ``regime_sizing``) each view's confidence is
multiplied by ``regime_confidence[label]`` of the decision day's label (a label not listed,
and the days before the detector has history, take 1), then capped at 1. Lowering it in
stress (``{1: 0.5}``) makes the posterior lean back toward the equilibrium when the views
were formed in a calmer market.

The prior is ``pi = delta Σ w_prior`` with ``prior_weights`` (inverse volatility when
none), as in ``black_litterman``. The posterior (He-Litterman) is
:func:`simlab.portfolio.optimize.black_litterman_core`; the weights are the tangency
portfolio of the posterior returns and covariance (``objective: max_sharpe``) or the
utility portfolio at risk aversion ``delta`` (``utility``), through the solver chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from simlab.config import registry
from simlab.config.registry import register
from simlab.contract.step import StepContext, per_scenario
from simlab.errors import ConfigError
from simlab.features.base import Feature, FeatureInputs
from simlab.portfolio import optimize, solvers
from simlab.portfolio.allocators_opt import BlackLitterman
from simlab.portfolio.allocators_risk import BoundedStep, annual_cov, budget_of

MAX_LABELS = 4
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _check_view(value: Any) -> dict:
    """One view: ``assets`` (a non-empty {asset: non-zero number}), ``return``, ``confidence``."""
    if not isinstance(value, dict):
        raise PydanticCustomError("config", "a view is a mapping {assets: {asset: weight}, return: r, confidence: c}")
    unknown = sorted(set(value) - {"assets", "return", "confidence"})
    if unknown:
        raise PydanticCustomError("config", f"unknown view key(s) {unknown}; valid: assets, return, confidence")
    picks = value.get("assets")
    if not isinstance(picks, dict) or not picks:
        raise PydanticCustomError("config", "view 'assets' must be a non-empty mapping {asset: weight} (a row of P)")
    for asset, weight in picks.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not np.isfinite(weight) or weight == 0:
            raise PydanticCustomError("config", f"view 'assets.{asset}': a row of P holds finite non-zero numbers; "
                                                f"got {weight!r} (leave an asset out to give it 0)")
    ret = value.get("return")
    if isinstance(ret, bool) or not isinstance(ret, (int, float)) or not np.isfinite(ret):
        raise PydanticCustomError("config", f"view 'return' (annual Q) must be a finite number; got {ret!r}")
    conf = value.get("confidence", 0.5)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 < conf <= 1:
        raise PydanticCustomError("config", f"view 'confidence' must be in (0, 1]; got {conf!r}")
    return {"assets": {str(a): float(w) for a, w in picks.items()}, "return": float(ret), "confidence": float(conf)}


def _check_regime(value: Any) -> dict | None:
    if value is None:
        return None
    try:
        detector = registry.build("detector", registry.resolve("detector", value, ""))
    except ConfigError as err:
        raise PydanticCustomError("config", str(err)) from None
    return {"type": detector.type, **detector.model_dump(mode="json")}


def _check_multipliers(value: Any) -> dict:
    out = {}
    for key, m in dict(value).items():
        text = str(key)
        if not (text.isdigit() and int(text) < MAX_LABELS):
            raise PydanticCustomError("config", f"unknown regime label {key!r}; use 0..{MAX_LABELS - 1}")
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m < np.inf:
            raise PydanticCustomError("config", f"{text}: confidence multiplier must be a number > 0; got {m!r}")
        out[text] = float(m)
    return out


View = Annotated[dict, AfterValidator(_check_view)]


@dataclass(frozen=True)
class RegimeLabel(Feature):
    """(R, 2) per decision row: the detector's label and whether it is known (floats)."""

    detector: Any

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        path = self.detector.path(inputs)
        return np.column_stack([path.label, path.known]).astype(float)[np.asarray(rows, dtype=np.int64)]


def pick_matrix(views: list[dict], assets: tuple[str, ...], where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P (K, N), Q (K,) and confidences (K,) from the views; an unknown asset is a ConfigError."""
    p = np.zeros((len(views), len(assets)))
    index = {a: i for i, a in enumerate(assets)}
    for k, view in enumerate(views):
        for asset, weight in view["assets"].items():
            if asset not in index:
                raise ConfigError(f"{where}.views.{k}.assets names {asset!r}, not an asset of the data")
            p[k, index[asset]] = weight
    return p, np.array([v["return"] for v in views]), np.array([v["confidence"] for v in views])


def posterior(cov, prior, picks, q, conf, tau, delta):
    """Posterior returns (N,) and covariance (N, N) of one scenario (Idzorek confidences).

    Raises
    ------
    ConfigError
        The views cannot be combined: views held with confidence 1 whose rows of P are
        linearly dependent (``P tau Σ P' + Omega`` singular) contradict or repeat each other.
    """
    pi = optimize.equilibrium_returns(cov, prior, delta)
    omega = optimize.idzorek_omega(conf, cov, picks, tau)
    a = tau * picks @ cov @ picks.T + omega
    if len(q) and np.linalg.matrix_rank(a) < len(q):
        raise ConfigError("the views' rows of P are linearly dependent among views held with confidence 1 "
                          "(or over assets with no variance); merge them or lower a confidence")
    return optimize.black_litterman_core(cov, pi, picks, q, omega, tau)


@register("step", "black_litterman_views")
@dataclass(frozen=True)
class BlackLittermanViews(BoundedStep):
    """Black-Litterman on views from the config, with regime-scaled confidence, max Sharpe on the posterior.

    Views name the assets of each row of P, their annual return Q and a confidence; a
    regime detector can scale the confidences; the weights are the posterior's tangency
    (or utility) portfolio (module docstring).

    Diagnostics: ``n_views`` (views used), ``confidence_scale`` (the regime's multiplier),
    ``regime`` (label, -1 without a detector), ``posterior_sharpe`` (of the weights on the
    posterior, annual), and the solver chain's.

    Requires: prices (and the detector's data with ``regime``). Provides: weights.
    """

    views: list[View] = field(default_factory=list)
    prior_weights: dict[str, Annotated[float, Field(ge=0)]] = field(default_factory=dict)
    tau: Positive = 0.05
    delta: Positive = 2.5
    risk_free: float = 0.0
    objective: Literal["max_sharpe", "utility"] = "max_sharpe"
    regime: Annotated[dict | None, AfterValidator(_check_regime)] = None
    regime_confidence: Annotated[dict, AfterValidator(_check_multipliers)] = field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        if self.regime_confidence and self.regime is None:
            raise ValueError("regime_confidence needs a regime detector (regime: {type: ...})")

    def features(self, n_scenarios):
        """``cov``, and ``regime`` (the detector's label) when a detector is set."""
        out = super().features(n_scenarios)
        if self.regime is not None:
            detector = registry.build("detector", registry.resolve("detector", self.regime, f"{self.key}.regime"))
            out["regime"] = [RegimeLabel(detector)] * n_scenarios
        return out

    def confidence_scale(self, ctx: StepContext) -> tuple[np.ndarray, np.ndarray]:
        """(B,) multiplier of the views' confidences, and (B,) label (-1: no detector)."""
        b = ctx.n_scenarios
        if self.regime is None:
            return np.ones(b), np.full(b, -1.0)
        table = np.asarray(ctx.feature("regime"), dtype=float).reshape(b, 2)
        lookup = np.ones(MAX_LABELS)
        for key, m in self.regime_confidence.items():
            lookup[int(key)] = m
        label = table[:, 0].astype(np.int64)
        scale = np.where(table[:, 1] > 0, lookup[np.clip(label, 0, MAX_LABELS - 1)], 1.0)
        return scale, label.astype(float)

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        cov = annual_cov(ctx, self.periods)
        usable = optimize.usable_assets(cov, np.broadcast_to(ctx.tradeable, weights.shape))
        picks, q, conf = pick_matrix(self.views, ctx.assets, self.key)
        scale, label = self.confidence_scale(ctx)
        mu, post, n_views = self.posteriors(ctx, cov, usable, picks, q, conf, scale)
        lower, upper = self.bounds(ctx)
        problem = solvers.make_problem(
            self.objective, usable, cov=post, mu=mu, lower=lower, upper=upper, budget=budget_of(self, ctx),
            w0=ctx.weights, risk_aversion=per_scenario(self.delta, b)[:, 0],
            turnover=per_scenario(self.turnover_penalty, b)[:, 0], risk_free=per_scenario(self.risk_free, b)[:, 0])
        w, diag = self.solve(problem, cov, ctx, usable)
        excess = ((mu - per_scenario(self.risk_free, b)) * w).sum(axis=1)
        vol = np.sqrt(np.maximum(np.einsum("bi,bij,bj->b", w, np.nan_to_num(post), w), 0.0))
        diag.update({"n_views": n_views, "confidence_scale": scale, "regime": label,
                     "posterior_sharpe": np.divide(excess, vol, out=np.zeros(b), where=vol > 0)})
        return w, diag

    def posteriors(self, ctx, cov, usable, picks, q, conf, scale):
        """Posterior returns (B, N) (NaN where not usable), covariance (B, N, N), views used (B,)."""
        b, n = usable.shape
        vol = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        prior = self.prior(ctx, vol, usable)
        mu, post = np.full((b, n), np.nan), np.full((b, n, n), np.nan)
        n_views = np.zeros(b)
        tau, delta = (per_scenario(v, b)[:, 0] for v in (self.tau, self.delta))
        for i in range(b):
            keep = usable[i]
            if not keep.any():
                continue
            held = ~(picks[:, ~keep] != 0).any(axis=1)  # a view on an asset that cannot be held is left out
            s = cov[i][np.ix_(keep, keep)]
            c = np.minimum(conf[held] * scale[i], 1.0)
            m, p = posterior(s, prior[i, keep], picks[held][:, keep], q[held], c, tau[i], delta[i])
            mu[i, keep], post[i][np.ix_(keep, keep)] = m, p
            n_views[i] = held.sum()
        return mu, post, n_views

    def prior(self, ctx: StepContext, vol: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """(B, N) prior weights summing to 1 over the usable assets (inverse vol if none given):
        :meth:`BlackLitterman.prior`, on this Step's ``prior_weights``."""
        return BlackLitterman.prior(self, ctx, vol, usable)
