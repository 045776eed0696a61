"""The strategy contract: a causal signal panel computed once for the whole history.

A strategy is a frozen dataclass registered under the ``strategy`` kind. ``signal(md)``
returns a (T, N) DataFrame on the data's calendar whose row t uses prices at or before t
only, comparable across assets (higher is better), and NaN where an asset lacks the
history the signal needs (never silently zero). The engine reads row t at a decision on
day t; the lookahead test perturbs prices after t and checks nothing at t moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from simlab.data.market import MarketData


@dataclass(frozen=True)
class Strategy:
    """Base of every strategy."""

    key: ClassVar[str] = ""

    def signal(self, md: MarketData) -> pd.DataFrame:
        """The (T, N) signal panel."""
        raise NotImplementedError
