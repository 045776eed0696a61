"""Factor regression: alpha, betas and Newey-West t-statistics of returns on factor returns.

The regression is ordinary least squares with an intercept,
:math:`r_t = \\alpha + \\sum_k \\beta_k f_{k,t} + \\varepsilon_t`, and its standard errors
are heteroskedasticity- and autocorrelation-consistent (Newey-West, Bartlett kernel), with
the conventions of ``statsmodels`` ``OLS(...).fit(cov_type="HAC", cov_kwds={"maxlags": L})``
(no small-sample factor unless asked, as statsmodels' default), which the tests match to 1e-10.

Factor sets shipped with simlab (:func:`factor_returns`):

``market``    the benchmark's daily simple returns (column ``MKT``)
``ff3``       Fama-French market excess, SMB, HML, monthly (1926-07 .. 2018-11); the
              returns regressed on them are compounded to months and taken in excess of RF
``etf``       the factor ETFs MTUM, QUAL, SIZE, USMV, VLUE, daily (2014-01 .. 2022-12)

>>> fit = regress(portfolio_returns, factors)          # doctest: +SKIP
>>> fit.table()                                         # coefficient, t-stat, p-value  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from simlab.errors import DataError

FACTOR_SETS = ("market", "ff3", "etf")
PERIODS = {"D": 252, "M": 12}


@dataclass(frozen=True)
class FactorFit:
    """One regression: coefficients (``alpha`` first), their Newey-West errors, R²."""

    coef: pd.Series
    stderr: pd.Series
    r2: float
    nobs: int
    lags: int
    periods: int

    @property
    def tstat(self) -> pd.Series:
        """Coefficient over its Newey-West standard error."""
        return self.coef / self.stderr

    @property
    def pvalue(self) -> pd.Series:
        """Two-sided p-values of the t-statistics (normal reference, as statsmodels' HAC)."""
        return pd.Series(2.0 * stats.norm.sf(np.abs(self.tstat)), index=self.coef.index)

    @property
    def alpha_annual(self) -> float:
        """The intercept times the periods per year (simple annualization)."""
        return float(self.coef["alpha"] * self.periods)

    def table(self) -> pd.DataFrame:
        """Coefficient, standard error, t-statistic and p-value, one row per term."""
        return pd.DataFrame({"coef": self.coef, "stderr": self.stderr, "tstat": self.tstat, "pvalue": self.pvalue})


def newey_west_lags(nobs: int) -> int:
    """The Newey-West (1994) rule of thumb: ``floor(4 (T / 100) ** (2 / 9))``."""
    return int(np.floor(4.0 * (nobs / 100.0) ** (2.0 / 9.0)))


def ols_hac(y: np.ndarray, x: np.ndarray, lags: int,
            small_sample: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """OLS coefficients, Newey-West standard errors and R² of ``y`` on ``x`` (with its constant).

    Matches ``statsmodels.api.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags,
    "use_correction": small_sample})``: Bartlett weights ``1 - l / (lags + 1)``, and the
    factor ``n / (n - k)`` on the covariance when ``small_sample``.
    """
    n, k = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    coef = xtx_inv @ (x.T @ y)
    resid = y - x @ coef
    scores = x * resid[:, None]
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        gamma = scores[lag:].T @ scores[:-lag]
        meat += (1.0 - lag / (lags + 1.0)) * (gamma + gamma.T)
    cov = xtx_inv @ meat @ xtx_inv * (n / (n - k) if small_sample else 1.0)
    centred = y - y.mean()
    r2 = 1.0 - float(resid @ resid) / float(centred @ centred)
    return coef, np.sqrt(np.diag(cov)), r2


def regress(returns: pd.Series, factors: pd.DataFrame, *, lags: int | None = None, periods: int = 252,
            small_sample: bool = False) -> FactorFit:
    """Regress ``returns`` on ``factors`` (aligned on their common dates, NaN rows dropped).

    Parameters
    ----------
    returns : Series
        Portfolio (or active) returns, one per period.
    factors : DataFrame
        Factor returns over the same periods, one column per factor.
    lags : int, optional
        Newey-West lags; default :func:`newey_west_lags` of the sample size.
    periods : int
        Periods per year (252 daily, 12 monthly), for the annualized alpha.
    small_sample : bool
        Scale the covariance by ``n / (n - k)`` (statsmodels' ``use_correction``).

    Raises
    ------
    DataError
        Fewer observations than twice the number of terms, or a constant factor.
    """
    joined = pd.concat([returns.rename("__y__"), factors], axis=1, join="inner").dropna()
    k = factors.shape[1] + 1
    if len(joined) < max(2 * k, 10):
        raise DataError(
            f"factor regression of {returns.name!r} on {', '.join(map(str, factors.columns))}: "
            f"{len(joined)} common observations, need at least {max(2 * k, 10)} (do the dates overlap?)"
        )
    flat = [c for c in factors.columns if joined[c].std() == 0.0]
    if flat:
        raise DataError(f"factor regression: factor(s) {', '.join(map(str, flat))} are constant over the sample")
    y = joined["__y__"].to_numpy(float)
    x = np.column_stack([np.ones(len(joined)), joined[list(factors.columns)].to_numpy(float)])
    nlags = newey_west_lags(len(joined)) if lags is None else int(lags)
    coef, stderr, r2 = ols_hac(y, x, nlags, small_sample)
    names = ["alpha", *map(str, factors.columns)]
    return FactorFit(pd.Series(coef, index=names), pd.Series(stderr, index=names), r2, len(joined), nlags, periods)


def exposures_table(returns: pd.DataFrame, factors: pd.DataFrame, *, lags: int | None = None,
                    periods: int = 252) -> pd.DataFrame:
    """One row per column of ``returns``: annualized alpha, betas, their t-statistics, R², n.

    Columns: ``alpha_ann``, ``t(alpha)``, then ``beta:F`` and ``t(F)`` per factor, ``r2``,
    ``nobs``, ``lags``.
    """
    rows = {}
    for name in returns.columns:
        fit = regress(returns[name].rename(name), factors, lags=lags, periods=periods)
        row = {"alpha_ann": fit.alpha_annual, "t(alpha)": fit.tstat["alpha"]}
        for f in map(str, factors.columns):
            row[f"beta:{f}"] = fit.coef[f]
            row[f"t({f})"] = fit.tstat[f]
        rows[name] = {**row, "r2": fit.r2, "nobs": fit.nobs, "lags": fit.lags}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("scenario")


def rolling_betas(returns: pd.Series, factors: pd.DataFrame, window: int = 252) -> pd.DataFrame:
    """Rolling OLS coefficients (``alpha`` and one column per factor) over ``window`` periods.

    The value at t uses the ``window`` observations ending at t (causal); NaN before that.
    """
    joined = pd.concat([returns.rename("__y__"), factors], axis=1, join="inner").dropna()
    y = joined["__y__"].to_numpy(float)
    x = np.column_stack([np.ones(len(joined)), joined[list(factors.columns)].to_numpy(float)])
    out = np.full(x.shape, np.nan)
    for end in range(window, len(joined) + 1):
        xs, ys = x[end - window:end], y[end - window:end]
        out[end - 1] = np.linalg.lstsq(xs, ys, rcond=None)[0]
    return pd.DataFrame(out, index=joined.index, columns=["alpha", *map(str, factors.columns)])


def rolling_market_beta(returns: pd.DataFrame, market: pd.Series, window: int = 252) -> pd.DataFrame:
    """Rolling one-factor beta of each column on ``market``: rolling covariance over variance.

    Equal to the slope of :func:`rolling_betas` with the single factor ``market``; causal,
    NaN until ``window`` common observations.
    """
    joined = returns.join(market.rename("__m__"), how="inner")
    m = joined.pop("__m__")
    cov = joined.rolling(window).cov(m)
    return cov.div(m.rolling(window).var(), axis=0)


def to_monthly(returns: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Compound daily simple returns to calendar months, labelled by month end.

    A month with no observation is dropped rather than shown as a zero return.
    """
    grouped = (1.0 + returns).groupby(returns.index.to_period("M"))
    monthly = grouped.prod() - 1.0
    counts = grouped.count()
    monthly = monthly.where(counts > 0) if isinstance(monthly, pd.DataFrame) else monthly[counts > 0]
    monthly.index = monthly.index.to_timestamp(how="end").normalize()
    return monthly


def factor_returns(name: str, benchmark_returns: pd.Series | None = None) -> pd.DataFrame:
    """A shipped factor set as returns (see the module docstring for the sets).

    Raises
    ------
    DataError
        An unknown set, or ``market`` without a benchmark.
    """
    from simlab.data import load_table

    if name == "market":
        if benchmark_returns is None:
            raise DataError("factor set 'market' needs a benchmark: set data.benchmark in the config")
        return benchmark_returns.rename("MKT").to_frame()
    if name == "ff3":
        table = load_table("ff_factors")
        table.index = pd.DatetimeIndex(table.index).to_period("M").to_timestamp(how="end").normalize()
        return table.astype(float)
    if name == "etf":
        prices = load_table("factor_etfs").astype(float)
        return prices.pct_change(fill_method=None).iloc[1:]
    raise DataError(f"unknown factor set {name!r}; expected one of {', '.join(FACTOR_SETS)}")


def factor_exposures(returns: pd.DataFrame, factor_set: str, benchmark_returns: pd.Series | None = None,
                     lags: int | None = None, periods: int = 252) -> pd.DataFrame:
    """:func:`exposures_table` of daily ``returns`` on a shipped factor set.

    For ``ff3`` the returns are compounded to months and the risk-free rate subtracted
    (the regression is of excess returns on ``Mkt-RF``, ``SMB``, ``HML``); the other sets
    regress the daily returns as they are, their alpha annualized over ``periods`` daily returns a year
    (252; 365 on ``data.calendar: every_day``).
    """
    factors = factor_returns(factor_set, benchmark_returns)
    if factor_set == "ff3":
        monthly = to_monthly(returns)
        rf = factors["RF"].reindex(monthly.index)
        excess = monthly.sub(rf, axis=0)
        return exposures_table(excess, factors[["Mkt-RF", "SMB", "HML"]], lags=lags, periods=12)
    return exposures_table(returns, factors, lags=lags, periods=periods)
