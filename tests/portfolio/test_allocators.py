"""Phase-1 allocators, the position limit, and the capping arithmetic they share."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simlab.portfolio.allocators import EqualWeight, EqualWeightTopN, SignalWeighted
from simlab.kernels.weights import cap_and_redistribute, rank_descending
from simlab.risk.overlays import PositionLimit
from simlab.testing.builders import make_context
from simlab.testing.strategies import weight_matrices

FAST = settings(max_examples=50, deadline=None)
nan = np.nan

signal_values = st.one_of(st.just(nan), st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]), st.floats(-3, 3))


@st.composite
def signal_panels(draw, max_scenarios=3, max_assets=7):
    b = draw(st.integers(1, max_scenarios))
    n = draw(st.integers(1, max_assets))
    signal = draw(hnp.arrays(np.float64, (b, n), elements=signal_values))
    tradeable = draw(hnp.arrays(np.bool_, n))
    return signal, tradeable


def top_n_reference(signal_row, eligible_row, top_n):
    """Indices of the top_n eligible assets by signal; ties in asset order."""
    order = sorted((i for i in range(len(signal_row)) if eligible_row[i]), key=lambda i: (-signal_row[i], i))
    return set(order[: int(top_n)]) if top_n else set(order)


# --------------------------------------------------------------------------- equal weight


def test_equal_weight_over_tradeable_assets():
    ctx = make_context(tradeable=np.array([True, False, True, True]), n_scenarios=2)
    w, diag = EqualWeight()(np.zeros((2, 4)), ctx)
    np.testing.assert_array_equal(w, [[1 / 3, 0, 1 / 3, 1 / 3]] * 2)
    np.testing.assert_array_equal(diag["n_selected"], [3, 3])


def test_equal_weight_nothing_tradeable_is_all_cash():
    ctx = make_context(tradeable=np.zeros(3, dtype=bool))
    w, _ = EqualWeight()(np.full((1, 3), 0.2), ctx)
    np.testing.assert_array_equal(w, np.zeros((1, 3)))


@pytest.mark.parametrize("n_scenarios", [1, 3])
@pytest.mark.parametrize("tradeable", [[True, False, True, True, True, True, True], [True] * 7, [False] * 7])
def test_equal_weight_divides_as_the_mask_rule_does_bit_for_bit(n_scenarios, tradeable):
    mask = np.broadcast_to(np.array(tradeable), (n_scenarios, len(tradeable)))
    count = mask.sum(axis=1, keepdims=True)
    expected = np.divide(mask, count, out=np.zeros(mask.shape), where=count > 0)
    w, diag = EqualWeight()(np.zeros(mask.shape), make_context(tradeable=np.array(tradeable), n_scenarios=n_scenarios))
    assert w.shape == expected.shape and w.dtype == np.float64 and w.flags.writeable
    assert np.array_equal(w, expected) and w.tobytes() == expected.tobytes()
    assert diag["n_selected"].dtype == np.int64 and diag["n_selected"].tolist() == [sum(tradeable)] * n_scenarios


def test_allocators_ignore_the_weights_they_are_given():
    signal = np.array([[1.0, 2.0, 3.0]])
    for step in (EqualWeight(), EqualWeightTopN(top_n=2), SignalWeighted()):
        a, _ = step(np.zeros((1, 3)), make_context(signal=signal))
        b, _ = step(np.array([[0.9, 0.05, 0.05]]), make_context(signal=signal))
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- top n


def test_top_n_per_scenario_array():
    signal = np.tile([0.1, 0.5, 0.3, 0.9, 0.2], (3, 1))
    ctx = make_context(signal=signal)
    w, diag = EqualWeightTopN(top_n=np.array([1.0, 2.0, 4.0]))(np.zeros((3, 5)), ctx)
    np.testing.assert_allclose(w[0], [0, 0, 0, 1, 0])
    np.testing.assert_allclose(w[1], [0, 0.5, 0, 0.5, 0])
    np.testing.assert_allclose(w[2], [0, 0.25, 0.25, 0.25, 0.25])
    np.testing.assert_array_equal(diag["n_selected"], [1, 2, 4])


def test_top_n_never_picks_nan_or_untradeable():
    signal = np.array([[nan, 5.0, 4.0, 3.0, nan]])
    ctx = make_context(signal=signal, tradeable=np.array([True, False, True, True, True]))
    w, diag = EqualWeightTopN(top_n=2)(np.zeros((1, 5)), ctx)
    np.testing.assert_allclose(w, [[0, 0, 0.5, 0.5, 0]])
    assert diag["n_eligible"][0] == 2


def test_top_n_fewer_eligible_than_n_share_the_whole_book():
    signal = np.array([[nan, 1.0, nan, -2.0]])
    w, diag = EqualWeightTopN(top_n=3)(np.zeros((1, 4)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0, 0.5, 0, 0.5]])
    assert w.sum() == pytest.approx(1.0)
    assert diag["n_selected"][0] == 2


def test_top_n_no_eligible_is_all_cash():
    w, _ = EqualWeightTopN(top_n=3)(np.zeros((1, 3)), make_context(signal=np.full((1, 3), nan)))
    np.testing.assert_array_equal(w, np.zeros((1, 3)))


def test_top_n_ties_keep_asset_order():
    signal = np.array([[1.0, 2.0, 2.0, 2.0, 1.0]])
    w, _ = EqualWeightTopN(top_n=2)(np.zeros((1, 5)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0, 0.5, 0.5, 0, 0]])


@FAST
@given(panel=signal_panels(), top_n=st.integers(1, 8))
def test_top_n_matches_sorted_reference(panel, top_n):
    signal, tradeable = panel
    w, diag = EqualWeightTopN(top_n=top_n)(np.zeros_like(signal), make_context(signal=signal, tradeable=tradeable))
    for b in range(signal.shape[0]):
        eligible = np.isfinite(signal[b]) & tradeable
        chosen = top_n_reference(signal[b], eligible, top_n)
        expected = np.zeros(signal.shape[1])
        if chosen:
            expected[sorted(chosen)] = 1.0 / len(chosen)
        np.testing.assert_allclose(w[b], expected, rtol=0, atol=1e-15)
        assert diag["n_selected"][b] == len(chosen)
        assert diag["n_eligible"][b] == eligible.sum()


# --------------------------------------------------------------------------- signal weighted


def test_signal_weighted_proportional():
    signal = np.array([[1.0, 3.0, nan, 0.0]])
    w, diag = SignalWeighted()(np.zeros((1, 4)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0.25, 0.75, 0, 0]])
    assert diag["cash"][0] == pytest.approx(0.0)


def test_signal_weighted_threshold():
    signal = np.array([[0.1, 0.3, 0.6]])
    w, _ = SignalWeighted(threshold=0.2)(np.zeros((1, 3)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0, 1 / 3, 2 / 3]])


def test_signal_weighted_all_below_threshold_is_all_cash():
    signal = np.array([[0.1, -0.3, 0.2], [0.5, 0.5, 0.5]])
    w, diag = SignalWeighted(threshold=0.25)(np.zeros((2, 3)), make_context(signal=signal))
    np.testing.assert_array_equal(w[0], [0, 0, 0])
    assert diag["cash"][0] == 1.0 and diag["n_selected"][0] == 0
    np.testing.assert_allclose(w[1], [1 / 3] * 3)


def test_signal_weighted_top_n_and_cash_buffer():
    signal = np.array([[1.0, 4.0, 2.0, 3.0]])
    w, diag = SignalWeighted(top_n=2, cash_buffer=0.1)(np.zeros((1, 4)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0, 0.9 * 4 / 7, 0, 0.9 * 3 / 7]])
    assert diag["cash"][0] == pytest.approx(0.1)


def test_signal_weighted_cap_redistributes_to_uncapped():
    signal = np.array([[6.0, 2.0, 1.0, 1.0]])  # 0.6, 0.2, 0.1, 0.1 before the cap
    w, diag = SignalWeighted(max_weight=0.4)(np.zeros((1, 4)), make_context(signal=signal))
    # 0.2 freed, split 2:1:1 -> 0.3, 0.15, 0.15
    np.testing.assert_allclose(w, [[0.4, 0.3, 0.15, 0.15]])
    assert diag["n_capped"][0] == 1 and diag["cash"][0] == pytest.approx(0.0)


def test_signal_weighted_cap_cascades():
    signal = np.array([[10.0, 8.0, 1.0, 1.0]])
    w, _ = SignalWeighted(max_weight=0.35)(np.zeros((1, 4)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0.35, 0.35, 0.15, 0.15]])


def test_signal_weighted_cap_infeasible_rest_goes_to_cash():
    signal = np.array([[3.0, 1.0, nan]])
    w, diag = SignalWeighted(max_weight=0.3)(np.zeros((1, 3)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0.3, 0.3, 0.0]])
    assert diag["cash"][0] == pytest.approx(0.4) and diag["n_capped"][0] == 2


def test_signal_weighted_per_scenario_fields():
    signal = np.tile([[4.0, 3.0, 2.0, 1.0]], (2, 1))
    step = SignalWeighted(top_n=np.array([1.0, 0.0]), max_weight=np.array([1.0, 0.3]), cash_buffer=np.array([0.5, 0.0]))
    w, _ = step(np.zeros((2, 4)), make_context(signal=signal))
    np.testing.assert_allclose(w[0], [0.5, 0, 0, 0])
    np.testing.assert_allclose(w[1], [0.3, 0.3, 0.4 * 2 / 3, 0.4 / 3])


@FAST
@given(
    panel=signal_panels(),
    threshold=st.sampled_from([0.0, 0.5, 1.0]),
    top_n=st.integers(0, 5),
    cash_buffer=st.sampled_from([0.0, 0.2]),
    max_weight=st.sampled_from([1.0, 0.5, 0.3, 0.1]),
)
def test_signal_weighted_properties(panel, threshold, top_n, cash_buffer, max_weight):
    signal, tradeable = panel
    step = SignalWeighted(threshold=threshold, top_n=top_n, cash_buffer=cash_buffer, max_weight=max_weight)
    w, diag = step(np.zeros_like(signal), make_context(signal=signal, tradeable=tradeable))
    assert (w >= 0).all()
    assert (w <= max_weight * (1 + 1e-9)).all()
    for b in range(signal.shape[0]):
        eligible = np.isfinite(signal[b]) & tradeable & (signal[b] > threshold)
        chosen = top_n_reference(signal[b], eligible, top_n)
        held = set(np.flatnonzero(w[b] > 0))
        assert held == chosen
        budget = 1.0 - cash_buffer if chosen else 0.0
        invested = min(budget, len(chosen) * max_weight)
        assert w[b].sum() == pytest.approx(invested, abs=1e-9)
        assert diag["cash"][b] == pytest.approx(1.0 - invested, abs=1e-9)
        if chosen and len(chosen) * max_weight >= budget * (1 + 1e-9):
            # uncapped names keep the signal's proportions
            free = [i for i in chosen if w[b, i] < max_weight * (1 - 1e-9)]
            if len(free) > 1:
                ratio = w[b, free] / signal[b, free]
                np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)


# --------------------------------------------------------------------------- position limit


def test_position_limit_caps_and_redistributes():
    ctx = make_context(n_assets=4)
    w, diag = PositionLimit(max_weight=0.3)(np.array([[0.5, 0.2, 0.2, 0.1]]), ctx)
    # 0.2 freed, split 2:2:1 -> 0.28, 0.28, 0.14
    np.testing.assert_allclose(w, [[0.3, 0.28, 0.28, 0.14]])
    assert diag["n_capped"][0] == 1
    assert diag["weight_moved"][0] == pytest.approx(0.2)
    np.testing.assert_array_equal(diag["capped"], [[1.0, 0.0, 0.0, 0.0]])


def test_position_limit_keeps_cash_and_sends_infeasible_excess_to_cash():
    ctx = make_context(n_assets=3)
    w, _ = PositionLimit(max_weight=0.25)(np.array([[0.5, 0.5, 0.0]]), ctx)
    np.testing.assert_allclose(w, [[0.25, 0.25, 0.0]])
    w, _ = PositionLimit(max_weight=0.5)(np.array([[0.3, 0.2, 0.0]]), ctx)
    np.testing.assert_allclose(w, [[0.3, 0.2, 0.0]])  # nothing over the cap: untouched


def test_position_limit_leaves_shorts_alone():
    ctx = make_context(n_assets=3)
    w, _ = PositionLimit(max_weight=0.4)(np.array([[0.8, 0.4, -0.2]]), ctx)
    assert w[0, 2] == -0.2
    assert (w[0, :2] <= 0.4 + 1e-12).all()


def test_position_limit_per_scenario_cap():
    ctx = make_context(n_assets=2, n_scenarios=2)
    w, _ = PositionLimit(max_weight=np.array([0.6, 0.4]))(np.array([[0.8, 0.2], [0.8, 0.2]]), ctx)
    np.testing.assert_allclose(w, [[0.6, 0.4], [0.4, 0.4]])


# --------------------------------------------------------------------------- cap_and_redistribute


@FAST
@given(
    w=weight_matrices(3, 6),
    cap=st.floats(0.01, 1.0),
    budget=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_cap_and_redistribute_properties(w, cap, budget):
    budgets = None if budget is None else np.full(w.shape[0], budget)
    out, hit = cap_and_redistribute(w, cap, budgets)
    assert (out >= 0).all()
    assert (out <= cap * (1 + 1e-9)).all()
    total = w.sum(axis=1) if budget is None else np.where(w.sum(axis=1) > 0, budget, 0.0)
    held = (w > 0).sum(axis=1)
    feasible = held * cap >= total * (1 + 1e-9)
    np.testing.assert_allclose(out.sum(axis=1)[feasible], total[feasible], rtol=1e-9, atol=1e-12)
    # infeasible: every held name sits at the cap, the rest is cash
    for b in np.flatnonzero(~feasible & (total > 0)):
        np.testing.assert_allclose(out[b][w[b] > 0], cap, rtol=1e-9)
    assert not (out[w == 0] != 0).any()  # a name with no weight never receives any
    assert (hit <= (w > 0)).all()


@FAST
@given(w=weight_matrices(2, 5), cap=st.floats(0.05, 1.0))
def test_cap_and_redistribute_is_identity_below_cap(w, cap):
    assume((w <= cap).all())
    out, hit = cap_and_redistribute(w, cap)
    np.testing.assert_allclose(out, w, rtol=1e-12, atol=0)
    assert not hit.any()


def test_cap_and_redistribute_per_scenario_cap_column():
    w = np.array([[0.7, 0.3], [0.7, 0.3]])
    out, _ = cap_and_redistribute(w, np.array([[0.6], [0.5]]))
    np.testing.assert_allclose(out, [[0.6, 0.4], [0.5, 0.5]])


def test_rank_descending_invalid_last_and_stable():
    scores = np.array([[3.0, nan, 3.0, 5.0]])
    valid = np.isfinite(scores)
    np.testing.assert_array_equal(rank_descending(scores, valid), [[1, 3, 2, 0]])
