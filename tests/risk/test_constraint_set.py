"""The constraint arithmetic of one decision on hand-made books: checks, restores, projection, turnover."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.risk.backoff import DEFAULT_BREAKPOINTS, BackoffCurve
from simlab.risk.constraint_set import ConstraintSet, Limits, RiskModel, correlation_clusters, one_way, turnover_move

CURVE = BackoffCurve.from_pairs(DEFAULT_BREAKPOINTS)


def model(n=4, sector=(0, 0, 1, 1), beta=None, cov=None, corr=None, bench_vol=0.01):
    cov = np.diag(np.full(n, 1e-4)) if cov is None else cov
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd) if corr is None else corr
    return RiskModel(
        assets=tuple(f"A{i}" for i in range(n)), sector=np.asarray(sector), sector_names=("S0", "S1"),
        correlation=corr, beta=np.ones(n) if beta is None else np.asarray(beta, float),
        covariance=cov, benchmark_vol=bench_vol,
    )


def limits(b=1, single=0.5, sector=0.6, corr=0.85, cluster=0.5, gross=1.0, turnover=0.5,
           beta=(np.nan, np.nan), vol=(np.nan, np.nan)):
    def col(v):
        return np.full(b, float(v))

    return Limits(col(single), col(sector), col(corr), col(cluster), col(gross), col(turnover),
                  np.tile(beta, (b, 1)).astype(float), np.tile(vol, (b, 1)).astype(float))


def test_sector_check_and_exact_restore():
    cs = ConstraintSet(limits(sector=0.4), model(), CURVE)
    w = np.array([[0.3, 0.3, 0.2, 0.1]])
    check = cs.check(w)["sector"]
    assert check.utilization[0] == pytest.approx(1.5)
    assert not check.passed[0]
    assert "S0 at 0.6" in check.reason(0) and "violated" in check.reason(0)
    np.testing.assert_allclose(check.factor, [[0.25, 0.25, 0.95, 0.95]])  # S0 at 150%, S1 at 75%
    restored = cs.restore("sector", w)
    np.testing.assert_allclose(restored, [[0.2, 0.2, 0.2, 0.1]])


def test_sector_factor_uses_each_sectors_own_utilization():
    cs = ConstraintSet(limits(sector=0.4), model(), CURVE)
    w = np.array([[0.18, 0.18, 0.1, 0.1]])  # S0 at 0.36 -> 90%; S1 at 0.2 -> 50%
    f = cs.check(w)["sector"].factor
    np.testing.assert_allclose(f, [[0.7, 0.7, 1.0, 1.0]])


def test_single_name_gross_and_turnover_budget():
    cs = ConstraintSet(limits(single=0.25, gross=0.8), model(), CURVE)
    w = np.array([[0.5, 0.25, 0.1, 0.05]])
    checks = cs.check(w)
    assert checks["single_name"].utilization[0] == pytest.approx(2.0)
    assert checks["gross"].utilization[0] == pytest.approx(0.9 / 0.8)
    out, rounds, fallback = cs.project(w)
    assert cs.all_pass(out)[0] and rounds[0] >= 1 and not fallback[0]
    assert out[0, 0] <= 0.25 + 1e-12 and np.abs(out).sum() <= 0.8 + 1e-12
    # turnover: a 0.6 one-way trade on a 0.3 budget, no backoff curve -> half the way
    flat = BackoffCurve((0.0,), (1.0,))
    target, anchor = np.array([[0.6, 0.0]]), np.array([[0.0, 0.6]])
    moved, util, factor, frac = turnover_move(target, anchor, np.array([0.3]), flat, np.array([False]))
    assert util[0] == pytest.approx(2.0) and frac[0] == pytest.approx(0.5)
    np.testing.assert_allclose(moved, [[0.3, 0.3]])
    assert one_way(anchor, moved)[0] == pytest.approx(0.3)
    # the default curve at utilization 2.0 takes a quarter of the trade (within the budget)
    moved, _, factor, frac = turnover_move(target, anchor, np.array([0.3]), CURVE, np.array([False]))
    assert factor[0] == 0.25 and frac[0] == 0.25
    # an exempt scenario trades all the way
    moved, _, _, frac = turnover_move(target, anchor, np.array([0.3]), CURVE, np.array([True]))
    np.testing.assert_allclose(moved, target)


def test_beta_band_restore_is_exact_and_scales_only_the_drivers():
    cs = ConstraintSet(limits(beta=(0.9, 1.1)), model(beta=[1.5, 1.2, 1.0, 0.8]), CURVE)
    w = np.array([[0.4, 0.2, 0.2, 0.2]])
    x, _ = cs.beta_exposure(w)
    assert x[0] == pytest.approx((0.6 + 0.24 + 0.2 + 0.16) / 1.0)
    check = cs.check(w)["beta"]
    assert check.utilization[0] == pytest.approx(abs(x[0] - 1.0) / 0.1)
    restored = cs.restore("beta", w)
    assert cs.beta_exposure(restored)[0][0] == pytest.approx(1.1)
    assert restored[0, 2] == w[0, 2] and restored[0, 3] == w[0, 3]  # below the bound: untouched
    # drivers of the backoff: names whose beta is above the sleeve's (1.2 > x? x = 1.2 -> only 1.5)
    assert check.factor[0, 0] < 1 and check.factor[0, 2] == 1 and check.factor[0, 3] == 1


def test_volatility_band_lower_and_upper():
    cov = np.diag([4e-4, 1e-4, 1e-4, 1e-4])
    cs = ConstraintSet(limits(vol=(0.5, 1.0)), model(cov=cov), CURVE)
    w = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    x, _ = cs.volatility_exposure(w)
    v = w / w.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x, np.sqrt(np.einsum("bi,ij,bj->b", v, cov, v)) / 0.01)
    restored = cs.restore("volatility", w)
    xr, _ = cs.volatility_exposure(restored)
    assert xr[0] == pytest.approx(1.0, abs=1e-9)  # the volatile name was cut back to the edge
    assert restored[0, 0] < w[0, 0] and np.all(restored[0, 1:] == w[0, 1:])
    assert 0.5 <= xr[1] <= 1.0 and np.all(restored[1] == w[1])  # inside: untouched


def test_correlation_clusters_single_and_average_linkage():
    corr = np.array([
        [1.0, 0.9, 0.7, 0.1],
        [0.9, 1.0, 0.9, 0.1],
        [0.7, 0.9, 1.0, 0.1],
        [0.1, 0.1, 0.1, 1.0],
    ])
    single = correlation_clusters(corr, 0.85, "single")
    assert single[0] == single[1] == single[2] >= 0 and single[3] == -1
    complete = correlation_clusters(corr, 0.85, "complete")
    assert (complete[:3] >= 0).sum() == 2 and complete[3] == -1  # 0-2 only reach 0.7
    at_limit = correlation_clusters(corr, 0.9, "single")
    assert at_limit[0] >= 0  # correlation equal to the limit joins
    assert (correlation_clusters(corr, 0.95, "single") == -1).all()
    nan = corr.copy()
    nan[3, 3] = np.nan
    assert correlation_clusters(nan, 0.05, "single")[3] == -1


def test_cluster_cap_restored():
    corr = np.full((4, 4), 0.95)
    np.fill_diagonal(corr, 1.0)
    corr[3, :3] = corr[:3, 3] = 0.0
    cs = ConstraintSet(limits(cluster=0.3), model(corr=corr), CURVE)
    w = np.array([[0.2, 0.2, 0.2, 0.2]])
    check = cs.check(w)["correlation"]
    assert check.utilization[0] == pytest.approx(2.0)
    out = cs.restore("correlation", w)
    np.testing.assert_allclose(out, [[0.1, 0.1, 0.1, 0.2]])


def test_empty_book_passes_everything():
    cs = ConstraintSet(limits(beta=(0.9, 1.1), vol=(0.5, 1.0)), model(), CURVE)
    w = np.zeros((1, 4))
    assert cs.all_pass(w)[0]
    out, rounds, fallback = cs.project(w)
    assert rounds[0] == 0 and not fallback[0]


def test_unreachable_band_is_kept_and_flagged_or_emptied_to_cash():
    low = model(beta=[0.4, 0.5, 0.6, 0.7])  # every name below a 0.9 floor: no scaling can lift the sleeve
    w = np.array([[0.25, 0.25, 0.25, 0.25]])
    keep = ConstraintSet(limits(sector=1.0, beta=(0.9, 1.1)), low, CURVE)
    out, rounds, left = keep.project(w)
    np.testing.assert_array_equal(out, w)
    assert left[0] and not keep.all_pass(out)[0]
    assert keep.all_pass(out, names=("correlation", "sector", "single_name", "gross"))[0]
    cash = ConstraintSet(limits(sector=1.0, beta=(0.9, 1.1)), low, CURVE, unreachable="cash")
    out, _, left = cash.project(w)
    assert left[0] and (out == 0).all() and cash.all_pass(out)[0]


def test_bands_pulling_against_each_other_do_not_grind_the_book_down():
    # high beta comes with high volatility: a beta floor and a volatility ceiling cannot both hold
    cov = np.diag([9e-4, 9e-4, 1e-4, 1e-4])
    m = model(beta=[1.6, 1.5, 0.4, 0.5], cov=cov)
    cs = ConstraintSet(limits(sector=1.0, beta=(0.95, 1.05), vol=(0.2, 0.8)), m, CURVE)
    w = np.array([[0.1, 0.1, 0.4, 0.4]])
    out, rounds, left = cs.project(w)
    assert left[0] and rounds[0] == 12
    np.testing.assert_allclose(out, w)  # back to the proposal with only the caps restored
    with pytest.raises(ValueError, match="'keep' or 'cash'"):
        ConstraintSet(limits(), m, CURVE, unreachable="ignore")
