"""Hypothesis strategies: random markets, calendars with holidays, target weights.

Markets are drawn as a handful of integers (shape, seed, listing and delisting rows) and
then built with :func:`simlab.testing.builders.price_frame`, so examples are cheap and
shrink toward small, readable markets.

>>> from hypothesis import given
>>> @given(price_frames(max_assets=4))                          # doctest: +SKIP
... def test_something(close): ...
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simlab.testing.builders import price_frame

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def price_frames(
    draw,
    *,
    min_assets: int = 2,
    max_assets: int = 6,
    min_days: int = 30,
    max_days: int = 120,
    listing: bool = True,
    delisting: bool = True,
    gaps: bool = False,
    min_life: int = 5,
    vol: float = 0.02,
) -> pd.DataFrame:
    """A (T, N) close panel on business days, NaN before listing and after delisting.

    Asset 0 always trades on every day (the book always has somewhere to go); every other
    asset may be listed late and/or delisted early, keeping at least ``min_life`` prices.
    With ``gaps`` a few single untradeable days are sprinkled inside assets' lives.
    """
    n_assets = draw(st.integers(min_assets, max_assets))
    n_days = draw(st.integers(min_days, max_days))
    seed = draw(seeds)
    lists, delists, holes = {}, {}, []
    for asset in range(1, n_assets):
        first = draw(st.integers(0, n_days - min_life)) if listing and draw(st.booleans()) else 0
        if delisting and draw(st.booleans()):
            end = draw(st.integers(first + min_life, n_days))
            if end < n_days:
                delists[asset] = end
        if first:
            lists[asset] = first
    if gaps:
        for _ in range(draw(st.integers(0, 3))):
            asset = draw(st.integers(1, n_assets - 1)) if n_assets > 1 else 0
            lo = lists.get(asset, 0) + 1
            hi = delists.get(asset, n_days) - 2
            if hi > lo:
                holes.append((draw(st.integers(lo, hi)), asset))
    return price_frame(n_days, n_assets, seed, vol=vol, listing=lists, delisting=delists, gaps=holes)


@st.composite
def calendars(draw, *, min_days: int = 40, max_days: int = 400, start: str = "2019-12-02") -> pd.DatetimeIndex:
    """Business days with random holidays removed (whole weeks may vanish too)."""
    n_days = draw(st.integers(min_days, max_days))
    days = pd.bdate_range(start, periods=n_days, name="date")
    holiday_rate = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5]))
    rng = np.random.default_rng(draw(seeds))
    keep = rng.random(n_days) >= holiday_rate
    keep[0] = True
    return days[keep]


def weight_matrices(
    n_scenarios: int,
    n_assets: int,
    *,
    max_value: float = 1.0,
    zeros: bool = True,
) -> st.SearchStrategy[np.ndarray]:
    """(B, N) arrays of non-negative weights in ``[0, max_value]`` (rows not normalised)."""
    element = st.floats(0.0, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    if zeros:
        element = st.one_of(st.just(0.0), element)
    return hnp.arrays(np.float64, (n_scenarios, n_assets), elements=element)


@st.composite
def target_weights(draw, n_scenarios: int, n_assets: int, *, gross: float = 1.0) -> np.ndarray:
    """(B, N) long-only targets whose rows sum to at most ``gross`` (the rest is cash)."""
    raw = draw(weight_matrices(n_scenarios, n_assets))
    invested = draw(hnp.arrays(np.float64, (n_scenarios,), elements=st.floats(0.0, gross)))
    sums = raw.sum(axis=1)
    scale = np.divide(invested, sums, out=np.zeros_like(sums), where=sums > 0)
    return raw * scale[:, None]
