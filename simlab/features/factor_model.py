"""Factor risk models: ``Sigma = B F B' + D``, estimated point in time from a trailing window.

Two models, each as a functional form on pandas and inside the :class:`FactorRisk` Feature:

- **statistical** (``pca``): the principal components of the window's sample covariance.
  With ``R`` the (W, n) demeaned returns of the assets that have all W of them, the k
  leading eigenpairs ``(lambda_j, v_j)`` of ``S = R'R / (W - 1)`` give loadings
  ``B = [v_1 .. v_k]`` (scikit-learn's ``PCA(k).fit(R).components_.T``), factor variances
  ``F = diag(lambda)`` (``explained_variance_``) and specific variances ``D = diag(S) -
  diag(B F B')``: the variance the k factors leave unexplained, so ``diag(Sigma) =
  diag(S)``. Computed from the (W, W) Gram matrix, O(W^2 n) a row.
- **fundamental** (``fundamental``): the factor returns are given (for example factor
  ETFs: MTUM, QUAL, SIZE, USMV, VLUE of ``builtin:factor_etfs``). Each asset's betas
  are the ordinary least squares slopes of its returns on ``[1, f]`` over the window
  (statsmodels ``OLS(r, add_constant(f)).fit().params[1:]``), its specific variance the
  residual variance ``SSR / (W - k - 1)`` (``mse_resid``), and ``F`` the sample
  covariance (ddof 1) of the factor returns over the window. One least-squares solve
  serves every asset.

An asset without all W returns in the window has no estimate (NaN), never a zero-filled
one; a fundamental row whose factor returns have a NaN in the window is all NaN.
Specific variances are floored at ``SPECIFIC_FLOOR`` times the mean asset variance, so
``D`` stays positive (the low-rank QP's exact polish needs it); the floor is far below
any real specific risk.

:class:`FactorRisk` returns, at each decision row, an (N, k + 1) array: ``X = B F^{1/2}``
in the first k columns (so ``B F B' = X X'``) and ``d = diag(D)`` in the last, the form
:func:`simlab.kernels.qp_factor.solve_factor_qp` takes; :func:`covariance_of` rebuilds
the dense matrix where one is wanted (small N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.errors import ConfigError
from simlab.features.base import Feature, FeatureInputs
from simlab.kernels.qp_factor import dense_covariance, factor_exposures

MODELS = ("pca", "fundamental")
SPECIFIC_FLOOR = 1e-8


# --------------------------------------------------------------------------- array cores


def pca_window(x: np.ndarray, n_factors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Statistical model of one complete window ``x`` (W, n): loadings (n, k), factor
    variances (k,) and specific variances (n,), as the module docstring defines them.

    The component signs follow scikit-learn's ``svd_flip`` (``u_based_decision=False``):
    each loading vector's largest-magnitude entry is positive.
    """
    w, n = x.shape
    k = min(n_factors, n, w - 1)
    if n == 0 or k < 1:
        return np.zeros((n, 0)), np.zeros(0), np.full(n, np.nan)
    r = x - x.mean(axis=0)
    gram = r @ r.T / (w - 1)
    vals, vecs = np.linalg.eigh(gram)
    vals, vecs = vals[::-1][:k], vecs[:, ::-1][:, :k]
    keep = vals > 0
    vals, vecs = vals[keep], vecs[:, keep]
    loadings = (r.T @ vecs) / np.sqrt(vals * (w - 1))
    pick = np.abs(loadings).argmax(axis=0)
    loadings *= np.sign(loadings[pick, np.arange(loadings.shape[1])])
    total = (r * r).sum(axis=0) / (w - 1)
    specific = total - (loadings**2 * vals).sum(axis=1)
    return loadings, vals, _floor(specific, total)


def ols_window(x: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fundamental model of one complete window: returns ``x`` (W, n), factor returns
    ``f`` (W, k). Betas (n, k), factor covariance (k, k) and residual variances (n,)."""
    w, k = f.shape
    if w <= k + 1:
        raise ValueError(f"a fundamental model with {k} factors needs a window over {k + 1} rows; got {w}")
    design = np.column_stack([np.ones(w), f])
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    resid = x - design @ coef
    specific = (resid * resid).sum(axis=0) / (w - k - 1)
    total = x.var(axis=0, ddof=1)
    return coef[1:].T, np.atleast_2d(np.cov(f, rowvar=False)), _floor(specific, total)


def _floor(specific: np.ndarray, total: np.ndarray) -> np.ndarray:
    level = SPECIFIC_FLOOR * (float(total.mean()) if total.size else 0.0)
    return np.maximum(specific, max(level, np.finfo(float).tiny))


def covariance_of(model: np.ndarray) -> np.ndarray:
    """Dense ``X X' + diag(d)`` (..., N, N) from a :class:`FactorRisk` value (..., N, k + 1)."""
    model = np.asarray(model, dtype=np.float64)
    return dense_covariance(model[..., :-1], model[..., -1])


# --------------------------------------------------------------------------- pandas forms


def pca_model(returns: pd.DataFrame, n_factors: int = 5) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Statistical factor model of the rows without NaN: ``(loadings, factor_variance, specific)``.

    ``loadings`` (N, k) equals ``PCA(k).fit(x).components_.T`` and ``factor_variance``
    ``explained_variance_`` (scikit-learn), ``specific`` the variance left unexplained.
    """
    x = _complete(returns)
    b, lam, d = pca_window(x, n_factors)
    names = [f"pc{j + 1}" for j in range(len(lam))]
    return (pd.DataFrame(b, index=returns.columns, columns=names), pd.Series(lam, index=names),
            pd.Series(d, index=returns.columns))


def fundamental_model(returns: pd.DataFrame, factor_returns: pd.DataFrame
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Betas (N, k), factor covariance (k, k) and residual variances (N,) by OLS with an
    intercept over the dates both frames have without NaN (statsmodels' ``OLS``)."""
    joined = pd.concat([returns, factor_returns], axis=1, join="inner").dropna()
    if len(joined) <= factor_returns.shape[1] + 1:
        raise ValueError(f"need more than {factor_returns.shape[1] + 1} complete rows; got {len(joined)}")
    x = joined[returns.columns].to_numpy(dtype=np.float64)
    f = joined[factor_returns.columns].to_numpy(dtype=np.float64)
    betas, cov, d = ols_window(x, f)
    cols = factor_returns.columns
    return (pd.DataFrame(betas, index=returns.columns, columns=cols), pd.DataFrame(cov, index=cols, columns=cols),
            pd.Series(d, index=returns.columns))


def _complete(returns: pd.DataFrame) -> np.ndarray:
    x = returns.dropna().to_numpy(dtype=np.float64)
    if len(x) < 2:
        raise ValueError(f"need at least 2 rows without NaN; got {len(x)} of {len(returns)}")
    return x


# --------------------------------------------------------------------------- the Feature


@dataclass(frozen=True)
class FactorRisk(Feature):
    """(N, k + 1) factor model at each decision row: ``X = B F^{1/2}``, then ``d``.

    Parameters
    ----------
    model : ``pca`` (statistical) or ``fundamental`` (factor returns given).
    window : trailing rows ``t - window + 1 .. t`` of daily returns.
    n_factors : k of the ``pca`` model.
    factors : names of ``macro`` series holding the factor *levels* (prices, for example
        factor ETF closes; their daily simple returns are the factor returns) for
        ``fundamental``.
    width : at least this many exposure columns, the extra ones zero (so that scenarios
        with different k stack into one array); 0 for k.

    ``compute`` returns (R, N, max(k, width) + 1); an asset without the full window is NaN
    in its row. The ``pca`` model has k columns whatever the rank: components beyond it are zero.
    """

    model: str = "pca"
    window: int = 252
    n_factors: int = 5
    factors: tuple[str, ...] = ()
    width: int = 0

    def __post_init__(self) -> None:
        _check("model", self.model, self.model in MODELS, f"one of {MODELS}")
        _check("window", self.window, _is_int(self.window) and self.window >= 3, "an integer >= 3")
        _check("n_factors", self.n_factors, _is_int(self.n_factors) and self.n_factors >= 1, "an integer >= 1")
        _check("width", self.width, _is_int(self.width) and self.width >= 0, "an integer >= 0")
        if self.model == "fundamental":
            _check("factors", self.factors, len(self.factors) >= 1 and all(isinstance(f, str) for f in self.factors),
                   "one or more macro series names for model 'fundamental'")
            _check("window", self.window, self.window > len(self.factors) + 2,
                   f"an integer above {len(self.factors) + 2} for {len(self.factors)} factors")

    @property
    def k(self) -> int:
        """Number of factors."""
        return len(self.factors) if self.model == "fundamental" else self.n_factors

    @property
    def columns(self) -> int:
        """Exposure columns of the value, ``max(k, width)``."""
        return max(self.k, self.width)

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        """(R, N, k + 1) at ``rows``, each from the window ending there."""
        returns = inputs.returns
        n = returns.shape[1]
        out = np.full((len(rows), n, self.columns + 1), np.nan)
        f_all = self.factor_returns(inputs) if self.model == "fundamental" else None
        for i, t in enumerate(np.asarray(rows, dtype=np.int64)):
            start = t - self.window + 1
            if start < 0:
                continue
            block = returns[start:t + 1]
            have = np.isfinite(block).all(axis=0)
            if have.sum() < 2:
                continue
            x = block[:, have]
            if f_all is None:
                b, lam, d = pca_window(x, self.n_factors)
                out[i, have, :len(lam)] = b * np.sqrt(lam)
                out[i, have, len(lam):self.columns] = 0.0
            else:
                f = f_all[start:t + 1]
                if not np.isfinite(f).all():
                    continue
                betas, cov, d = ols_window(x, f)
                out[i, have, :self.k] = factor_exposures(betas, cov)
                out[i, have, self.k:self.columns] = 0.0
            out[i, have, self.columns] = d
        return out

    def factor_returns(self, inputs: FeatureInputs) -> np.ndarray:
        """(T, k) daily simple returns of the ``factors`` macro levels (NaN on the first row)."""
        missing = [f for f in self.factors if f not in inputs.macro]
        if missing:
            raise ConfigError(f"factor model: no macro series {missing}; available: {sorted(inputs.macro)} "
                              "(name them under data.macro)")
        levels = np.column_stack([np.asarray(inputs.macro[f], dtype=np.float64) for f in self.factors])
        out = np.full(levels.shape, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[1:] = levels[1:] / levels[:-1] - 1.0
        return out


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise ConfigError(f"factor_model.{name} must be {expected}; got {value!r}")
