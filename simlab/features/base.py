"""Features: point-in-time quantities computed for every decision row in one batch.

A Step that needs more than prices (a covariance matrix, a volatility, a regime label)
declares it through :meth:`simlab.contract.step.Step.features`, which names a
:class:`Feature` per scenario. Before the loop the engine computes every distinct Feature
once, for all decision rows together (the batched kernels live in ``simlab/kernels``), and
at a decision ``ctx.feature(name)`` returns the (B, ...) stack of the scenarios' values at
that row.

A Feature whose values are large (a covariance is N x N per row) says so through
:meth:`Feature.row_nbytes`; when all its rows together would pass :data:`CHUNK_BYTES`, the
table computes it in consecutive chunks of decision rows, on demand, and keeps one chunk at
a time, so a daily backtest of 500 assets holds about 256 MiB of covariances, not 9.6 GB.
A Feature whose value at a row depends on that row's data only (every shipped one: the
covariance kernels give the same bits for a window whichever other windows are computed
with it) gives the same values either way.

A Feature's ``compute`` receives the whole history but must return, for each requested
row t, a value that uses data at rows <= t only; the perturb-the-future test checks this
for every registered Step.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

CHUNK_BYTES = 256 * 2**20
"""A Feature larger than this over all decision rows is computed a chunk of rows at a time."""


@dataclass(frozen=True)
class FeatureInputs:
    """Read-only (T, ...) arrays a Feature may compute from.

    Attributes
    ----------
    dates : (T,) trading dates; assets : (N,) names.
    close : (T, N) adjusted close, NaN where the asset does not trade.
    returns : (T, N) daily simple returns, NaN on the first day and around missing prices.
    volume : (T, N) traded shares, or None.
    benchmark : (T,) benchmark level, or None.
    macro : name -> (T,) series such as ``vix`` (may hold NaN where unknown).
    meta : asset metadata indexed by asset, or None.
    """

    dates: pd.DatetimeIndex
    assets: tuple[str, ...]
    close: np.ndarray
    returns: np.ndarray
    volume: np.ndarray | None
    benchmark: np.ndarray | None
    macro: dict[str, np.ndarray]
    meta: pd.DataFrame | None


@dataclass(frozen=True)
class Feature:
    """Base of every feature: a frozen (hashable) dataclass naming what to compute."""

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        """Values at ``rows`` (R,), stacked on a leading axis (R, ...), each point in time."""
        raise NotImplementedError

    def row_nbytes(self, inputs: FeatureInputs) -> int | None:
        """Bytes of one row's value, when known before computing (None: small, or unknown)."""
        return None

    def compute_chunk(self, inputs: FeatureInputs, rows: np.ndarray, out: np.ndarray | None,
                      carry: dict) -> np.ndarray:
        """:meth:`compute` for one chunk of a chunked table, with two aids it may use.

        ``out``: the memory of an earlier chunk of this Feature that nothing else holds any
        more (or None); the values may be written into it and a view of it returned.
        ``carry``: a dict the table keeps for this Feature from one chunk to the next (empty
        at first), for work a later chunk can resume from; the values must not depend on it.
        The default ignores both.
        """
        return self.compute(inputs, rows)


@dataclass
class _Chunked:
    """A Feature computed ``size`` decision rows at a time; ``block`` is the chunk held,
    ``memory`` the array that owns it (handed to the next chunk when nothing else holds it),
    ``carry`` what the Feature keeps from one chunk to the next."""

    size: int
    index: int = -1
    block: np.ndarray | None = None
    memory: np.ndarray | None = None
    carry: dict = field(default_factory=dict)


class FeatureTable:
    """Distinct features computed at the decision rows; looked up by (feature, row)."""

    def __init__(self, inputs: FeatureInputs, rows: np.ndarray):
        self.inputs = inputs
        self.rows = np.asarray(rows, dtype=np.int64)
        self._position = {int(r): i for i, r in enumerate(self.rows)}
        self._values: dict[Feature, np.ndarray] = {}
        self._chunked: dict[Feature, _Chunked] = {}

    def add(self, feature: Feature) -> None:
        """Compute ``feature`` at every decision row, once; a large one in chunks, on demand."""
        if feature in self:
            return
        row_bytes = feature.row_nbytes(self.inputs)
        if row_bytes and row_bytes * len(self.rows) > CHUNK_BYTES:
            self._chunked[feature] = _Chunked(max(1, CHUNK_BYTES // row_bytes))
        else:
            self._values[feature] = self._compute(feature, self.rows)

    def _compute(self, feature: Feature, rows: np.ndarray, chunk: _Chunked | None = None,
                 spare: np.ndarray | None = None) -> np.ndarray:
        if chunk is None:
            values = np.asarray(feature.compute(self.inputs, rows))
        else:
            values = np.asarray(feature.compute_chunk(self.inputs, rows, spare, chunk.carry))
        if len(values) != len(rows):
            raise ValueError(f"{feature} returned {len(values)} rows; expected {len(rows)}")
        values.flags.writeable = False
        return values

    def _value(self, feature: Feature, i: int) -> np.ndarray:
        """The value of ``feature`` at decision position ``i``."""
        chunk = self._chunked.get(feature)
        if chunk is None:
            return self._values[feature][i]
        index = i // chunk.size
        if index != chunk.index:
            chunk.block = None  # release the chunk held before computing the next
            spare = chunk.memory if _unshared(chunk) else None
            chunk.memory = None
            if spare is not None:
                spare.flags.writeable = True
            chunk.block = self._compute(feature, self.rows[index * chunk.size:(index + 1) * chunk.size], chunk, spare)
            del spare
            owner = chunk.block if chunk.block.base is None else chunk.block.base
            chunk.memory = owner if isinstance(owner, np.ndarray) and owner.flags.owndata else None
            chunk.index = index
        return chunk.block[i - index * chunk.size]

    def at(self, features: list[Feature], row: int) -> np.ndarray:
        """The (B, ...) stack of each scenario's feature value at decision ``row``."""
        i = self._position[int(row)]
        first = features[0]
        if all(f == first for f in features):
            value = self._value(first, i)
            return np.broadcast_to(value, (len(features),) + value.shape)
        return np.stack([self._value(f, i) for f in features])

    def __contains__(self, feature: Any) -> bool:
        return feature in self._values or feature in self._chunked


def _unshared(chunk: _Chunked) -> bool:
    """Nothing outside the table holds the chunk's memory (no value, no view of one, is alive):
    its references are the attribute and this call's argument only. (A free-threaded
    Python's reference counts are not exact: there the memory is never handed on.)"""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return False
    return chunk.memory is not None and sys.getrefcount(chunk.memory) <= 2
