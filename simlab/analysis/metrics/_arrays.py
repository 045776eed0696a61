"""What every metric shares: Series/DataFrame in and out, and NaN-aware column reductions.

A metric converts its input once to a float array ``(T, B)`` (:func:`_to_2d`), reduces it
along the time axis with the helpers here, and labels the ``(B,)`` result again
(:func:`_wrap`). The conventions these helpers implement (leading NaN, skipped NaN,
undefined ratios) are those of :mod:`simlab.analysis.metrics`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

Returns = pd.Series | pd.DataFrame


# ----------------------------------------------------------------------------
# Input and output
# ----------------------------------------------------------------------------


def _to_2d(data: Returns, name: str = "returns") -> tuple[np.ndarray, pd.Index | None]:
    """Return ``data`` as a float array (T, B) and its column labels (None for a Series).

    Parameters
    ----------
    data : Series or DataFrame
        Input to convert.
    name : str
        Argument name used in error messages.

    Returns
    -------
    array : ndarray (T, B)
        Float64 copy of the values.
    labels : Index or None
        The frame's columns, or None when ``data`` is a Series.
    """
    if isinstance(data, pd.Series):
        array = data.to_numpy(dtype="float64", na_value=np.nan).reshape(-1, 1)
        labels = None
    elif isinstance(data, pd.DataFrame):
        array = data.to_numpy(dtype="float64", na_value=np.nan)
        labels = data.columns
    else:
        raise TypeError(f"{name} must be a pandas Series or DataFrame, got {type(data).__name__}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows (dates) to compute a metric on")
    if array.shape[1] == 0:
        raise ValueError(f"{name} is empty: it has no columns (scenarios)")
    return array, labels


def _wrap(values: np.ndarray, labels: pd.Index | None, name: str) -> float | pd.Series:
    """Return a float for Series input, or a Series indexed by ``labels``."""
    if labels is None:
        return float(values[0])
    return pd.Series(values, index=labels, name=name, dtype="float64")


def _check_periods(periods: float) -> None:
    """Raise ``ValueError`` unless ``periods`` is a positive number."""
    if not np.isfinite(periods) or periods <= 0:
        raise ValueError(f"periods must be a positive number of returns per year, got {periods!r}")


def _benchmark_2d(benchmark_returns: Returns, returns: Returns) -> np.ndarray:
    """Align a benchmark on the returns' index (and columns) as a (T, 1) or (T, B) array.

    Parameters
    ----------
    benchmark_returns : Series or DataFrame
        A Series is shared by every scenario; a DataFrame must carry every column
        of ``returns``.
    returns : Series or DataFrame
        The portfolio returns whose index the benchmark is aligned on.

    Returns
    -------
    ndarray (T, 1) or (T, B)
        Benchmark returns, NaN on dates the benchmark does not have.
    """
    if isinstance(benchmark_returns, pd.Series):
        aligned = benchmark_returns.reindex(returns.index)
        return aligned.to_numpy(dtype="float64", na_value=np.nan).reshape(-1, 1)
    if not isinstance(benchmark_returns, pd.DataFrame):
        raise TypeError(
            "benchmark_returns must be a pandas Series or DataFrame, "
            f"got {type(benchmark_returns).__name__}"
        )
    if isinstance(returns, pd.Series):
        raise TypeError("benchmark_returns is a DataFrame but returns is a Series; pass a Series")
    missing = returns.columns.difference(benchmark_returns.columns)
    if len(missing):
        raise ValueError(f"benchmark_returns lacks the scenarios {list(missing)}")
    aligned = benchmark_returns.reindex(index=returns.index, columns=returns.columns)
    return aligned.to_numpy(dtype="float64", na_value=np.nan)


# ----------------------------------------------------------------------------
# NaN-aware column reductions on (T, B) arrays
# ----------------------------------------------------------------------------


def _count(a: np.ndarray) -> np.ndarray:
    """Number of non-NaN values per column."""
    return np.count_nonzero(~np.isnan(a), axis=0)


def _span(a: np.ndarray) -> np.ndarray:
    """Rows from each column's first non-NaN value to the end (0 for an all-NaN column)."""
    valid = ~np.isnan(a)
    first = np.where(valid.any(axis=0), valid.argmax(axis=0), a.shape[0])
    return a.shape[0] - first


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den`` is finite and non-zero, NaN elsewhere, without warnings."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64"))
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(den) & (den != 0)
    np.divide(num, den, out=out, where=ok)
    return out


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Column means skipping NaN; NaN for a column without values."""
    return _divide(np.nansum(a, axis=0), _count(a))


def _nanstd(a: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Column standard deviations skipping NaN (two-pass), exactly 0 for constant columns.

    Parameters
    ----------
    a : ndarray (T, B)
        Values.
    ddof : int
        Delta degrees of freedom; NaN for a column with ``ddof`` values or fewer.

    Returns
    -------
    ndarray (B,)
    """
    n = _count(a)
    dev = a - _nanmean(a)
    var = _divide(np.nansum(dev * dev, axis=0), np.where(n > ddof, n - ddof, 0))
    std = np.sqrt(var)
    constant = np.fmax.reduce(a, axis=0) == np.fmin.reduce(a, axis=0)
    return np.where(constant & np.isfinite(std), 0.0, std)


def _wealth(a: np.ndarray) -> np.ndarray:
    """Compounded value (T, B) of 1.0 invested at the start; NaN returns count as 0."""
    return np.cumprod(1.0 + np.nan_to_num(a, nan=0.0), axis=0)


def _per_period_rate(annual_rate: float, periods: float) -> float:
    """Per-period rate compounding to ``annual_rate`` over ``periods`` periods."""
    if annual_rate == 0:
        return 0.0
    return (1.0 + annual_rate) ** (1.0 / periods) - 1.0


def _joint(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays broadcast to (T, B), NaN wherever either one is NaN."""
    a, b = np.broadcast_arrays(a, b)
    missing = np.isnan(a) | np.isnan(b)
    return np.where(missing, np.nan, a), np.where(missing, np.nan, b)

