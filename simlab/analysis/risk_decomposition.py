"""Risk decomposition: marginal and component contributions to volatility, VaR and CVaR.

Every measure here is homogeneous of degree one in the weights, so by Euler's theorem the
component contributions :math:`c_i = w_i \\, \\partial R / \\partial w_i` add up to the total
:math:`R(w)` exactly (to rounding). The decompositions:

``volatility``  :math:`\\sigma = \\sqrt{w^\\top \\Sigma w}`, marginal :math:`(\\Sigma w)_i / \\sigma`
``var`` / ``cvar`` (historical)
                over the rows of a return sample, the portfolio loss :math:`L_t = -w^\\top r_t`;
                with :math:`k = \\lceil (1 - \\alpha) T \\rceil`, CVaR is the mean of the k largest
                losses and its component i the mean of :math:`-w_i r_{t,i}` over those rows;
                VaR is the k-th largest loss and its component i :math:`-w_i r_{t,i}` on that row
                (the derivative of the order statistic where it is differentiable)
``gaussian``    VaR and CVaR of a normal with the sample mean and covariance:
                :math:`-\\mu_p + z \\sigma_p` and :math:`-\\mu_p + \\sigma_p \\varphi(z)/(1-\\alpha)`,
                components :math:`w_i(-\\mu_i + z (\\Sigma w)_i / \\sigma_p)` and likewise

Units are those of the returns given (daily returns give daily risk); nothing is annualized.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from simlab.errors import DataError

MEASURES = ("volatility", "var", "cvar")


def _aligned(weights: pd.Series, frame: pd.DataFrame, what: str) -> np.ndarray:
    missing = [a for a in weights.index if a not in frame.columns]
    if missing:
        raise DataError(f"risk decomposition: asset(s) {', '.join(map(str, missing))} have weights but no {what}")
    return weights.to_numpy(float)


def _table(weights: pd.Series, marginal: np.ndarray, total: float) -> pd.DataFrame:
    w = weights.to_numpy(float)
    component = w * marginal
    share = component / total if total != 0 else np.full(len(w), np.nan)
    return pd.DataFrame({"weight": w, "marginal": marginal, "component": component, "percent": share},
                        index=weights.index.rename("asset"))


def volatility_contributions(weights: pd.Series, cov: pd.DataFrame) -> pd.DataFrame:
    """Marginal and component contributions to portfolio volatility.

    Parameters
    ----------
    weights : Series
        Portfolio weights indexed by asset (cash, the rest, carries no risk).
    cov : DataFrame
        Covariance of the assets' returns (labelled; reindexed to ``weights``).

    Returns
    -------
    DataFrame
        One row per asset: ``weight``, ``marginal`` (dσ/dw), ``component`` (w · dσ/dw,
        summing to σ), ``percent`` (component / σ, summing to 1).

    Raises
    ------
    DataError
        An asset without a covariance row, or a zero-volatility portfolio.
    """
    w = _aligned(weights, cov, "covariance row")
    sigma_mat = cov.loc[weights.index, weights.index].to_numpy(float)
    sw = sigma_mat @ w
    vol = float(np.sqrt(w @ sw))
    if not vol > 0:
        raise DataError("risk decomposition: the portfolio has zero volatility (all cash?): nothing to decompose")
    return _table(weights, sw / vol, vol)


def tail_contributions(weights: pd.Series, returns: pd.DataFrame, measure: str = "cvar",
                       alpha: float = 0.95, method: str = "historical") -> pd.DataFrame:
    """Marginal and component contributions to VaR or CVaR (losses positive).

    Parameters
    ----------
    weights : Series
        Portfolio weights indexed by asset.
    returns : DataFrame
        A sample of asset returns (rows are periods); rows with a NaN are dropped.
    measure : {"var", "cvar"}
    alpha : float
        Confidence level, e.g. 0.95 for the worst 5 %.
    method : {"historical", "gaussian"}

    Returns
    -------
    DataFrame
        As :func:`volatility_contributions`, the components summing to the measure.
    """
    if measure not in ("var", "cvar"):
        raise DataError(f"tail_contributions: measure {measure!r}; expected 'var' or 'cvar'")
    if not 0.5 <= alpha < 1.0:
        raise DataError(f"tail_contributions: alpha {alpha} outside [0.5, 1)")
    w = _aligned(weights, returns, "returns")
    sample = returns[list(weights.index)].dropna().to_numpy(float)
    if method == "gaussian":
        marginal = _gaussian_marginal(w, sample, measure, alpha)
    elif method == "historical":
        marginal = _historical_marginal(w, sample, measure, alpha)
    else:
        raise DataError(f"tail_contributions: method {method!r}; expected 'historical' or 'gaussian'")
    return _table(weights, marginal, float(w @ marginal))


def _historical_marginal(w: np.ndarray, sample: np.ndarray, measure: str, alpha: float) -> np.ndarray:
    n = len(sample)
    k = int(np.ceil((1.0 - alpha) * n - 1e-9))
    if k < 1 or n < 2:
        raise DataError(f"historical {measure}: {n} observations leave no tail at alpha {alpha}")
    losses = -(sample @ w)
    order = np.argsort(-losses, kind="stable")
    if measure == "var":
        return -sample[order[k - 1]]
    return -sample[order[:k]].mean(axis=0)


def _gaussian_marginal(w: np.ndarray, sample: np.ndarray, measure: str, alpha: float) -> np.ndarray:
    if len(sample) < 3:
        raise DataError(f"gaussian {measure}: {len(sample)} observations are too few for a covariance")
    mu = sample.mean(axis=0)
    sw = np.cov(sample, rowvar=False, ddof=1) @ w
    vol = float(np.sqrt(w @ sw))
    if not vol > 0:
        raise DataError(f"gaussian {measure}: the portfolio has zero volatility")
    z = stats.norm.ppf(alpha)
    scale = z if measure == "var" else stats.norm.pdf(z) / (1.0 - alpha)
    return -mu + scale * sw / vol


def by_group(contributions: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Sum a contributions table by group (e.g. sector): weight, component, percent.

    Assets without a group land in ``"(none)"``; the groups' components still add to the total.
    """
    labels = groups.reindex(contributions.index).fillna("(none)").rename("group")
    return contributions[["weight", "component", "percent"]].groupby(labels).sum()


def decompose(weights: pd.Series, returns: pd.DataFrame, alpha: float = 0.95,
              method: str = "historical") -> pd.DataFrame:
    """Component contributions to volatility, VaR and CVaR side by side, one row per asset.

    The covariance is the sample covariance (ddof 1) of ``returns``; the tail measures are
    :func:`tail_contributions` with ``method``. A last row ``total`` holds the measures.
    """
    sample = returns[list(weights.index)].dropna()
    cov = sample.cov()
    out = pd.DataFrame({
        "weight": weights.to_numpy(float),
        "volatility": volatility_contributions(weights, cov)["component"].to_numpy(),
        "var": tail_contributions(weights, sample, "var", alpha, method)["component"].to_numpy(),
        "cvar": tail_contributions(weights, sample, "cvar", alpha, method)["component"].to_numpy(),
    }, index=weights.index.rename("asset"))
    out.loc["total"] = out.sum()
    return out
