"""Rolling window sums: the exact windows to rounding, the same bits whichever windows are computed."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.kernels import covariance as cov_nb
from simlab.kernels.covariance_rolling import ANCHOR
from simlab.kernels.dispatch import SweepCarry, covariance_batch


def _returns(t=420, n=23, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0003, 0.01, (t, n)) + rng.normal(0, 0.01, (t, 1))
    x[:70, 2] = np.nan  # listed late
    x[300, 5] = np.nan  # a missing day: excluded while in the window
    return x


@pytest.mark.parametrize("estimator", ["sample", "ledoit_wolf", "ledoit_wolf_cc"])
def test_rolling_equals_the_exact_windows_to_rounding(estimator):
    x = _returns()
    rows = np.arange(0, len(x))
    exact, _ = covariance_batch(x, rows, estimator=estimator, window=100, backend="numba")
    rolled, _ = covariance_batch(x, rows, estimator=estimator, window=100, backend="numba", rolling=True)
    assert np.array_equal(np.isnan(exact.cov), np.isnan(rolled.cov))
    scale = np.nanmax(np.abs(exact.cov))
    assert np.nanmax(np.abs(exact.cov - rolled.cov)) < 1e-13 * scale
    np.testing.assert_allclose(rolled.shrinkage, exact.shrinkage, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rolled.included, exact.included)


def test_rolling_gives_a_window_the_same_bits_whichever_windows_are_computed():
    x = _returns()
    rows = np.arange(150, 420)
    assert len(rows) > 3 * ANCHOR  # several anchors, windows far from theirs
    every, _ = covariance_batch(x, rows, estimator="ledoit_wolf", window=120, backend="numba", rolling=True)
    for subset in (rows[37:], rows[[0, 64, 65, 200]], rows[::7], rows[-1:]):
        part, _ = covariance_batch(x, subset, estimator="ledoit_wolf", window=120, backend="numba", rolling=True)
        assert np.array_equal(part.cov, every.cov[np.searchsorted(rows, subset)], equal_nan=True)


def test_rolling_needs_a_fixed_complete_unweighted_window():
    x = _returns()
    for kwargs in ({"estimator": "ewma", "halflife": 20}, {"window": None}, {"min_periods": 20},
                   {"labels": np.zeros(len(x), dtype=int)}):
        args = {"estimator": "sample", "window": 100, **kwargs}
        with pytest.raises(ValueError, match="rolling covariance sums need"):
            covariance_batch(x, [300], backend="numba", rolling=True, **args)


def test_window_cov_into_a_larger_buffer_gives_the_same_bits():
    x = np.nan_to_num(_returns())
    t, n = x.shape
    rows = np.arange(200, 260)
    starts = rows - 99
    args = (x, np.isfinite(x), np.ones(t), rows, starts, 1.0, np.ones((len(rows), n), bool), 1.0, False, True,
            np.ones(len(rows), bool))
    cov, vec, sc = cov_nb.window_cov_nb(*args)
    out = np.full((len(rows) + 5, n, n), 7.0)
    none = np.empty(0)
    vec2, sc2 = cov_nb.window_cov_into_nb(out, *args, none, -1, none, -2)
    assert np.array_equal(out[:len(rows)], cov) and (out[len(rows):] == 7.0).all()
    assert np.array_equal(vec, vec2) and np.array_equal(sc, sc2)


@pytest.mark.parametrize("estimator,kwargs", [("ledoit_wolf", {}), ("sample", {}), ("ewma", {"halflife": 30}),
                                              ("sample", {"min_periods": 40})])
def test_a_sweep_resumed_from_the_last_batch_gives_the_same_bits(estimator, kwargs):
    x = _returns()
    rows = np.arange(100, 420)
    whole, _ = covariance_batch(x, rows, estimator=estimator, window=90, backend="numba", **kwargs)
    carry = SweepCarry()
    batches = [rows[i:i + 37] for i in range(0, len(rows), 37)] + [rows[:10], rows[-5:]]  # then back again
    resumed = []
    for batch in batches:
        part, _ = covariance_batch(x, batch, estimator=estimator, window=90, backend="numba", carry=carry, **kwargs)
        resumed.append(carry.row)
        assert np.array_equal(part.cov, whole.cov[batch - rows[0]], equal_nan=True)
        np.testing.assert_array_equal(part.shrinkage, whole.shrinkage[batch - rows[0]])
    assert max(resumed) > 200 and (resumed[-3] + 1) % 16 == 0  # the state moved along the grid
