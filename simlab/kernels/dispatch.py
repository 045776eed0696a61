"""One engine-neutral entry per kernel family: arrays in, ``(outputs, Support)`` out.

Each family keeps a table from backend name (``"numba"``, ``"numpy"``, ``"cupy"``) to the
kernels that implement it, and one entry function that resolves the backend
(:func:`simlab.kernels._support.resolve_backend`), runs the same steps on whichever kernels
the table names, and returns host numpy arrays with the :class:`Support` record. To add a
family: write its table and entry below its own section header; nothing else here changes.

Covariance: :func:`covariance_batch`. The QP solver keeps the same pattern (a table
``QP_BACKENDS`` and one entry, :func:`simlab.kernels.qp_solve.solve_qp`) in a module of its
own, with its settings, warm-start state and result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from simlab.kernels import covariance as cov_nb
from simlab.kernels import covariance_rolling, nearest_psd, shrinkage
from simlab.kernels import covariance_xp as cov_xp
from simlab.kernels._support import Support, resolve_backend
from simlab.kernels._xp import cupy_module, to_numpy

# ---------------------------------------------------------------------------------------
# Covariance
# ---------------------------------------------------------------------------------------

COV_ESTIMATORS = ("sample", "ewma", "ledoit_wolf", "ledoit_wolf_cc")
PSD_TOL = 1e-10  # an included block is indefinite below this smallest correlation eigenvalue
PSD_MAX_ITER = 100  # Higham iterations (each an eigendecomposition); the result is PSD either way
PSD_CONV_TOL = 1e-8


@dataclass(frozen=True)
class CovarianceOps:
    """The kernels of one backend, with one calling convention (the table hides in-place work)."""

    window_cov: Callable
    window_counts: Callable
    window_quartics: Callable
    shrink: dict
    repair_psd: Callable
    window_cov_rolling: Callable | None = None  # None: ``rolling`` computes each window exactly


def _nb_in_place(kernel):
    def run(cov, *args):
        return cov, kernel(cov, *args)
    return run


def _output(out, n_rows: int, n_cols: int) -> np.ndarray:
    """``out[:n_rows]`` where ``out`` is a usable buffer for (n_rows, n_cols, n_cols), else a new array."""
    if (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.ndim == 3 and out.shape[0] >= n_rows
            and out.shape[1:] == (n_cols, n_cols) and out.flags.c_contiguous and out.flags.writeable):
        return out[:n_rows]
    return np.empty((n_rows, n_cols, n_cols))


@dataclass
class SweepCarry:
    """The numba sweep's prefix sums saved at a grid row between calls on the same data, so
    that a later batch of windows resumes there instead of sweeping from the first row.

    The prefix sums at a grid row are the same whichever call reaches them, so a resumed
    batch has the same bits. A caller keeps one per (returns, estimator) and passes it to
    :func:`covariance_batch` with each batch, batches in ascending order of rows (a batch
    before the saved row simply sweeps from the first row).
    """

    row: int = -1
    state: np.ndarray | None = None
    spare: np.ndarray | None = None
    key: tuple | None = None


def _grid_floor(row: int) -> int:
    """The last grid row (``-1 + k GRID``) at or before ``row``."""
    return ((row + 1) // cov_nb.GRID) * cov_nb.GRID - 1


def _nb_window_cov(x, obs, sel, rows, starts, decay, include, ddof, pairwise, adjust, active, out=None,
                   carry=None):
    cov = _output(out, len(rows), x.shape[1])
    x, obs = np.ascontiguousarray(x), np.ascontiguousarray(obs)
    none = np.empty(0)
    carry_in, from_row, carry_out, to_row = none, -1, none, -2
    if carry is not None and len(rows):
        key = (x.shape, float(decay), bool(pairwise), bool(adjust))
        first_needed = min(int(rows[0]), int(starts[0]) - 1)
        if carry.state is not None and carry.key == key and carry.row <= first_needed:
            carry_in, from_row = carry.state, carry.row
        to_row = _grid_floor(int(rows[-1]) + 1 - int(rows[-1] - starts[-1] + 1))  # the next batch's first snapshot
        if to_row <= max(from_row, -1):
            to_row = -2
        else:
            size = cov_nb.carry_size(x.shape[1], pairwise)
            carry_out = carry.spare if carry.spare is not None and carry.spare.shape == (size,) else np.empty(size)
    vec, sc = cov_nb.window_cov_into_nb(cov, x, obs, sel, rows, starts, decay, include, ddof, pairwise, adjust,
                                        active, carry_in, from_row, carry_out, to_row)
    if to_row != -2:
        carry.spare, carry.state, carry.row, carry.key = carry.state, carry_out, to_row, key
    return cov, vec, sc


def _nb_window_cov_rolling(x, rows, window, include, ddof, active, out=None):
    cov = _output(out, len(rows), x.shape[1])
    vec, sc = covariance_rolling.rolling_window_cov_nb(cov, np.ascontiguousarray(x), rows, window, include,
                                                       ddof, active)
    return cov, vec, sc


def _nb_repair(cov, include, tol, max_iter, conv_tol):
    return cov, nearest_psd.repair_psd_nb(cov, include, tol, max_iter, conv_tol)


_NUMBA = CovarianceOps(
    window_cov=_nb_window_cov,
    window_counts=cov_nb.window_counts_nb,
    window_quartics=cov_nb.window_quartics_nb,
    shrink={"ledoit_wolf": _nb_in_place(shrinkage.shrink_identity_nb),
            "ledoit_wolf_cc": _nb_in_place(shrinkage.shrink_constant_correlation_nb)},
    repair_psd=_nb_repair,
    window_cov_rolling=_nb_window_cov_rolling,
)
_XP = CovarianceOps(
    window_cov=cov_xp.window_cov_xp,
    window_counts=cov_xp.window_counts_xp,
    window_quartics=cov_xp.window_quartics_xp,
    shrink={"ledoit_wolf": cov_xp.shrink_identity_xp,
            "ledoit_wolf_cc": cov_xp.shrink_constant_correlation_xp},
    repair_psd=cov_xp.repair_psd_xp,
)
COVARIANCE_BACKENDS = {"numba": _NUMBA, "numpy": _XP, "cupy": _XP}


def _namespace(backend: str) -> ModuleType:
    return cupy_module() if backend == "cupy" else np


@dataclass(frozen=True)
class CovarianceBatch:
    """Covariance estimates at R decision rows, host numpy arrays.

    Attributes
    ----------
    cov : (R, N, N) float64; NaN in the row and column of every excluded asset.
    included : (R, N) bool, the assets estimated at each row.
    n_obs : (R,) float64, rows in the estimate (the selected rows of the window).
    shrinkage : (R,) float64 Ledoit-Wolf intensity (0 for other estimators).
    regime_fallback : (R,) bool, True where a regime-conditional estimate fell back to the
        unconditional one (current label unknown or fewer than ``min_regime_obs`` rows).
    repaired : (R,) bool, True where an indefinite estimate was replaced by its nearest PSD.
    """

    cov: np.ndarray
    included: np.ndarray
    n_obs: np.ndarray
    shrinkage: np.ndarray
    regime_fallback: np.ndarray
    repaired: np.ndarray


@dataclass(frozen=True)
class _Spec:
    estimator: str
    decay: float
    ddof: float
    adjust: bool
    window: int | None
    min_periods: int | None
    clean: bool
    rolling: bool = False


def ewm_decay(halflife: float) -> float:
    """The per-row weight factor of pandas ``ewm(halflife=...)``: ``1 - alpha``."""
    return float(np.exp(np.log(0.5) / halflife))


def covariance_batch(returns, rows, *, estimator: str = "sample", window: int | None = 252,
                     halflife: float | None = None, min_periods: int | None = None,
                     labels=None, min_regime_obs: int = 50, ddof: int = 1, adjust: bool = True,
                     clean: bool = True, backend: str = "auto",
                     rolling: bool = False, out: np.ndarray | None = None,
                     carry: SweepCarry | None = None) -> tuple[CovarianceBatch, Support]:
    """Covariance at each decision row from the trailing window, all rows in one batch.

    Parameters
    ----------
    returns : (T, N) float64 daily returns, NaN where unknown.
    rows : (R,) int decision rows; the estimate at row t uses rows ``t - window + 1 .. t``
        (``window=None``: rows ``0 .. t``), nothing later.
    estimator : one of :data:`COV_ESTIMATORS`; ``ewma`` needs ``halflife``.
    min_periods : None: an asset is estimated only with every row of a full window
        (every selected row, with ``labels``); an int: with at least that many rows, each
        pair then over the rows both have ("pairwise", sample and ewma only).
    labels : (T,) int regime labels (negative: unknown), or None. With labels, the estimate
        at row t uses only the window's rows labelled like row t, and falls back to the
        unconditional estimate where there are fewer than ``min_regime_obs`` of them.
    ddof : 1 for the unbiased sample / bias-corrected EWMA (pandas' default), 0 for biased.
    adjust : pandas' ``adjust`` (False needs complete windows and no labels).
    clean : in pairwise mode, drop assets with an undefined pair and repair indefinite
        blocks to their nearest PSD; False leaves pandas' pairwise result as is.
    backend : ``"numba"``, ``"numpy"``, ``"cupy"`` or ``"auto"``.
    rolling : carry each window's sums forward one row at a time from an exact window every
        :data:`simlab.kernels.covariance_rolling.ANCHOR` rows (the same estimate to
        rounding, several times faster for consecutive decision rows); fixed windows of the
        ``sample`` and Ledoit-Wolf estimators without labels only. The numpy and cupy
        backends compute each window exactly either way.
    out : a (>= R, N, N) float64 buffer the numba backend may write the estimates into
        (the returned ``cov`` is then a view of it): a caller that estimates batch after
        batch and holds one at a time passes the last one's memory, already faulted in.
    carry : a :class:`SweepCarry` kept between batches of ascending rows on the same
        returns: the numba sweep resumes from the prefix sums the last batch saved (same
        bits) instead of starting from the first row. Used without regime labels only.
    """
    support = resolve_backend(backend)
    ops = COVARIANCE_BACKENDS[support.backend]
    xp = _namespace(support.backend)
    spec = _check(estimator, halflife, ddof, adjust, window, min_periods, labels, clean, rolling)
    x = xp.asarray(np.asarray(returns, dtype=np.float64))
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    rows_sorted = rows[order]
    if len(rows) and (rows_sorted[0] < 0 or rows_sorted[-1] >= x.shape[0]):
        raise IndexError(f"decision rows must lie in 0 .. {x.shape[0] - 1}")
    obs = xp.isfinite(x)
    xz = xp.where(obs, x, 0.0)
    if labels is None:
        parts = _estimate(ops, xp, xz, obs, xp.ones(x.shape[0]), rows_sorted, spec, out=out, carry=carry)
        fallback = np.zeros(len(rows), bool)
    else:
        parts, fallback = _regime(ops, xp, xz, obs, rows_sorted, spec,
                                  np.asarray(labels), int(min_regime_obs))
    cov, included, n_obs, shrink, repaired = (to_numpy(p) for p in parts)
    parts = [cov, included, n_obs, shrink, fallback, repaired]
    if not (order == np.arange(len(order))).all():
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        parts = [p[inverse] for p in parts]
    return CovarianceBatch(*parts), support


def _check(estimator, halflife, ddof, adjust, window, min_periods, labels, clean, rolling=False) -> _Spec:
    if estimator not in COV_ESTIMATORS:
        raise ValueError(f"estimator must be one of {COV_ESTIMATORS}; got {estimator!r}")
    if estimator == "ewma":
        if halflife is None or not halflife > 0:
            raise ValueError(f"estimator 'ewma' needs a halflife > 0; got {halflife!r}")
        decay = ewm_decay(halflife)
    elif halflife is not None:
        raise ValueError(f"halflife applies to estimator 'ewma' only; got it with {estimator!r}")
    else:
        decay = 1.0
    if window is not None and window < 2:
        raise ValueError(f"window must be >= 2 or None (expanding); got {window}")
    if window is None and min_periods is None:
        min_periods = 2
    if min_periods is not None and not 2 <= min_periods:
        raise ValueError(f"min_periods must be >= 2; got {min_periods}")
    if min_periods is not None and window is not None and min_periods >= window:
        min_periods = None  # a full window is the same rule, on the faster path
    if min_periods is not None and estimator.startswith("ledoit_wolf"):
        raise ValueError(f"estimator {estimator!r} needs complete windows: min_periods must be "
                         f"None with a fixed window; got min_periods={min_periods}, window={window}")
    if not adjust and (min_periods is not None or labels is not None):
        raise ValueError("adjust=False needs complete windows and no regime labels")
    if rolling and (estimator == "ewma" or window is None or min_periods is not None or labels is not None):
        raise ValueError("rolling covariance sums need a fixed, complete window of the sample or Ledoit-Wolf "
                         f"estimator without regime labels; got estimator={estimator!r}, window={window}, "
                         f"min_periods={min_periods}, labels={'given' if labels is not None else None}")
    lw = estimator.startswith("ledoit_wolf")
    return _Spec(estimator, decay, 0.0 if lw else float(ddof), adjust, window, min_periods, clean, rolling)


def _estimate(ops, xp, xz, obs, sel, rows, spec: _Spec, active=None, out=None, carry=None):
    """(cov, included, n_obs, shrinkage, repaired) at sorted ``rows`` with row selection ``sel``.

    With ``active`` (R,) bool, only those rows are estimated and returned; the sweep still
    visits every row, so a value never depends on which other rows are active.
    """
    starts = np.maximum(rows - spec.window + 1, 0) if spec.window else np.zeros_like(rows)
    rows_x, starts_x = xp.asarray(rows), xp.asarray(starts)
    n_sel, n_asset = ops.window_counts(obs, sel, rows_x, starts_x)
    if active is None:
        active = np.ones(len(rows), dtype=bool)
    pairwise = spec.min_periods is not None
    if pairwise:
        include = n_asset >= spec.min_periods
    else:
        full = xp.asarray(rows - starts + 1 == spec.window)
        include = (n_asset == n_sel[:, None]) & (n_sel >= 2)[:, None] & full[:, None]
    extra = {} if out is None or ops is not _NUMBA else {"out": out}
    if spec.rolling and ops.window_cov_rolling is not None:
        cov, vec, sc = ops.window_cov_rolling(xz, rows_x, spec.window, include, spec.ddof, xp.asarray(active),
                                              **extra)
    else:
        if carry is not None and ops is _NUMBA:
            extra["carry"] = carry
        cov, vec, sc = ops.window_cov(xz, obs, sel, rows_x, starts_x, spec.decay, include, spec.ddof,
                                      pairwise, spec.adjust, xp.asarray(active), **extra)
    if not active.all():
        idx = xp.asarray(np.nonzero(active)[0])
        cov, vec, sc, include, n_sel, starts_x, rows_x = (
            a[idx] for a in (cov, vec, sc, include, n_sel, starts_x, rows_x))
    shrink = xp.zeros(len(rows_x))
    repaired = xp.zeros(len(rows_x), dtype=bool)
    if spec.estimator in ops.shrink:
        mean = vec / xp.where(sc[:, :1] > 0, sc[:, :1], 1.0)
        sd = xp.sqrt(xp.where(include, xp.diagonal(cov, axis1=1, axis2=2), 1.0))
        q = ops.window_quartics(xz, sel, rows_x, starts_x, mean, sd, include, spec.estimator == "ledoit_wolf_cc")
        cov, shrink = ops.shrink[spec.estimator](cov, include, n_sel, q)
    elif pairwise and spec.clean:
        cov, include = _drop_undefined_pairs(xp, cov, include)
        cov, repaired = ops.repair_psd(cov, include, PSD_TOL, PSD_MAX_ITER, PSD_CONV_TOL)
    return cov, include, n_sel, shrink, repaired


def _drop_undefined_pairs(xp, cov, include):
    """Exclude, one at a time, the asset with the most undefined (NaN) pairs until none is left."""
    include = include.copy()
    while True:
        mask = include[:, :, None] & include[:, None, :]
        bad = (xp.isnan(cov) & mask).sum(axis=2)
        hit = bad.max(axis=1) > 0
        if not bool(hit.any()):
            break
        worst = xp.argmax(bad, axis=1)
        r = xp.nonzero(hit)[0]
        include[r, worst[r]] = False
    off = ~(include[:, :, None] & include[:, None, :])
    cov[off] = xp.nan
    return cov, include


def _regime(ops, xp, xz, obs, rows, spec: _Spec, labels: np.ndarray, min_obs: int):
    """Regime-conditional estimates with unconditional fallbacks; see :func:`covariance_batch`."""
    if labels.shape != (xz.shape[0],):
        raise ValueError(f"labels must have shape ({xz.shape[0]},); got {labels.shape}")
    labels = clean_labels(labels)
    current = labels[rows]
    conditional = ~regime_fallback(labels, rows, spec.window, min_obs)
    n_cols = xz.shape[1]
    out = [xp.empty((len(rows), n_cols, n_cols)), xp.zeros((len(rows), n_cols), dtype=bool),
           xp.zeros(len(rows)), xp.zeros(len(rows)), xp.zeros(len(rows), dtype=bool)]
    groups = [(~conditional, xp.ones(xz.shape[0]))]
    groups += [(conditional & (current == v), xp.asarray((labels == v).astype(float)))
               for v in np.unique(current[conditional])]
    for mask, sel in groups:
        if mask.any():
            idx = xp.asarray(np.nonzero(mask)[0])
            for dest, part in zip(out, _estimate(ops, xp, xz, obs, sel, rows, spec, active=mask), strict=True):
                dest[idx] = part
    return out, ~conditional


def clean_labels(labels) -> np.ndarray:
    """Regime labels as int64, NaN (unknown) as -1."""
    labels = np.asarray(labels, dtype=float)
    return np.where(np.isfinite(labels), labels, -1).astype(np.int64)


def regime_fallback(labels, rows, window: int | None, min_obs: int) -> np.ndarray:
    """(R,) bool, True where a regime-conditional estimate falls back to the unconditional one.

    That is where row t's label is unknown (< 0), or where the window
    ``t - window + 1 .. t`` (``None``: ``0 .. t``) holds fewer than ``min_obs`` rows with it.
    """
    labels = clean_labels(labels)
    rows = np.asarray(rows, dtype=np.int64)
    starts = np.maximum(rows - window + 1, 0) if window else np.zeros_like(rows)
    current = labels[rows]
    same = np.zeros(len(rows))
    for value in np.unique(current[current >= 0]):
        cum = np.concatenate([[0], np.cumsum(labels == value)])
        mine = current == value
        same[mine] = (cum[rows + 1] - cum[starts])[mine]
    return (current < 0) | (same < min_obs)
