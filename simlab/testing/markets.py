"""A small seeded market with everything a component may read, and its perturbed future.

:func:`conformance_market` is the synthetic factor market of :mod:`simlab.data.synthetic`
with what the components of every kind read besides prices: a benchmark, a ``vix`` macro
series (missing on its first days, so detectors use their proxy), traded volume, and
asset metadata (sector, liquidity tier, ADV, hard-to-borrow and defensive flags). One
asset is listed late, so components meet NaN prices.

:func:`perturb_after` changes every market series strictly after a row and leaves the
rows up to it untouched: what is computed for a day at or before that row must not move.

>>> md = conformance_market(n_days=60, n_assets=4)
>>> md.close.shape, sorted(md.macro), list(md.meta.columns)[:2]
((60, 4), ['vix'], ['sector', 'liquidity_tier'])
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pandas as pd

from simlab.data.market import MarketData
from simlab.data.synthetic import generate_market

LISTED_LATE = 0.2  # the last asset's first price is at this fraction of the days
VIX_MISSING_DAYS = 30  # the vix series starts this many days into the data


@functools.lru_cache(maxsize=8)
def conformance_market(n_days: int = 600, n_assets: int = 10, seed: int = 7) -> MarketData:
    """A (T, N) synthetic market with benchmark, vix, volume and metadata (cached: do not modify).

    Parameters
    ----------
    n_days, n_assets : int
        Calendar length T and number of assets N (N >= 2).
    seed : int
        Seed of every random draw; the same arguments give the same bits.
    """
    md = generate_market(n_assets=n_assets, n_days=n_days, seed=seed, p_enter_stress=0.02)
    rng = np.random.default_rng(seed + 1)
    close = md.close.copy()
    close.iloc[: int(LISTED_LATE * n_days), -1] = np.nan
    volume = pd.DataFrame(rng.lognormal(13.0, 0.5, close.shape), index=close.index, columns=close.columns)
    volume = volume.where(close.notna())
    bench_ret = np.log(md.benchmark).diff().to_numpy()
    realized = pd.Series(bench_ret).rolling(21, min_periods=5).std().to_numpy() * np.sqrt(252) * 100
    vix = realized * 1.3 + rng.normal(0.0, 1.0, n_days)
    vix[:VIX_MISSING_DAYS] = np.nan
    macro = pd.DataFrame({"vix": vix}, index=close.index)
    meta = md.meta.copy()
    meta["liquidity_tier"] = pd.array(rng.integers(1, 4, n_assets), dtype="Int64")
    meta["adv"] = rng.uniform(5e7, 5e8, n_assets)
    meta["market_cap"] = rng.uniform(1e9, 1e11, n_assets)
    meta["hard_to_borrow"] = np.arange(n_assets) % 4 == 3
    meta["restricted"] = False
    meta["defensive"] = np.arange(n_assets) % 5 == 0
    return replace(md, close=close, volume=volume, macro=macro, meta=meta, source="conformance")


def perturb_after(md: MarketData, t: int, seed: int = 0) -> MarketData:
    """``md`` with close, volume, benchmark and every macro series changed on rows after ``t``.

    Prices are scaled by independent lognormal factors (so returns after t change too),
    volume is redrawn and macro series are shifted; NaNs stay NaN. Rows 0..t are the same bits.
    """
    rng = np.random.default_rng(seed)

    def scaled(frame):
        if frame is None:
            return None
        out = frame.copy()
        later = out.iloc[t + 1 :]
        out.iloc[t + 1 :] = later * rng.lognormal(0.0, 0.2, later.shape)
        return out

    macro = None if md.macro is None else md.macro.copy()
    if macro is not None:
        macro.iloc[t + 1 :] = macro.iloc[t + 1 :] + rng.uniform(5.0, 40.0, macro.iloc[t + 1 :].shape)
    return replace(md, close=scaled(md.close), volume=scaled(md.volume), benchmark=scaled(md.benchmark),
                   macro=macro, open=scaled(md.open))
