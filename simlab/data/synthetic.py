"""A seeded synthetic market: a factor model with calm and stress regimes.

Daily log returns follow

    r[t, i] = sum_k B[i, k] * f[t, k] + s[i] * e[t, i],   f[t] ~ N(m, C[regime[t]]),

with factor 0 the market and factors 1.. style factors, ``B`` the loadings, ``s`` the
idiosyncratic volatility and ``e`` standard normal noise. The regime is a two-state Markov
chain (0 calm, 1 stress); in stress the market factor has a larger variance, so assets are
both more volatile and more correlated. Prices start at 100 and are ``100 * exp(cumsum(r))``,
so they stay positive. Every true parameter is returned in ``provenance["truth"]`` so that
estimators can be checked against it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.data.market import MarketData
from simlab.errors import ConfigError

PERIODS = 252  # trading days a year: annualized inputs are divided by sqrt(252)
N_SECTORS = 8
STYLE_VOL = 0.06  # annualized volatility of each style factor, both regimes
MARKET_DRIFT = 0.06  # annualized mean log return of the market factor


def generate_market(
    n_assets: int = 20,
    n_days: int = 2520,
    seed: int = 0,
    *,
    n_factors: int = 3,
    start: str = "2000-01-03",
    calm_vol: float = 0.12,
    stress_vol: float = 0.40,
    p_enter_stress: float = 0.01,
    p_exit_stress: float = 0.05,
    late_listing: float = 0.0,
    delisting: float = 0.0,
) -> MarketData:
    """Generate a synthetic daily market with known factor structure and regimes.

    Parameters
    ----------
    n_assets, n_days : int
        Number of assets N and trading days T.
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments give bit-identical output.
    n_factors : int
        Number of factors K >= 1: the market plus ``K - 1`` style factors.
    start : str
        First date; the calendar is ``n_days`` business days from it.
    calm_vol, stress_vol : float
        Annualized volatility of the market factor in the calm and in the stress regime.
    p_enter_stress, p_exit_stress : float
        Daily probability of moving calm -> stress and stress -> calm.
    late_listing, delisting : float
        Shares in [0, 1) of the assets that list after the first day and that delist
        before the last (drawn independently, dates uniform, each asset trading at least
        ``min(252, n_days // 4)`` days). Prices are NaN outside an asset's life, and the
        benchmark is the equal weight of the assets listed that day. Drawn from a second
        generator, so with both 0 (the default) the market is the one without them.

    Returns
    -------
    MarketData
        Close (T, N) for assets ``A0000``.., an equal-weight benchmark level (daily
        rebalanced, starting at 100), ``meta`` with a ``sector`` column, and
        ``provenance["truth"]`` holding ``regime`` (T,) int8, ``loadings`` (N, K),
        ``idio_vol`` (N,), ``factor_mean`` (K,), ``factor_cov`` (2, K, K), ``transition``
        (2, 2) and ``sector`` (N,), all in daily log-return units; with listings also
        ``listed`` and ``delisted`` (N,) int, the first and one past the last trading row.

    Raises
    ------
    ConfigError
        A size below 1 or a regime probability outside (0, 1], naming the argument.
    """
    _check_arguments(n_assets, n_days, n_factors, p_enter_stress, p_exit_stress)
    for key, value in (("late_listing", late_listing), ("delisting", delisting)):
        if not 0 <= value < 1:
            raise ConfigError(f"{key} must lie in [0, 1); got {value!r}")
    rng = np.random.default_rng(seed)
    regime = regime_chain(n_days, p_enter_stress, p_exit_stress, rng)
    truth = _parameters(n_assets, n_factors, calm_vol, stress_vol, rng)
    truth["regime"] = regime
    truth["transition"] = np.array(
        [[1 - p_enter_stress, p_enter_stress], [p_exit_stress, 1 - p_exit_stress]]
    )
    logret = _log_returns(truth, rng)
    if late_listing or delisting:
        truth["listed"], truth["delisted"] = listing_spans(n_assets, n_days, late_listing, delisting, seed)
    return _assemble(logret, truth, start, seed)


def listing_spans(n_assets: int, n_days: int, late_listing: float, delisting: float, seed: int):
    """(N,) first trading row and (N,) one past the last: a ``late_listing`` share of the
    assets lists on a uniform day, a ``delisting`` share delists on a uniform day after
    at least ``min(252, n_days // 4)`` days of trading; from the generator ``[seed, 1]``."""
    rng = np.random.default_rng([seed, 1])
    life = max(1, min(252, n_days // 4))
    listed = np.where(rng.random(n_assets) < late_listing,
                      rng.integers(1, max(n_days - life, 2), n_assets), 0)
    end = listed + life + (rng.random(n_assets) * (n_days - listed - life)).astype(np.int64)
    delisted = np.where(rng.random(n_assets) < delisting, np.minimum(end, n_days), n_days)
    return listed.astype(np.int64), delisted.astype(np.int64)


def _check_arguments(n_assets, n_days, n_factors, p_enter, p_exit) -> None:
    """Reject sizes and probabilities the model cannot use, naming the argument."""
    for key, value in (("n_assets", n_assets), ("n_days", n_days), ("n_factors", n_factors)):
        if int(value) != value or value < 1:
            raise ConfigError(f"{key} must be a positive integer; got {value!r}")
    for key, value in (("p_enter_stress", p_enter), ("p_exit_stress", p_exit)):
        if not 0 < value <= 1:
            raise ConfigError(f"{key} must lie in (0, 1]; got {value!r}")


def regime_chain(n_days: int, p_enter: float, p_exit: float, rng) -> np.ndarray:
    """A calm/stress Markov chain of length ``n_days`` (0 calm, 1 stress), starting calm.

    Vectorized through its run lengths: calm spells last Geometric(``p_enter``) days and
    stress spells Geometric(``p_exit``) days, which is the same law as stepping the chain.
    """
    mean_cycle = 1 / p_enter + 1 / p_exit
    n_cycles = int(n_days / mean_cycle * 1.5) + 8
    runs = np.empty((0, 2), dtype=np.int64)
    while runs.sum() < n_days:
        more = np.column_stack([rng.geometric(p_enter, n_cycles), rng.geometric(p_exit, n_cycles)])
        runs = np.concatenate([runs, more])
    states = np.tile(np.array([0, 1], dtype=np.int8), len(runs))
    return np.repeat(states, runs.ravel())[:n_days]


def _parameters(n_assets, n_factors, calm_vol, stress_vol, rng) -> dict:
    """Draw loadings, sectors and idiosyncratic vols; set factor means and covariances."""
    sector = rng.integers(0, N_SECTORS, n_assets)
    centres = rng.normal(0.0, 0.5, (N_SECTORS, n_factors - 1))
    loadings = np.empty((n_assets, n_factors))
    loadings[:, 0] = np.clip(rng.normal(1.0, 0.3, n_assets), 0.2, None)
    loadings[:, 1:] = centres[sector] + rng.normal(0.0, 0.3, (n_assets, n_factors - 1))
    idio_vol = rng.uniform(0.15, 0.35, n_assets) / np.sqrt(PERIODS)
    vols = np.full((2, n_factors), STYLE_VOL)
    vols[:, 0] = calm_vol, stress_vol
    factor_cov = np.stack([np.diag(v**2) for v in vols / np.sqrt(PERIODS)])
    factor_mean = np.zeros(n_factors)
    factor_mean[0] = MARKET_DRIFT / PERIODS
    return {
        "loadings": loadings,
        "idio_vol": idio_vol,
        "factor_mean": factor_mean,
        "factor_cov": factor_cov,
        "sector": sector,
    }


def _log_returns(truth: dict, rng) -> np.ndarray:
    """Daily log returns (T, N), row 0 zero (prices start at 100 on the first day)."""
    regime, loadings = truth["regime"], truth["loadings"]
    n_days, (n_assets, n_factors) = len(regime), loadings.shape
    # factors are independent within a regime: scale unit normals by the regime's vols
    factor_vol = np.sqrt(np.diagonal(truth["factor_cov"], axis1=1, axis2=2))
    factors = rng.standard_normal((n_days, n_factors)) * factor_vol[regime]
    factors += truth["factor_mean"]
    out = rng.standard_normal((n_days, n_assets))
    out *= truth["idio_vol"]
    out += factors @ loadings.T
    out[0] = 0.0
    return out


def _assemble(logret: np.ndarray, truth: dict, start: str, seed: int) -> MarketData:
    """Turn log returns into prices, benchmark, meta and provenance."""
    n_days, n_assets = logret.shape
    dates = pd.bdate_range(start, periods=n_days, name="date")
    width = max(4, len(str(n_assets - 1)))
    assets = pd.Index([f"A{i:0{width}d}" for i in range(n_assets)], name="asset")
    listed = truth.get("listed")
    if listed is None:
        bench_ret = np.expm1(logret).mean(axis=1)  # equal weight, rebalanced daily
    else:  # the assets listed on the day (returns from the day after each listing)
        rows = np.arange(n_days)[:, None]
        live = (rows > listed) & (rows < truth["delisted"])
        simple = np.where(live, np.expm1(logret), 0.0)
        bench_ret = np.divide(simple.sum(axis=1), live.sum(axis=1), out=np.zeros(n_days), where=live.any(axis=1))
    benchmark = pd.Series(100.0 * np.cumprod(1.0 + bench_ret), index=dates, name="benchmark")
    np.cumsum(logret, axis=0, out=logret)
    np.exp(logret, out=logret)
    logret *= 100.0
    if listed is not None:
        rows = np.arange(n_days)[:, None]
        logret[(rows < listed) | (rows >= truth["delisted"])] = np.nan
    close = pd.DataFrame(logret, index=dates, columns=assets, copy=False)
    meta = pd.DataFrame({"sector": [f"S{s}" for s in truth["sector"]]}, index=assets)
    provenance = {
        "source": "synthetic", "rows": n_days, "start": dates[0].date().isoformat(),
        "end": dates[-1].date().isoformat(), "seed": seed,
        "origin": "simlab.data.synthetic.generate_market (factor model, two regimes)",
        "licence": "generated", "truth": truth,
    }
    return MarketData(close=close, benchmark=benchmark, meta=meta, source="synthetic",
                      provenance=provenance)
