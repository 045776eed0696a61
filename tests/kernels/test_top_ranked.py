"""``top_ranked`` picks what the stable ranking picks: the highest valid scores, ties to the first assets."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.kernels.weights import rank_descending, top_ranked


@pytest.mark.parametrize("seed", range(4))
def test_top_ranked_equals_the_stable_ranks_below_the_limit(seed):
    rng = np.random.default_rng(seed)
    for trial in range(150):
        n_rows, n_cols = int(rng.integers(1, 6)), int(rng.integers(1, 60))
        scores = rng.integers(-3, 4, size=(n_rows, n_cols)).astype(float) if trial % 2 else rng.standard_normal(
            (n_rows, n_cols))
        scores[rng.random(scores.shape) < 0.15] = -0.0  # equal to 0.0: a tie
        scores[rng.random(scores.shape) < 0.1] = np.nan
        valid = np.isfinite(scores) & (rng.random(scores.shape) < 0.9)
        limit = [rng.integers(0, n_cols + 3, size=(n_rows, 1)).astype(float), float(rng.integers(0, n_cols + 2)),
                 rng.integers(0, n_cols, size=(n_rows, 1)) + 0.5][trial % 3]
        expected = valid & (rank_descending(scores, valid) < limit)
        assert np.array_equal(top_ranked(scores, valid, limit), expected)


def test_ties_go_to_the_first_assets():
    scores = np.array([[1.0, 2.0, 2.0, 2.0, 0.5]])
    valid = np.array([[True, True, False, True, True]])
    assert top_ranked(scores, valid, 2).tolist() == [[False, True, False, True, False]]
    assert top_ranked(scores, valid, 0).tolist() == [[False] * 5]
