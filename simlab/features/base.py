"""Features: point-in-time quantities computed for every decision row in one batch.

A Step that needs more than prices (a covariance matrix, a volatility, a regime label)
declares it through :meth:`simlab.contract.step.Step.features`, which names a
:class:`Feature` per scenario. Before the loop the engine computes every distinct Feature
once, for all decision rows together (the batched kernels live in ``simlab/kernels``), and
at a decision ``ctx.feature(name)`` returns the (B, ...) stack of the scenarios' values at
that row.

A Feature's ``compute`` receives the whole history but must return, for each requested
row t, a value that uses data at rows <= t only; the perturb-the-future test checks this
for every registered Step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


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


class FeatureTable:
    """Distinct features computed at the decision rows; looked up by (feature, row)."""

    def __init__(self, inputs: FeatureInputs, rows: np.ndarray):
        self.inputs = inputs
        self.rows = np.asarray(rows, dtype=np.int64)
        self._position = {int(r): i for i, r in enumerate(self.rows)}
        self._values: dict[Feature, np.ndarray] = {}

    def add(self, feature: Feature) -> None:
        """Compute ``feature`` at every decision row, once."""
        if feature not in self._values:
            values = np.asarray(feature.compute(self.inputs, self.rows))
            if len(values) != len(self.rows):
                raise ValueError(f"{feature} returned {len(values)} rows; expected {len(self.rows)}")
            values.flags.writeable = False
            self._values[feature] = values

    def at(self, features: list[Feature], row: int) -> np.ndarray:
        """The (B, ...) stack of each scenario's feature value at decision ``row``."""
        i = self._position[int(row)]
        first = features[0]
        if all(f == first for f in features):
            value = self._values[first][i]
            return np.broadcast_to(value, (len(features),) + value.shape)
        return np.stack([self._values[f][i] for f in features])

    def __contains__(self, feature: Any) -> bool:
        return feature in self._values
