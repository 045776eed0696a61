"""Covariance estimators: functional forms on pandas, and the :class:`Covariance` Feature.

The functional forms take a DataFrame (T, N) of daily simple returns and return the (N, N)
estimate at its last date, in daily units, with the conventions of the library each one is
checked against:

>>> from simlab.features import covariance                      # doctest: +SKIP
>>> covariance.sample(returns)          # returns.dropna().cov()
>>> covariance.ewma(returns, 20)        # returns.ewm(halflife=20).cov() at the last date
>>> covariance.ledoit_wolf(returns)     # sklearn LedoitWolf().fit(returns.dropna()).covariance_

:class:`Covariance` is the Feature a Step declares: the same estimators at every decision
row at once, each from the trailing window only (batched kernels in
:mod:`simlab.kernels.covariance`, :mod:`simlab.kernels.shrinkage` and
:mod:`simlab.kernels.nearest_psd`, reached through
:func:`simlab.kernels.dispatch.covariance_batch`).

Regime-conditional covariance: give :class:`Covariance` a ``regime`` (a Feature whose value
at each row is an integer label, or the name of a ``macro`` series of labels). At row t the
estimate then uses only the window's rows labelled like row t; with fewer than
``min_regime_obs`` such rows, or an unknown label (negative or NaN), it is the
unconditional estimate. :class:`RegimeFallback` gives the (R,) flags of those fallbacks for
a Step's diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.errors import ConfigError
from simlab.features.base import Feature, FeatureInputs
from simlab.kernels._support import BACKENDS
from simlab.kernels.covariance import ewm_cov_last_nb
from simlab.kernels.dispatch import (
    COV_ESTIMATORS,
    CovarianceBatch,
    SweepCarry,
    clean_labels,
    covariance_batch,
    ewm_decay,
    regime_fallback,
)
from simlab.kernels.nearest_psd import min_corr_eigenvalue_nb, nearest_psd_nb

ESTIMATORS = COV_ESTIMATORS
TARGETS = {"identity": "ledoit_wolf", "constant_correlation": "ledoit_wolf_cc"}
DEFAULT_HALFLIFE = 20.0
MIN_REGIME_OBS = 50


def _frame(values: np.ndarray, returns: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(values, index=returns.columns.copy(), columns=returns.columns.copy())


def _complete(returns: pd.DataFrame) -> np.ndarray:
    x = returns.dropna().to_numpy(dtype=np.float64)
    if len(x) < 2:
        raise ValueError(f"need at least 2 rows without NaN; got {len(x)} of {len(returns)}")
    return x


def _last(x: np.ndarray, **kwargs) -> np.ndarray:
    batch, _ = covariance_batch(x, [len(x) - 1], window=len(x), backend="numba", **kwargs)
    return batch.cov[0]


def sample(returns: pd.DataFrame, ddof: int = 1) -> pd.DataFrame:
    """Sample covariance (N, N) of the rows without NaN; equals ``returns.dropna().cov(ddof=ddof)``."""
    return _frame(_last(_complete(returns), estimator="sample", ddof=ddof), returns)


def ewma(returns: pd.DataFrame, halflife: float = 20, adjust: bool = True) -> pd.DataFrame:
    """EWMA covariance (N, N) at the last date; equals ``returns.ewm(halflife, adjust=adjust).cov()``.

    pandas' conventions throughout: bias-corrected (``bias=False``), each pair over the rows
    both assets have, weights decaying across missing rows (``ignore_na=False``).
    """
    x = returns.to_numpy(dtype=np.float64)
    observed = np.isfinite(x)
    first = int(np.argmax(observed.any(axis=1))) if observed.any() else len(x)
    x = x[first:]  # rows before the first observation do not count in pandas' recursion
    if len(x) >= 2 and np.isfinite(x).all():
        values = _last(x, estimator="ewma", halflife=halflife, adjust=adjust)
    elif adjust and len(x) >= 2:
        batch, _ = covariance_batch(x, [len(x) - 1], estimator="ewma", halflife=halflife,
                                    window=None, min_periods=2, clean=False, backend="numba")
        values = batch.cov[0]
    elif len(x) == 0:
        values = np.full((returns.shape[1], returns.shape[1]), np.nan)
    else:
        alpha = 1.0 - ewm_decay(halflife)
        values = ewm_cov_last_nb(np.ascontiguousarray(x.reshape(-1, returns.shape[1])),
                                 alpha, adjust, False, False, 0)
    return _frame(values, returns)


def ledoit_wolf(returns: pd.DataFrame, target: str = "identity") -> pd.DataFrame:
    """Ledoit-Wolf shrunk covariance (N, N) of the rows without NaN.

    ``target="identity"``: equals ``sklearn.covariance.LedoitWolf().fit(x).covariance_``
    (``assume_centered=False``). ``target="constant_correlation"``: Ledoit & Wolf (2004),
    their ``covCor.m``: shrinks the biased sample covariance toward the matrix with the
    sample variances and the average sample correlation.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}; got {target!r}")
    return _frame(_last(_complete(returns), estimator=TARGETS[target]), returns)


def regime_conditional(returns: pd.DataFrame, labels, estimator: str = "sample",
                       halflife: float | None = None, window: int | None = None,
                       min_obs: int = MIN_REGIME_OBS) -> tuple[pd.DataFrame, bool]:
    """Covariance at the last date from the rows labelled like it; returns ``(cov, fell_back)``.

    ``labels`` : (T,) integer regime labels aligned with ``returns`` (negative or NaN:
    unknown). The estimate uses the rows of the window (``None``: all rows) whose label
    equals the last row's; with fewer than ``min_obs`` of them, or an unknown label, it is
    the unconditional estimate and ``fell_back`` is True. Assets missing any of those rows
    are NaN (expanding windows: assets with fewer than 2 such rows).
    """
    if estimator == "ewma" and halflife is None:
        halflife = DEFAULT_HALFLIFE
    batch, _ = covariance_batch(returns.to_numpy(dtype=np.float64), [len(returns) - 1],
                                estimator=estimator, halflife=halflife, window=window,
                                labels=np.asarray(labels), min_regime_obs=min_obs, backend="numba")
    return _frame(batch.cov[0], returns), bool(batch.regime_fallback[0])


def nearest_psd(cov, max_iter: int = 200, tol: float = 1e-10):
    """Nearest positive semidefinite matrix with the same variances (Higham 2002).

    Alternating projections with Dykstra's correction on the correlation scale; a matrix
    whose smallest correlation-scale eigenvalue is already >= ``-tol`` comes back
    unchanged. DataFrame in, DataFrame out (same labels); ndarray in, ndarray out.
    """
    a = np.asarray(cov, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.isfinite(a).all():
        raise ValueError(f"nearest_psd needs a finite square matrix; got shape {a.shape}")
    if min_corr_eigenvalue_nb(np.ascontiguousarray(a)) >= -tol:
        out = a.copy()
    else:
        out, _ = nearest_psd_nb(np.ascontiguousarray(a), max_iter, tol)
    if isinstance(cov, pd.DataFrame):
        return pd.DataFrame(out, index=cov.index, columns=cov.columns)
    return out


@dataclass(frozen=True)
class Covariance(Feature):
    """(N, N) covariance of daily returns at each decision row, from the trailing window.

    Parameters
    ----------
    estimator : ``sample`` (ddof=1), ``ewma`` (pandas ``ewm(halflife).cov()`` on the window),
        ``ledoit_wolf`` (scikit-learn ``LedoitWolf``) or ``ledoit_wolf_cc`` (constant correlation).
    window : rows ``t - window + 1 .. t``; None for all rows up to t (expanding; sample and
        ewma only, which then estimate each pair over the rows both assets have).
    halflife : EWMA halflife in rows (``ewma`` only; default 20).
    min_periods : None: an asset needs every row of a full window; an int: at least that
        many rows, each pair then estimated over the rows both have and the result repaired
        to the nearest PSD where it is indefinite (``sample``/``ewma``; expanding windows
        default to 2).
    regime : a Feature giving an integer label per row (or a table whose first column is
        one, as ``risk.regime.RegimeLabels``), or the name of a ``macro`` series of labels;
        the estimate at t then uses only rows labelled like t (module docstring).
    min_regime_obs : fewer rows than this in t's regime falls back to the unconditional estimate.
    backend : ``auto``, ``numba``, ``numpy`` or ``cupy``.
    rolling : carry each window's sums forward one row at a time from an exact window every
        64 rows (:mod:`simlab.kernels.covariance_rolling`): the same estimate to rounding
        (about 1e-15 relative), several times faster for daily decisions; a fixed window of
        the ``sample`` or Ledoit-Wolf estimators without a regime only.

    ``compute`` returns (R, N, N): NaN in the row and column of each asset without the
    required history at that row (never zero-filled), PSD on the rest.
    """

    estimator: str = "sample"
    window: int | None = 252
    halflife: float | None = None
    min_periods: int | None = None
    regime: Feature | str | None = None
    min_regime_obs: int = MIN_REGIME_OBS
    backend: str = "auto"
    rolling: bool = False

    def __post_init__(self) -> None:
        _check_field("estimator", self.estimator, self.estimator in ESTIMATORS, f"one of {ESTIMATORS}")
        _check_field("window", self.window, self.window is None or (_is_int(self.window) and self.window >= 2),
                     "an integer >= 2 or None")
        _check_field("window", self.window, self.window is not None or not self.estimator.startswith("ledoit"),
                     f"an integer >= 2 for estimator {self.estimator!r} (Ledoit-Wolf needs complete windows)")
        _check_field("halflife", self.halflife, self.halflife is None or (
            self.estimator == "ewma" and float(self.halflife) > 0), "a number > 0, for estimator 'ewma' only")
        _check_field("min_periods", self.min_periods, self.min_periods is None or (
            _is_int(self.min_periods) and self.min_periods >= 2 and not self.estimator.startswith("ledoit")),
            "None or an integer >= 2 (sample and ewma only)")
        _check_field("regime", self.regime, self.regime is None or isinstance(self.regime, (Feature, str)),
                     "None, a Feature of labels or a macro series name")
        _check_field("min_regime_obs", self.min_regime_obs,
                     _is_int(self.min_regime_obs) and self.min_regime_obs >= 2, "an integer >= 2")
        _check_field("backend", self.backend, self.backend in BACKENDS, f"one of {BACKENDS}")
        _check_field("rolling", self.rolling, not self.rolling or (
            self.estimator != "ewma" and self.window is not None and self.min_periods is None
            and self.regime is None), "false unless the window is fixed and complete, the estimator "
            "'sample' or Ledoit-Wolf and there is no regime")

    def row_nbytes(self, inputs: FeatureInputs) -> int:
        """One (N, N) float64 matrix per row."""
        n = inputs.returns.shape[1]
        return 8 * n * n

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        """(R, N, N) covariance at ``rows``, each from rows at or before it."""
        return self.estimate(inputs, rows).cov

    def compute_chunk(self, inputs: FeatureInputs, rows: np.ndarray, out: np.ndarray | None,
                      carry: dict) -> np.ndarray:
        """:meth:`compute`, written into ``out`` where it fits, the sweep resumed from the
        prefix sums the last chunk saved in ``carry`` (the same values)."""
        sweep = carry.setdefault("sweep", SweepCarry())
        return self.estimate(inputs, rows, out=out, carry=sweep).cov

    def estimate(self, inputs: FeatureInputs, rows: np.ndarray, out: np.ndarray | None = None,
                 carry: SweepCarry | None = None) -> CovarianceBatch:
        """The covariance with its diagnostics (included assets, fallbacks, shrinkage, repairs)."""
        halflife = self.halflife
        if self.estimator == "ewma" and halflife is None:
            halflife = DEFAULT_HALFLIFE
        batch, _ = covariance_batch(
            inputs.returns, rows, estimator=self.estimator, window=self.window, halflife=halflife,
            min_periods=self.min_periods, labels=self.labels(inputs),
            min_regime_obs=self.min_regime_obs, backend=self.backend, rolling=self.rolling, out=out, carry=carry,
        )
        return batch

    def labels(self, inputs: FeatureInputs) -> np.ndarray | None:
        """(T,) int64 regime label of every row (-1 unknown), or None without a regime.

        A Feature regime is computed at every row; it may return (T,) labels or a (T, K)
        table whose first column is the label (the layout of ``risk.regime.RegimeLabels``).
        """
        if self.regime is None:
            return None
        n_rows = len(inputs.returns)
        if isinstance(self.regime, str):
            if self.regime not in inputs.macro:
                raise ConfigError(f"regime: no macro series {self.regime!r}; available: {sorted(inputs.macro)}")
            values = inputs.macro[self.regime]
        else:
            values = self.regime.compute(inputs, np.arange(n_rows))
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[0] == n_rows:
            values = values[:, 0]  # a table whose first column is the label (risk.regime.RegimeLabels)
        if values.shape != (n_rows,):
            raise ValueError(f"regime {self.regime} gave labels of shape {values.shape}; expected ({n_rows},)")
        return clean_labels(values)


@dataclass(frozen=True)
class RegimeFallback(Feature):
    """(R,) bool: True where ``covariance`` fell back to its unconditional estimate.

    A Step declares it beside the :class:`Covariance` it uses and copies it into its
    diagnostics. Cheap: it counts labels, it does not estimate anything.
    """

    covariance: Covariance

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        """Fallback flags at ``rows`` (all False without a regime)."""
        labels = self.covariance.labels(inputs)
        if labels is None:
            return np.zeros(len(rows), dtype=bool)
        return regime_fallback(labels, rows, self.covariance.window, self.covariance.min_regime_obs)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_field(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise ConfigError(f"covariance.{name} must be {expected}; got {value!r}")
