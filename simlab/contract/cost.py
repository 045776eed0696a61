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
    """

    row: int
    assets: tuple[str, ...] = ()
    adv: np.ndarray | None = None
    volatility: np.ndarray | None = None
    meta: pd.DataFrame | None = None
