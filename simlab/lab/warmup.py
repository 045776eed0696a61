"""Compile the numba kernels ahead of time, and say when a run is about to compile them.

The kernels are compiled on first use and cached on disk (``cache=True``, beside the
kernels or under ``NUMBA_CACHE_DIR``); the first run on a new machine, image or worker
spends about a minute compiling. :func:`warmup` runs a small synthetic experiment whose
scenarios touch the kernels (accounting, covariance and shrinkage, the native QP, HRP and
its leaf ordering, risk parity, the hidden-Markov regime), so that this happens once, ahead
(``simlab warmup`` in an image build or on each cluster worker).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

WARMUP_EXPERIMENT = {
    "name": "warmup",
    "data": {"source": "synthetic", "n_assets": 6, "n_days": 400, "seed": 0},
    "strategy": {"type": "momentum", "lookback": 63, "skip": 5},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}],
    "scenarios": {"list": [
        {"name": "top_n"},
        {"name": "inverse_volatility", "pipeline": [{"type": "inverse_volatility", "window": 60}]},
        {"name": "min_variance", "pipeline": [{"type": "min_variance", "window": 60, "solver": "native",
                                               "max_weight": 0.5}]},
        {"name": "hrp", "pipeline": [{"type": "hierarchical_risk_parity", "window": 60}]},
        {"name": "risk_parity", "pipeline": [{"type": "risk_parity", "window": 60}]},
        {"name": "hmm", "pipeline": [{"type": "inverse_volatility", "window": 60},
                                     {"type": "regime_constraints", "max_weight": 0.5,
                                      "regime": {"type": "hmm", "min_history": 120, "refit": "monthly"}}]},
    ]},
}


def kernels_cached() -> bool:
    """Whether numba's on-disk cache holds the accounting kernels (a compiled machine)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        place = Path(os.environ["NUMBA_CACHE_DIR"])
    else:
        place = Path(__file__).resolve().parents[1] / "kernels" / "__pycache__"
    return place.is_dir() and next(place.rglob("accounting.*.nbi"), None) is not None


def compile_notice() -> str | None:
    """A one-line notice for a run about to compile the kernels; None where they are cached."""
    if kernels_cached():
        return None
    return ("compiling the numba kernels on first use (about a minute, once per machine; "
            "`simlab warmup` does it ahead)")


def warmup() -> float:
    """Compile (or load from the cache) every kernel a shipped experiment uses; seconds taken."""
    from simlab.lab.run import run

    t0 = time.perf_counter()
    run(WARMUP_EXPERIMENT)
    return time.perf_counter() - t0
