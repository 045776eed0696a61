"""Fuzzing configs and data within and just outside their valid ranges.

Every generated experiment either fails with a :class:`~simlab.errors.SimlabError` whose
message is not empty, or runs to a finite NAV whose accounting holds: the daily returns are
the NAV's own changes and no book is more than its leverage invested. Derandomized (the
suite's profile) and bounded, so it sees the same examples on every run and stays fast.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import simlab
from simlab.errors import SimlabError, SimlabWarning
from simlab.testing.builders import price_frame

FAULTS = {  # one key just outside its valid range, or a non-finite number
    "n_assets": ("data", "n_assets", 0), "n_days": ("data", "n_days", 1), "skip": ("strategy", "skip", -1),
    "lookback": ("strategy", "lookback", 500), "bps_inf": ("costs", "bps", float("inf")),
    "bps_nan": ("costs", "bps", float("nan")), "bps_negative": ("costs", "bps", -1.0),
    "frequency": ("schedule", "frequency", "fortnightly"), "lag": ("execution", "lag", 200),
    "top_n": ("pipeline", 0, {"type": "equal_weight_top_n", "top_n": 0}),
}


@st.composite
def experiments(draw) -> dict:
    """A valid experiment, or (one time in three) the same with one fault from FAULTS."""
    cfg = {
        "name": "fuzz",
        "data": {"source": "synthetic", "n_assets": draw(st.integers(1, 6)), "n_days": draw(st.integers(30, 160)),
                 "seed": draw(st.integers(0, 3)), "benchmark": None},
        "strategy": {"type": "momentum", "lookback": draw(st.integers(2, 60)), "skip": draw(st.integers(0, 1))},
        "costs": {"type": "flat", "bps": draw(st.floats(0.0, 200.0))},
        "schedule": {"frequency": draw(st.sampled_from(["daily", "weekly", "monthly", "quarterly"]))},
        "execution": {"lag": draw(st.integers(0, 2))},
        "pipeline": [{"type": "equal_weight_top_n", "top_n": draw(st.integers(1, 8))}]
        + draw(st.lists(st.builds(lambda w: {"type": "position_limit", "max_weight": w}, st.floats(0.05, 1.0)),
                        max_size=1)),
    }
    fault = draw(st.sampled_from([None, None, *FAULTS]))
    if fault is not None:
        block, key, value = FAULTS[fault]
        cfg[block][key] = value
    return cfg


@st.composite
def price_files(draw) -> pd.DataFrame:
    """A small price panel with, sometimes, a bad value: a zero, a negative, a NaN row, inf."""
    n_days, n_assets = draw(st.sampled_from([1, 2, 40, 60, 90])), draw(st.integers(1, 4))
    close = price_frame(n_days, n_assets, draw(st.integers(0, 3)))
    if draw(st.booleans()):
        row, col = draw(st.integers(0, n_days - 1)), draw(st.integers(0, n_assets - 1))
        close.iloc[row, col] = draw(st.sampled_from([0.0, -1.0, np.nan, np.inf, 1e9]))
    return close


def _check(cfg: dict) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SimlabWarning)  # warned is fine: the point is what comes back
            res = simlab.run(cfg)
    except SimlabError as err:
        assert str(err).strip(), f"{type(err).__name__} without a message"
        return
    nav = res.nav.to_numpy()
    assert np.isfinite(nav).all() and (nav > 0).all()
    implied = res.nav.pct_change().iloc[1:]
    np.testing.assert_allclose(res.returns.iloc[1:].to_numpy(), implied.to_numpy(), rtol=1e-9, atol=1e-12)
    gross = np.abs(res.weights.fillna(0.0)).sum("asset").to_numpy()
    assert (gross <= res.config.experiment.execution.leverage + 1e-6).all()


@settings(max_examples=40)
@given(experiments())
def test_a_config_either_fails_clearly_or_runs_to_consistent_numbers(cfg):
    _check(cfg)


@settings(max_examples=15)
@given(price_files(), st.integers(2, 40))
def test_a_price_file_either_fails_clearly_or_runs_to_consistent_numbers(close, lookback):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prices.csv"
        close.rename_axis("date").to_csv(path)
        _check({"name": "fuzz", "data": {"source": f"csv:{path}", "benchmark": None},
                "strategy": {"type": "momentum", "lookback": lookback, "skip": 1},
                "pipeline": [{"type": "equal_weight"}]})
