"""What a Step sees of the book: the same state through the run's views (a group that is the
whole batch) as through copies (a group beside others), read-only either way."""

from __future__ import annotations

import numpy as np

import simlab
from simlab.portfolio.allocators import EqualWeightTopN

BASE = {
    "name": "views",
    "data": {"source": "synthetic", "n_assets": 6, "n_days": 260, "seed": 4, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 21, "skip": 1},
    "costs": {"type": "flat", "bps": 5},
    "execution": {"lag": 1},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}],
}


def seen_by_top_n(monkeypatch, config) -> list[tuple]:
    """(decision row, peak NAV, last rebalance, last targets, last signal) each time the top-N Step runs."""
    seen, call = [], EqualWeightTopN.__call__

    def recording(self, weights, ctx):
        state = (ctx.peak_nav, ctx.last_rebalance, ctx.last_targets, ctx.last_signal)
        assert not any(a.flags.writeable for a in state)
        seen.append((ctx.t, *(a.copy() for a in state)))
        return call(self, weights, ctx)

    with monkeypatch.context() as patch:
        patch.setattr(EqualWeightTopN, "__call__", recording)
        simlab.run(config)
    return seen


def test_a_step_sees_the_same_book_alone_and_beside_another_group(monkeypatch):
    alone = seen_by_top_n(monkeypatch, BASE)
    beside = seen_by_top_n(monkeypatch, {**BASE, "scenarios": {"list": [
        {"name": "top2", "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}]},
        {"name": "all", "pipeline": [{"type": "equal_weight"}]},
    ]}})
    assert len(alone) == len(beside) > 5
    for a, b in zip(alone, beside):
        assert a[0] == b[0]
        for x, y in zip(a[1:], b[1:]):
            assert np.array_equal(x, y, equal_nan=True)
    # the views follow the book: later decisions see the rebalances before them
    assert alone[0][2][0] == -1 and alone[-1][2][0] > alone[0][0]
