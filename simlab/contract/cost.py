"""What a cost model may know on a fill day.

The cost models (:mod:`simlab.costs`) read it and the fills (:mod:`simlab.execution`)
build it, so it sits below both: neither package imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CostContext:
    """What a cost model may know on a fill day, all known before that day's close.

    Attributes
    ----------
    row : fill row.
    assets : (N,) asset names, in the order of every (N,) array.
    adv : (N,) average daily traded value (money) over the trailing window, from volume
        data, else the universe's ``adv``; NaN where unknown. None unless required.
    volatility : (N,) daily return volatility over the trailing window. None unless required.
    meta : asset metadata (``liquidity_tier``, ``adv``, ...) or None.
    fill_history : the realized fills booked before this row, for models that learn from
        them (:class:`FillHistory`). None unless required (``"fill_history"``).
    """

    row: int
    assets: tuple[str, ...] = ()
    adv: np.ndarray | None = None
    volatility: np.ndarray | None = None
    meta: pd.DataFrame | None = None
    fill_history: FillHistory | None = None


@dataclass(frozen=True)
class FillHistory:
    """Past fills of one group of scenarios, one entry per traded (scenario, asset), all
    booked on rows before the fill being priced (point in time by construction).

    Attributes
    ----------
    row, scenario, asset : (K,) fill row, scenario position within the group's batch, asset position.
    value : (K,) signed traded value.
    adv, volatility : (K,) the trailing ADV and volatility the fill was priced with (NaN where unknown).
    realized : (K,) the money cost realized.
    """

    row: np.ndarray
    scenario: np.ndarray
    asset: np.ndarray
    value: np.ndarray
    adv: np.ndarray
    volatility: np.ndarray
    realized: np.ndarray

    @classmethod
    def empty(cls) -> FillHistory:
        """No fill yet."""
        z = np.zeros(0)
        i = np.zeros(0, dtype=np.int64)
        return cls(i, i, i, z, z, z, z)
