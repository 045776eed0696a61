"""Statistics for claims: how much a backtest's numbers can be trusted.

Pure functions over daily simple returns, with the conventions of
:mod:`simlab.analysis.metrics`: ``periods`` returns a year (252), ``risk_free`` an annual
rate turned into ``(1 + risk_free) ** (1 / periods) - 1`` per period, Sharpe ratios
annualized by ``sqrt(periods)`` on the way in and out. Inside, every Sharpe ratio is per
period, as in the papers.

Sharpe ratio inference (Bailey and Lopez de Prado)
--------------------------------------------------
With ``SR`` the per-period Sharpe ratio (mean over standard deviation, ``ddof=1``),
``g3`` the skewness and ``g4`` the kurtosis (not excess; both population moments, as
``scipy.stats.skew(bias=True)`` and ``scipy.stats.kurtosis(fisher=False)``) of ``n``
returns, and ``v = 1 - g3 SR + (g4 - 1) / 4 SR^2``:

- probabilistic Sharpe ratio, the probability that the true Sharpe ratio exceeds
  ``SR*``: ``PSR(SR*) = Phi((SR - SR*) sqrt(n - 1) / sqrt(v))`` (Bailey and Lopez de
  Prado 2012, "The Sharpe ratio efficient frontier", J. of Risk 15(2), eq. 11);
- minimum track record length, the ``n`` at which ``PSR(SR*)`` reaches ``confidence``:
  ``MinTRL = 1 + v (z_confidence / (SR - SR*))^2`` (ibid., eq. 13), infinite when
  ``SR <= SR*``;
- deflated Sharpe ratio, the PSR against the Sharpe ratio that the best of ``N``
  skill-less trials would show: ``DSR = PSR(SR0)`` with
  ``SR0 = sigma_trials ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))``,
  ``gamma`` Euler's constant and ``sigma_trials`` the standard deviation of the trials'
  Sharpe ratios (Bailey and Lopez de Prado 2014, "The deflated Sharpe ratio", J. of
  Portfolio Management 40(5), eqs. 2-3). These match ``skfolio.measures``.

Resampling
----------
- :func:`optimal_block_length`: Politis and White (2004), "Automatic block-length
  selection for the dependent bootstrap", Econometric Reviews 23(1), with the correction
  of Patton, Politis and White (2009), Econometric Reviews 28(4), and the tuning of
  Patton's code, as ``arch.bootstrap.optimal_block_length``.
- :func:`stationary_bootstrap_indices`: Politis and Romano (1994), "The stationary
  bootstrap", JASA 89(428): blocks with geometric lengths of mean ``block_length``,
  wrapping around the end.
- :func:`circular_block_indices`: Politis and Romano (1992), blocks of a fixed length
  that wrap around the end.
- :func:`path_block_length`: the block length for resampling a whole return path (the
  largest of the Politis-White lengths of the returns, of the Sharpe ratio's influence
  series and of the active returns); :func:`percentile_interval`; :func:`holm`.

Equal Sharpe ratios
-------------------
:func:`sharpe_difference_test` is the test of Ledoit and Wolf (2008), "Robust
performance hypothesis testing with the Sharpe ratio", J. of Empirical Finance 15(5):
the HAC standard error of the difference (prewhitened Parzen kernel, Andrews-Monahan
bandwidth, their section 3.1) and the p-value of the studentized circular block
bootstrap (their section 3.2 and Wolf's reference code), with the block length chosen
from the data rather than by their calibration (section 3.2.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "SharpeDifference",
    "circular_block_indices",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "holm",
    "min_track_record_length",
    "optimal_block_length",
    "path_block_length",
    "percentile_interval",
    "probabilistic_sharpe_ratio",
    "sharpe_difference_test",
    "sharpe_moments",
    "stationary_bootstrap_indices",
]

Returns = pd.Series | pd.DataFrame | np.ndarray


# ----------------------------------------------------------------------------
# Sharpe ratio inference
# ----------------------------------------------------------------------------


def _excess_2d(returns: Returns, risk_free: float, periods: float) -> tuple[np.ndarray, pd.Index | None]:
    """Excess returns as a (T, B) float array and the column labels (None for 1-D input)."""
    labels = returns.columns if isinstance(returns, pd.DataFrame) else None
    a = np.asarray(returns, dtype="float64")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"returns must be a non-empty 1-D or 2-D array of returns; got shape {a.shape}")
    if not np.isfinite(periods) or periods <= 0:
        raise ValueError(f"periods must be a positive number of returns per year, got {periods!r}")
    return a - ((1.0 + risk_free) ** (1.0 / periods) - 1.0), labels


def _wrap(values: np.ndarray, labels: pd.Index | None, name: str) -> float | pd.Series:
    if labels is None:
        return float(values[0])
    return pd.Series(values, index=labels, name=name, dtype="float64")


def _moments(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per column of (T, B), NaN skipped: SR (per period, ddof=1), skew, kurtosis, count."""
    n = np.count_nonzero(~np.isnan(a), axis=0).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.nansum(a, axis=0) / n
        dev = a - mu
        m2 = np.nansum(dev**2, axis=0) / n
        sr = np.where(m2 > 0, mu / np.sqrt(m2 * n / (n - 1)), np.nan)
        skew = np.where(m2 > 0, np.nansum(dev**3, axis=0) / n / m2**1.5, np.nan)
        kurt = np.where(m2 > 0, np.nansum(dev**4, axis=0) / n / m2**2, np.nan)
    return sr, skew, kurt, n


def sharpe_moments(returns: Returns, risk_free: float = 0.0, periods: float = 252) -> pd.DataFrame:
    """The inputs of the Sharpe ratio statistics, one row per column of ``returns``.

    Returns
    -------
    DataFrame
        Columns ``sharpe`` (annualized, as :func:`simlab.analysis.metrics.sharpe`),
        ``skew``, ``kurtosis`` (not excess), ``n`` (returns counted, NaN skipped) and
        ``sharpe_se`` (annualized standard error ``sqrt(v / (n - 1))``).
    """
    a, labels = _excess_2d(returns, risk_free, periods)
    sr, skew, kurt, n = _moments(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(_variance_term(sr, skew, kurt) / (n - 1))
    index = labels if labels is not None else pd.RangeIndex(1)
    root = np.sqrt(periods)
    return pd.DataFrame({"sharpe": sr * root, "skew": skew, "kurtosis": kurt, "n": n, "sharpe_se": se * root},
                        index=index)


def _variance_term(sr, skew, kurt):
    """``1 - g3 SR + (g4 - 1) / 4 SR^2``, NaN where it is not positive."""
    v = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    return np.where(v > 0, v, np.nan)


def probabilistic_sharpe_ratio(
    returns: Returns, benchmark: float = 0.0, *, risk_free: float = 0.0, periods: float = 252
) -> float | pd.Series:
    """Probability that the true Sharpe ratio exceeds ``benchmark`` (PSR, module docstring).

    Parameters
    ----------
    returns : Series, DataFrame or array (T,) or (T, B)
        Daily simple returns, one scenario per column.
    benchmark : float
        Annualized Sharpe ratio ``SR*`` to beat.
    risk_free : float
        Annual risk-free rate.
    periods : float
        Return observations per year.

    Returns
    -------
    float or Series
        ``Phi((SR - SR*) sqrt(n - 1) / sqrt(v))``; equals
        ``skfolio.measures.probabilistic_sharpe_ratio`` with per-period inputs. NaN with
        fewer than three returns, no dispersion, or ``v <= 0``.
    """
    a, labels = _excess_2d(returns, risk_free, periods)
    sr, skew, kurt, n = _moments(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (sr - benchmark / np.sqrt(periods)) * np.sqrt(n - 1) / np.sqrt(_variance_term(sr, skew, kurt))
    out = np.where(n >= 3, stats.norm.cdf(z), np.nan)
    return _wrap(out, labels, "psr")


def expected_max_sharpe(n_trials: float, std: float, mean: float = 0.0) -> float:
    """Expected largest Sharpe ratio of ``n_trials`` independent normal trials.

    ``mean + std ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))`` (Bailey and
    Lopez de Prado 2014, eq. 2), in the units of ``std`` and ``mean``; ``mean`` for a
    single trial or no dispersion. Equals ``skfolio.measures.expected_max_sharpe_ratio``.
    """
    if not np.isfinite(n_trials) or n_trials < 1:
        raise ValueError(f"n_trials must be a number >= 1, got {n_trials!r}")
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    if n_trials == 1 or std == 0:
        return float(mean)
    g = np.euler_gamma
    return float(mean + std * ((1 - g) * stats.norm.ppf(1 - 1 / n_trials)
                               + g * stats.norm.ppf(1 - 1 / (n_trials * np.e))))


def deflated_sharpe_ratio(
    returns: Returns,
    n_trials: float,
    trial_std: float | None = None,
    *,
    benchmark: float = 0.0,
    risk_free: float = 0.0,
    periods: float = 252,
) -> float | pd.Series:
    """PSR against the best Sharpe ratio ``n_trials`` skill-less trials would show (DSR).

    Parameters
    ----------
    returns : Series, DataFrame or array (T,) or (T, B)
        Daily simple returns of the selected strategy (each column judged alike).
    n_trials : float
        Number of independent trials the strategy was selected from (>= 1).
    trial_std : float, optional
        Standard deviation of the trials' annualized Sharpe ratios. Without it, the
        spread skill-less trials would show by chance alone: the standard error of a
        zero Sharpe ratio over these returns, ``sqrt(periods / (n - 1))``.
    benchmark : float
        Annualized Sharpe ratio every trial is supposed to have (0: no skill, as in the
        paper). The PSR is taken against ``benchmark + SR0``: the best of the trials
        beating what the best of trials at ``benchmark`` would show by luck.
    risk_free, periods : float
        As in :func:`probabilistic_sharpe_ratio`.

    Returns
    -------
    float or Series
        ``PSR(benchmark + SR0)`` with ``SR0 = expected_max_sharpe(n_trials, trial_std)``;
        with ``benchmark`` 0 and ``trial_std`` the sample deviation of a set of trial
        Sharpe ratios this equals ``skfolio.measures.deflated_sharpe_ratio``.
    """
    if trial_std is None:
        count = np.count_nonzero(~np.isnan(np.asarray(returns, dtype="float64")), axis=0)
        trial_std = float(np.sqrt(periods / max(np.max(count) - 1, 1)))
    sr0 = benchmark + expected_max_sharpe(n_trials, trial_std)
    out = probabilistic_sharpe_ratio(returns, sr0, risk_free=risk_free, periods=periods)
    return out.rename("dsr") if isinstance(out, pd.Series) else out


def min_track_record_length(
    returns: Returns,
    benchmark: float = 0.0,
    *,
    confidence: float = 0.95,
    risk_free: float = 0.0,
    periods: float = 252,
) -> float | pd.Series:
    """Returns needed before the observed Sharpe ratio beats ``benchmark`` at ``confidence``.

    Parameters
    ----------
    returns : Series, DataFrame or array (T,) or (T, B)
        Daily simple returns, one scenario per column.
    benchmark : float
        Annualized Sharpe ratio ``SR*``.
    confidence : float
        Probability in (0, 1) the PSR must reach.
    risk_free, periods : float
        As in :func:`probabilistic_sharpe_ratio`.

    Returns
    -------
    float or Series
        ``1 + v (z / (SR - SR*))^2`` observations (divide by ``periods`` for years);
        ``inf`` where the observed Sharpe ratio is not above ``SR*``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    a, labels = _excess_2d(returns, risk_free, periods)
    sr, skew, kurt, _ = _moments(a)
    gap = sr - benchmark / np.sqrt(periods)
    with np.errstate(invalid="ignore", divide="ignore"):
        trl = 1.0 + _variance_term(sr, skew, kurt) * (stats.norm.ppf(confidence) / gap) ** 2
    out = np.where(gap > 0, trl, np.where(np.isnan(gap), np.nan, np.inf))
    return _wrap(out, labels, "min_track_record_length")


# ----------------------------------------------------------------------------
# Block lengths and resampling indices
# ----------------------------------------------------------------------------


def _flat_top(x: np.ndarray) -> np.ndarray:
    """The trapezoid lag window of Politis and White: 1 up to 1/2, then 2 (1 - |x|)."""
    return np.clip(2.0 * (1.0 - np.abs(x)), 0.0, 1.0)


def _block_length_1d(x: np.ndarray) -> tuple[float, float]:
    """(stationary, circular) optimal mean block length of one series (NaN dropped)."""
    x = x[~np.isnan(x)]
    n = len(x)
    if n < 4:
        return 1.0, 1.0
    eps = x - x.mean()
    kn = max(5, int(np.log10(n)))
    m_max = int(np.ceil(np.sqrt(n))) + kn
    lags = np.arange(min(m_max, n - 1) + 1)
    acv = np.array([eps[k:] @ eps[: n - k] for k in lags]) / n
    if acv[0] <= 0:
        return 1.0, 1.0
    small = np.abs(acv / acv[0]) < 2.0 * np.sqrt(np.log10(n) / n)
    small[0] = False
    runs = np.convolve(small.astype(int), np.ones(kn, dtype=int), mode="valid") == kn
    m = 2 * int(np.argmax(runs)) if runs.any() else m_max
    m = max(1, min(m, len(lags) - 1))
    k = lags[1 : m + 1]
    lam = _flat_top(k / m)
    g = 2.0 * np.sum(lam * k * acv[1 : m + 1])
    long_run = acv[0] + 2.0 * np.sum(lam * acv[1 : m + 1])
    b_max = np.ceil(min(3.0 * np.sqrt(n), n / 3.0))
    if long_run <= 0:
        return b_max, b_max
    ratio = (2.0 * g**2 / long_run**2) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    return float(min(ratio / 2.0 ** (1.0 / 3.0), b_max)), float(min(ratio / (4.0 / 3.0) ** (1.0 / 3.0), b_max))


def optimal_block_length(x: Returns) -> pd.DataFrame:
    """Mean block length for the stationary and the circular block bootstrap of a mean.

    Parameters
    ----------
    x : Series, DataFrame or array (T,) or (T, K)
        The series, one per column; NaN values are dropped.

    Returns
    -------
    DataFrame
        One row per column of ``x``, columns ``stationary`` and ``circular``:
        ``(2 G^2 / D)^(1/3) n^(1/3)`` with ``G = sum lambda(k/M) |k| acv(k)`` and
        ``D = c (sum lambda(k/M) acv(k))^2``, ``c`` 2 (stationary) or 4/3 (circular),
        capped at ``min(3 sqrt(n), n / 3)`` (module docstring). Compare
        ``arch.bootstrap.optimal_block_length``.
    """
    index = x.columns if isinstance(x, pd.DataFrame) else [getattr(x, "name", 0)]
    a = np.asarray(x, dtype="float64")
    a = a[:, None] if a.ndim == 1 else a
    rows = [_block_length_1d(a[:, j]) for j in range(a.shape[1])]
    return pd.DataFrame(rows, index=index, columns=["stationary", "circular"])


def stationary_bootstrap_indices(n: int, block_length: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, n) row indices of stationary-bootstrap resamples of an ``n``-row sample.

    Each resample starts at a uniform row; every following row continues the block
    (the next row, wrapping from the last to the first) with probability
    ``1 - 1 / block_length``, else starts a new block at a uniform row.
    """
    p = 1.0 / max(float(block_length), 1.0)
    new = rng.random((n, draws)) < p
    new[0] = True
    pos = np.arange(n)[:, None]
    first = np.maximum.accumulate(np.where(new, pos, 0), axis=0)  # row where each block began
    starts = rng.integers(0, n, size=(n, draws))
    return ((np.take_along_axis(starts, first, axis=0) + (pos - first)) % n).T


def circular_block_indices(n: int, block_length: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, l * b) row indices of ``l = n // b`` blocks of ``b = block_length`` rows each.

    Blocks start at uniform rows and wrap from the last row to the first, as in Wolf's
    ``cbb.sequence``: the resample has ``l * b`` rows, so that each is a whole block.
    """
    b = int(min(max(block_length, 1), n))
    blocks = n // b
    starts = rng.integers(0, n, size=(draws, blocks))
    return ((starts[:, :, None] + np.arange(b)) % n).reshape(draws, blocks * b)


def path_block_length(returns: np.ndarray, benchmark: np.ndarray | None = None) -> float:
    """Stationary-bootstrap mean block length for resampling a daily return path.

    The largest :func:`optimal_block_length` (stationary) of the returns, of the Sharpe
    ratio's influence series ``z_t - SR / 2 (z_t^2 - 1)`` (``z`` the standardized
    returns; it carries the volatility clustering that drives the Sharpe ratio's error)
    and, with a benchmark resampled on the same days, of the active returns.
    """
    r = np.asarray(returns, dtype="float64")
    series = [r]
    var = np.nanvar(r)
    if var > 0:
        z = (r - np.nanmean(r)) / np.sqrt(var)
        series.append(z - np.nanmean(r) / np.sqrt(var) / 2 * (z**2 - 1))
    if benchmark is not None:
        series.append(r - np.asarray(benchmark, dtype="float64"))
    return max(_block_length_1d(s)[0] for s in series)


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap values (NaN dropped; NaN if none)."""
    values = np.asarray(values, dtype="float64")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(lo), float(hi)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input's order."""
    p = np.asarray(p_values, dtype="float64")
    order = np.argsort(p)
    scaled = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(p)
    out[order] = scaled
    return out


# ----------------------------------------------------------------------------
# Ledoit-Wolf test of equal Sharpe ratios
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SharpeDifference:
    """Outcome of :func:`sharpe_difference_test`; Sharpe ratios and the error annualized."""

    sharpe_a: float
    sharpe_b: float
    difference: float
    se: float
    p_value_hac: float
    p_value: float
    block_length: int
    draws: int


def _gradient(mu: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """(..., 4) gradient of ``mu_a / s_a - mu_b / s_b`` in ``(mu_a, mu_b, gamma_a, gamma_b)``.

    ``s = sqrt(gamma - mu^2)`` with ``gamma`` the mean square; ``mu``, ``gamma`` are (..., 2).
    """
    var = gamma - mu**2
    with np.errstate(invalid="ignore", divide="ignore"):
        d_mu = gamma / var**1.5
        d_gamma = -mu / (2.0 * var**1.5)
    return np.stack([d_mu[..., 0], -d_mu[..., 1], d_gamma[..., 0], -d_gamma[..., 1]], axis=-1)


def _influence(x: np.ndarray) -> np.ndarray:
    """(T, 4) centred ``(r_a, r_b, r_a^2, r_b^2)``, the terms whose means give the ratios."""
    y = np.hstack([x, x**2])
    return y - y.mean(axis=0)


def _parzen(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return np.where(ax <= 0.5, 1 - 6 * ax**2 + 6 * ax**3, np.where(ax <= 1, 2 * (1 - ax) ** 3, 0.0))


def _andrews_alpha(v: np.ndarray) -> float:
    """Andrews (1991) plug-in for the Parzen bandwidth from an AR(1) fit of each column."""
    num = den = 0.0
    for col in v.T:
        x, y = col[:-1] - col[:-1].mean(), col[1:] - col[1:].mean()
        rho = float(x @ y / (x @ x)) if x @ x > 0 else 0.0
        sig2 = float(np.mean((y - rho * x) ** 2))
        num += 4 * rho**2 * sig2**2 / (1 - rho) ** 8
        den += sig2**2 / (1 - rho) ** 4
    return num / den if den > 0 else 0.0


def _hac_prewhitened(v: np.ndarray) -> np.ndarray:
    """(K, K) long-run covariance of the centred (T, K) series ``v``.

    VAR(1) prewhitening (singular values capped at 0.97), Parzen kernel with the Andrews
    bandwidth ``2.6614 (alpha T)^0.2``, recoloured; as Wolf's ``compute.se.Parzen.pw``.
    """
    coef, *_ = np.linalg.lstsq(v[:-1], v[1:], rcond=None)
    u, d, vt = np.linalg.svd(coef.T)
    a_hat = u @ np.diag(np.minimum(d, 0.97)) @ vt
    resid = v[1:] - v[:-1] @ a_hat.T
    t, k = resid.shape
    bandwidth = 2.6614 * (_andrews_alpha(resid) * t) ** 0.2
    psi = resid.T @ resid / t
    j = 1
    while j < bandwidth and j < t:
        gamma = resid[j:].T @ resid[:-j] / t
        psi = psi + _parzen(j / bandwidth) * (gamma + gamma.T)
        j += 1
    psi *= t / (t - k)
    recolour = np.linalg.inv(np.eye(k) - a_hat)
    return recolour @ psi @ recolour.T


def _sharpe_pair(x: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratios (ddof=1) of the two columns of (..., T, 2)."""
    return x.mean(axis=-2) / x.std(axis=-2, ddof=1)


def sharpe_difference_test(
    a: Returns,
    b: Returns,
    *,
    draws: int = 999,
    block_length: int | None = None,
    seed: int | np.random.SeedSequence = 0,
    risk_free: float = 0.0,
    periods: float = 252,
    chunk: int = 250,
) -> SharpeDifference:
    """Ledoit-Wolf (2008) test of ``H0: SR_a = SR_b`` for two return series on the same days.

    Parameters
    ----------
    a, b : Series or array (T,)
        Daily simple returns; days where either is NaN are dropped.
    draws : int
        Bootstrap resamples ``M``; the p-value is ``(1 + #{d* >= d}) / (M + 1)``.
    block_length : int, optional
        Circular block length; by default the circular Politis-White length of the
        linearized difference ``grad' y_t`` (module docstring), rounded up.
    seed : int or SeedSequence
        Seeds the resampling.
    risk_free, periods : float
        As in :func:`probabilistic_sharpe_ratio`.
    chunk : int
        Resamples computed at once (memory ``chunk * T * 4`` floats; the result
        depends on it only through the order in which random numbers are drawn).

    Returns
    -------
    SharpeDifference
        Annualized Sharpe ratios and difference, its HAC standard error, the p-value of
        the normal test with that error, the bootstrap p-value, the block length used.
    """
    pair, _ = _excess_2d(np.column_stack([np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")]),
                         risk_free, periods)
    x = pair[~np.isnan(pair).any(axis=1)]
    t = len(x)
    if t < 10:
        raise ValueError(f"the equal-Sharpe test needs at least 10 common returns; got {t}")
    sr = _sharpe_pair(x)
    diff = float(sr[0] - sr[1])
    y = _influence(x)
    grad = _gradient(x.mean(axis=0), (x**2).mean(axis=0))
    se = float(np.sqrt(max(grad @ _hac_prewhitened(y) @ grad, 0.0) / t))
    if block_length is None:
        block_length = int(np.ceil(_block_length_1d(y @ grad)[1]))
    block = int(min(max(block_length, 1), t // 2))
    rng = np.random.default_rng(seed)
    d = abs(diff) / se if se > 0 else (0.0 if diff == 0 else np.inf)
    exceed = 0
    for start in range(0, draws, chunk):
        idx = circular_block_indices(t, block, min(chunk, draws - start), rng)
        exceed += int(np.count_nonzero(_studentized_gap(x[idx, 0], x[idx, 1], block, diff) >= d))
    root = np.sqrt(periods)
    p_hac = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else (1.0 if diff == 0 else 0.0)
    return SharpeDifference(
        sharpe_a=float(sr[0] * root), sharpe_b=float(sr[1] * root), difference=float(diff * root),
        se=float(se * root),
        p_value_hac=p_hac, p_value=(1 + exceed) / (draws + 1), block_length=block, draws=int(draws),
    )


def _studentized_gap(xa: np.ndarray, xb: np.ndarray, block: int, diff: float) -> np.ndarray:
    """(D,) ``|diff* - diff| / se*`` of resamples ``xa``, ``xb`` (D, l * b) of the two series.

    ``se*`` uses the block-sum ("natural") covariance of the bootstrap world (Goetze and
    Kuensch 1996), as Ledoit and Wolf prescribe: ``Psi* = mean_j zeta_j zeta_j'`` with
    ``zeta_j`` the sum of the centred ``(r_a, r_b, r_a^2, r_b^2)`` over block j over ``sqrt(b)``.
    """
    draws, n = xa.shape
    cols = (xa, xb, xa * xa, xb * xb)
    mean = np.stack([c.mean(axis=1) for c in cols], axis=1)
    sums = np.stack([c.reshape(draws, n // block, block).sum(axis=2) for c in cols], axis=2)
    zeta = (sums - block * mean[:, None, :]) / np.sqrt(block)
    psi = np.einsum("dli,dlj->dij", zeta, zeta) / zeta.shape[1]
    grad = _gradient(mean[:, :2], mean[:, 2:])
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.maximum(np.einsum("di,dij,dj->d", grad, psi, grad), 0.0) / n)
        sd = np.sqrt(np.maximum(mean[:, 2:] - mean[:, :2] ** 2, 0.0) * n / (n - 1))
        sr = mean[:, :2] / sd
        gap = np.abs(sr[:, 0] - sr[:, 1] - diff) / se
    return np.where(np.isfinite(gap), gap, 0.0)
