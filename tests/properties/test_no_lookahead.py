"""Point in time: changing prices after day t changes nothing dated at or before t.

The perturbation test runs an experiment, multiplies (or replaces) every price after a
random day t, runs it again and asserts that trades, diagnostics, weights and NAV up to
and including t are bit-identical. The point-in-time view itself refuses later rows.
Every registered component is perturbed on its own by the ``no_lookahead`` conformance
check (``tests/test_conformance.py``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simlab
from simlab.data.market import PointInTimeView
from simlab.errors import LookaheadError
from simlab.contract.step import Step
from simlab.testing.assertions import assert_identical_through
from simlab.testing.builders import csv_experiment, price_frame
from simlab.testing.strategies import price_frames, seeds

PIPELINE = [{"type": "equal_weight_top_n", "top_n": 2}, {"type": "position_limit", "max_weight": 0.4}]
EXPERIMENTS = {
    "lag1-monthly": {"schedule": {"frequency": "monthly"}, "execution": {"lag": 1}},
    "lag0-daily": {"schedule": {"frequency": "daily"}, "execution": {"lag": 0}},
    "lag2-weekly": {"schedule": {"frequency": "weekly", "day": "friday"}, "execution": {"lag": 2}},
}


def experiment(close: pd.DataFrame, folder: str, kind: str, name: str) -> dict:
    return csv_experiment(
        close, folder, name=name,
        strategy={"type": "momentum", "lookback": 10, "skip": 1},
        costs={"type": "flat", "bps": 10},
        pipeline=PIPELINE,
        scenarios={"grid": {"pipeline.0.top_n": [1, 3]}},
        **EXPERIMENTS[kind],
    )


def perturb(close: pd.DataFrame, t: int, how: str, seed: int) -> pd.DataFrame:
    """``close`` with every row after ``t`` changed; rows 0..t untouched."""
    rng = np.random.default_rng(seed)
    out = close.copy()
    after = out.iloc[t + 1 :].to_numpy()
    if how == "scale":
        after = after * rng.lognormal(0.0, 0.3, after.shape)
    elif how == "replace":
        after = np.where(np.isfinite(after), rng.uniform(1.0, 500.0, after.shape), np.nan)
    elif how == "delist":  # new prices, and an asset delisted after t
        after = np.where(np.isfinite(after), rng.uniform(1.0, 500.0, after.shape), np.nan)
        asset = int(rng.integers(close.shape[1]))
        if np.isfinite(close.iloc[: t + 1, asset]).any():
            after[int(rng.integers(len(after))) :, asset] = np.nan
    out.iloc[t + 1 :] = after
    return out


def run_pair(close, t, how, seed, kind):
    with tempfile.TemporaryDirectory() as folder:
        a = simlab.run(experiment(close, folder, kind, "original.csv"))
        b = simlab.run(experiment(perturb(close, t, how, seed), folder, kind, "perturbed.csv"))
    return a, b


@settings(max_examples=15, deadline=None)
@given(
    close=price_frames(min_assets=3, max_assets=5, min_days=30, max_days=50),
    where=st.floats(0.0, 1.0),
    how=st.sampled_from(["scale", "replace", "delist"]),
    seed=seeds,
    kind=st.sampled_from(sorted(EXPERIMENTS)),
)
def test_prices_after_t_change_nothing_up_to_t(close, where, how, seed, kind):
    t = min(int(where * (len(close) - 1)), len(close) - 2)
    a, b = run_pair(close, t, how, seed, kind)
    date = close.index[t]
    assert_identical_through(a, b, date)
    # and the perturbation did reach the run (the test is not vacuous)
    assert not a.market.close.iloc[t + 1 :].equals(b.market.close.iloc[t + 1 :])


@pytest.mark.parametrize("kind", sorted(EXPERIMENTS))
def test_perturbation_handmade_market(kind):
    """A fixed market with a listing and a delisting, cut in the middle of a holding period."""
    close = price_frame(45, 4, seed=7, listing={3: 15}, delisting={1: 35})
    for t, how in ((20, "scale"), (34, "replace"), (35, "delist")):
        a, b = run_pair(close, t, how, seed=t, kind=kind)
        assert_identical_through(a, b, close.index[t])
        assert len(a.trades) > 0
        # the runs do differ after t: the comparison can see differences
        assert not a.nav.iloc[-1].equals(b.nav.iloc[-1])


# --------------------------------------------------------------------------- the view


@st.composite
def views(draw):
    n_rows = draw(st.integers(1, 30))
    t = draw(st.integers(0, n_rows - 1))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    arrays = {"close": rng.uniform(1, 100, (n_rows, 3)), "benchmark": rng.uniform(1, 100, n_rows)}
    for arr in arrays.values():
        arr.flags.writeable = False
    dates = pd.bdate_range("2021-01-01", periods=n_rows)
    return PointInTimeView(arrays, dates, t), arrays, t


@settings(max_examples=50, deadline=None)
@given(view=views(), window=st.one_of(st.none(), st.integers(1, 40)), ahead=st.integers(1, 40))
def test_view_never_serves_rows_after_t(view, window, ahead):
    view, arrays, t = view
    for name, arr in arrays.items():
        hist = view.history(name, window)
        start = 0 if window is None else max(0, t + 1 - window)
        np.testing.assert_array_equal(hist, arr[start : t + 1])
        assert len(hist) <= t + 1
        assert not hist.flags.writeable
        if hist.size:
            with pytest.raises(ValueError):
                hist[...] = 0.0
        np.testing.assert_array_equal(view.at(name), arr[t])
        np.testing.assert_array_equal(view.at(name, t), arr[t])
        with pytest.raises(LookaheadError):
            view.at(name, t + ahead)
        with pytest.raises(IndexError):  # a LookaheadError is an IndexError
            view.at(name, t + 1)
    row = view.at("close", t)
    assert not row.flags.writeable
    assert view.t == t and view.date == pd.bdate_range("2021-01-01", periods=t + 1)[-1]


def test_view_history_of_a_writeable_array_is_read_only():
    arr = np.arange(10.0).reshape(5, 2)
    view = PointInTimeView({"x": arr}, pd.bdate_range("2021-01-01", periods=5), 2)
    with pytest.raises(ValueError):
        view.history("x")[0, 0] = 99.0
    with pytest.raises(ValueError):
        view.at("x")[0] = 99.0
    assert arr[0, 0] == 0.0


def test_lookahead_error_names_dates():
    view = PointInTimeView({"close": np.ones((5, 1))}, pd.bdate_range("2021-01-04", periods=5), 1)
    with pytest.raises(LookaheadError, match=r"2021-01-06.*2021-01-05"):
        view.at("close", 2)


def test_view_negative_row_cannot_reach_the_future():
    dates = pd.bdate_range("2021-01-01", periods=10)
    past = np.arange(10.0)
    future = past.copy()
    future[4:] += 1000.0  # the same up to t = 3, different after
    a = PointInTimeView({"x": past}, dates, 3)
    b = PointInTimeView({"x": future}, dates, 3)
    for row in (-1, -3, -10):
        try:
            got_a = a.at("x", row)
        except IndexError:
            continue  # refusing is fine
        assert got_a == b.at("x", row), f"at('x', {row}) depends on rows after t"


# --------------------------------------------------------------------------- the view in a run


@dataclass(frozen=True)
class PeekingStep(Step):
    """Test Step: checks the view it is handed is cut at t, then passes weights through."""

    def __call__(self, weights, ctx):
        close = ctx.view.history("close")
        assert close.shape[0] == ctx.t + 1
        assert ctx.view.date == ctx.date and ctx.view.t == ctx.t
        try:
            ctx.view.at("close", ctx.t + 1)
        except LookaheadError:
            refused = 1.0
        else:
            refused = 0.0
        return weights, {"refused": np.full(ctx.n_scenarios, refused), "rows_seen": close.shape[0]}


def test_steps_get_a_view_cut_at_the_decision_day(tmp_path, register_temporarily):
    register_temporarily("step", "peeking_test_step")(PeekingStep)
    close = price_frame(40, 3, seed=2)
    cfg = csv_experiment(close, tmp_path, schedule={"frequency": "weekly"},
                         pipeline=[{"type": "equal_weight"}, {"type": "peeking_test_step"}])
    res = simlab.run(cfg)
    diag = res.diagnostics
    refused = diag[diag["key"] == "refused"]
    assert len(refused) > 0 and (refused["value"] == 1.0).all()
    seen = diag[diag["key"] == "rows_seen"]
    rows = close.index.get_indexer(pd.DatetimeIndex(seen["date"])) + 1
    np.testing.assert_array_equal(seen["value"].to_numpy(), rows)


# Delisting is a data event, not a forecast: trailing NaNs in the data are the vendor's
# record that the asset stopped trading on its first missing day, and the engine closes a
# held position then. Perturbations here therefore never turn a delisting into a gap.
