"""The design documents' risk rules, as written: each one quoted and worked by hand on a small book.

Every test names the sentence it checks, switches the rule on (a field value or the preset
``rules: as_written``) and compares with numbers worked out by hand; where simlab's
default differs, the test shows the default's answer on the same book.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from simlab.config import registry
from simlab.features.base import Feature, FeatureInputs
from simlab.risk.backoff import AS_WRITTEN_TABLE, DEFAULT_BREAKPOINTS, BackoffCurve
from simlab.risk.constraint_set import ConstraintSet, Limits, RiskModel
from simlab.risk.constraints import CHECKED, RegimeConstraints
from simlab.risk.exposures import BenchmarkVolatility, MarketBeta
from simlab.portfolio.sizing import soft_limit
from simlab.risk.regime_sizing import RegimeSizing
from simlab.testing import component_checks
from simlab.testing.builders import make_context

SECTORS = ("Energy", "Energy", "Financials", "Financials")
NO_BANDS = {"beta": None, "volatility": None}


def build(**fields):
    return registry.build("step", registry.resolve("step", fields, "pipeline[0]"))


def constraints(**fields) -> RegimeConstraints:
    return build(type="regime_constraints", **{**NO_BANDS, **fields})


def call(step, proposal, corr=None):
    """``regime_constraints`` on a hand-made book built from cash (the first rebalance, outside the
    turnover budget): variances 1e-4, correlations ``corr``."""
    proposal = np.atleast_2d(np.asarray(proposal, dtype=float))
    b, n = proposal.shape
    corr = np.eye(n) if corr is None else np.asarray(corr, dtype=float)
    regime = np.r_[[0, 0, 15.0, 0.0, 1.0, 0.0], step.limit_table()[0]]
    features = {
        "regime": np.tile(regime, (b, 1)), "correlation": np.broadcast_to(corr * 1e-4, (b, n, n)),
        "correlation_fallback": np.zeros(b, dtype=bool), "styles": np.full((b, 3, n), np.nan),
    }
    ctx = make_context(weights=np.zeros_like(proposal))
    meta = pd.DataFrame({"sector": SECTORS[:n]}, index=ctx.assets)
    ctx = replace(ctx, features=features, meta=meta, last_rebalance=np.full(b, -1))
    return step(proposal, ctx)


# --------------------------------------------------------------------------- backoff


def test_backoff_table_as_written():
    """"backoff_factors: [0.9, 0.7, 0.5, 0.25] applied when utilization crosses [70%, 80%, 90%, 95%]".

    Their example "0.92 -> 0.25x" does not follow the table: 0.92 crosses 90%, so 0.5x.
    """
    table = BackoffCurve.from_pairs(AS_WRITTEN_TABLE, "table")
    u = [0.5, 0.70, 0.71, 0.80, 0.85, 0.92, 0.95, 0.96, 1.5, np.nan]
    np.testing.assert_array_equal(table(u), [1.0, 1.0, 0.9, 0.9, 0.7, 0.5, 0.5, 0.25, 0.25, 1.0])
    curve = BackoffCurve.from_pairs(DEFAULT_BREAKPOINTS)  # simlab's default: continuous
    np.testing.assert_allclose(curve([0.71, 0.92, 0.95, 1.0]), [0.99, 0.62, 0.5, 0.25])


def test_backoff_factors_of_several_constraints_multiply():
    """"factors of several constraints multiply": a name at 85% of its cap in a sector at 84%."""
    step = constraints(rules="as_written", max_weight=0.10, max_sector=0.16)
    assert step.backoff_mode == "table" and step.backoff == [list(p) for p in AS_WRITTEN_TABLE]
    # name 0 at 0.085/0.10 = 85% -> 0.7; Energy at 0.135/0.16 = 84% -> 0.7; Financials 62.5% -> 1
    w, diag = call(step, [0.085, 0.05, 0.05, 0.05])
    np.testing.assert_allclose(w, [[0.085 * 0.7 * 0.7, 0.05 * 0.7, 0.05, 0.05]])
    assert diag["factor_single_name"][0] == pytest.approx(0.7) and diag["factor_sector"][0] == pytest.approx(0.7)
    # the default curve on the same book: 0.8 at 85%, 0.8125 at 84.375%
    w, _ = call(constraints(max_weight=0.10, max_sector=0.16), [0.085, 0.05, 0.05, 0.05])
    np.testing.assert_allclose(w, [[0.085 * 0.8 * 0.8125, 0.05 * 0.8125, 0.05, 0.05]])


def test_gross_exposure_in_backoff_as_written():
    """"if any constraint utilization > 70%, call size_with_backoff()": gross exposure included.

    A fully invested book sits at 100% of a 100% gross limit: the table cuts it to a quarter;
    simlab's default leaves gross out of the backoff (a hard cap only) and keeps the book.
    """
    loose = {"max_weight": 1.0, "max_sector": 1.0}
    as_written = constraints(rules="as_written", **loose)
    assert as_written.backoff_on == list(CHECKED)
    w, diag = call(as_written, [0.25] * 4)
    np.testing.assert_allclose(w, [[0.0625] * 4])
    assert diag["util_gross"][0] == pytest.approx(1.0) and diag["factor_gross"][0] == 0.25
    w, _ = call(constraints(**loose), [0.25] * 4)
    np.testing.assert_allclose(w, [[0.25] * 4])


# --------------------------------------------------------------------------- correlation


CORR = np.array([[1.0, 0.9, 0.0, 0.0], [0.9, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.2], [0.0, 0.0, 0.2, 1.0]])


def test_pairwise_correlation_limit_as_written():
    """Correlation limit "applied element-wise: if any pair exceeds limit, fail check".

    A pair at 0.90 against 0.85 fails; the restore drops the smaller position of the pair.
    The default cluster cap (40% of the book in the pair's cluster) lets both stay.
    """
    loose = {"max_weight": 1.0, "max_sector": 1.0, "max_cluster": 0.6, "backoff_on": []}
    w, diag = call(constraints(correlation_check="pairwise", **loose), [0.3, 0.2, 0.25, 0.25], CORR)
    np.testing.assert_allclose(w, [[0.3, 0.0, 0.25, 0.25]])
    assert diag["util_correlation"][0] == pytest.approx(0.9 / 0.85)
    w, diag = call(constraints(**loose), [0.3, 0.2, 0.25, 0.25], CORR)
    np.testing.assert_allclose(w, [[0.3, 0.2, 0.25, 0.25]])  # the cluster {0, 1} holds 0.5 <= 0.6


def test_pairwise_check_reads_held_pairs_only():
    """Element-wise over the pairs *held*: a correlated pair with one name out of the book passes."""
    model = RiskModel(("A", "B", "C", "D"), np.full(4, -1), (), CORR, np.ones(4), np.eye(4) * 1e-4, 0.01)
    one = np.ones(1)
    limits = Limits(one, one, one * 0.85, one, one, one, np.full((1, 2), np.nan), np.full((1, 2), np.nan))
    cs = ConstraintSet(limits, model, BackoffCurve.from_pairs(AS_WRITTEN_TABLE, "table"), correlation="pairwise")
    check = cs.check(np.array([[0.5, 0.0, 0.25, 0.25]]))["correlation"]
    assert check.passed[0] and check.utilization[0] == pytest.approx(0.2 / 0.85)
    check = cs.check(np.array([[0.4, 0.1, 0.25, 0.25]]))["correlation"]
    assert not check.passed[0] and "A at 0.9" in check.reason(0)
    # each name's factor is the table at its own worst pair: 0.9/0.85 -> 0.25; 0.2/0.85 -> 1
    np.testing.assert_allclose(check.factor, [[0.25, 0.25, 1.0, 1.0]])


def test_pairwise_needs_a_positive_limit():
    with pytest.raises(Exception, match="max_correlation > 0"):
        constraints(correlation_check="pairwise", max_correlation=-0.5)


# --------------------------------------------------------------------------- regime-conditional bands


@dataclass(frozen=True)
class FixedLabels(Feature):
    """Labels given by hand, one per row."""

    labels: tuple[int, ...]

    def compute(self, inputs, rows):
        return np.asarray(self.labels)[np.asarray(rows)]


def test_regime_conditional_beta_and_benchmark_volatility():
    """"do not use global covariance when regime-conditional matrices exist".

    An asset with beta 2 on stress days (label 1) and 0.5 on calm days: at a stress decision
    day the conditional beta is 2 and the benchmark's volatility that of stress days only.
    """
    rng = np.random.default_rng(3)
    t = 200
    labels = np.r_[np.zeros(100, dtype=int), np.ones(100, dtype=int)]
    rng.shuffle(labels[:-1])  # the decision day (last row) stays in stress
    bench_r = rng.normal(0, 0.01, t) * np.where(labels == 1, 3.0, 1.0)
    bench_r[0] = 0.0
    asset_r = np.where(labels == 1, 2.0, 0.5) * bench_r
    level = 100 * np.cumprod(1 + bench_r)
    close = 100 * np.cumprod(1 + asset_r)[:, None]
    returns = np.vstack([[np.nan], close[1:] / close[:-1] - 1])
    inputs = FeatureInputs(pd.bdate_range("2020-01-01", periods=t), ("A",), close, returns, None, level, {}, None)
    row = np.array([t - 1])
    regime = FixedLabels(tuple(labels))
    assert MarketBeta(150, regime=regime).compute(inputs, row)[0, 0] == pytest.approx(2.0)
    unconditional = MarketBeta(150).compute(inputs, row)[0, 0]
    assert 0.5 < unconditional < 2.0 - 0.05
    b = np.r_[np.nan, level[1:] / level[:-1] - 1][-150:]
    stress_days = labels[-150:] == 1
    expected = np.std(b[stress_days], ddof=1)
    assert BenchmarkVolatility(150, regime=regime).compute(inputs, row)[0] == pytest.approx(expected)
    # fewer than min_regime_obs days in the regime: the unconditional estimate
    assert MarketBeta(150, regime=regime, min_regime_obs=150).compute(inputs, row)[0, 0] == pytest.approx(
        unconditional)


def test_band_regime_as_written_declares_conditional_features():
    step = constraints(rules="as_written", beta={"normal": [0.8, 1.2], "stress": [0.9, 1.1]},
                       volatility={"normal": [0.8, 1.2], "stress": [0.5, 1.0]})
    assert step.band_regime and step.correlation_check == "pairwise"
    features = step.features(1)
    assert features["beta"][0].regime is not None and features["benchmark_vol"][0].regime is not None
    assert features["covariance"][0].regime is not None
    default = build(type="regime_constraints").features(1)
    assert default["beta"][0].regime is None and default["covariance"][0].regime is None


# --------------------------------------------------------------------------- overlays


def test_drawdown_breaker_without_hysteresis_as_written():
    """Drawdown breaker "10% DD -> 75% exposure" (20% -> 50%, 30% -> 25%), no hysteresis.

    A book that fell 12% and is back to 8% below its peak: as written, exposure is 100%
    again; simlab's default (hysteresis 0.05) holds 75% until the drawdown is back to 5%.
    """
    w = np.array([[0.5, 0.5]])
    history = np.array([[100.0], [88.0], [92.0]])
    ctx = replace(make_context(weights=w, nav=92.0), peak_nav=np.array([100.0]), nav_history=history)
    as_written = build(type="drawdown_breaker", rules="as_written")
    assert as_written.hysteresis == 0.0
    out, diag = as_written(w, ctx)
    np.testing.assert_allclose(out, w) and np.testing.assert_array_equal(diag["level"], [0])
    out, diag = build(type="drawdown_breaker")(w, ctx)
    np.testing.assert_allclose(out, 0.75 * w) and np.testing.assert_array_equal(diag["level"], [1])
    for dd, exposure in ((0.101, 0.75), (0.201, 0.5), (0.301, 0.25), (0.10, 1.0)):
        nav = 100.0 * (1 - dd)
        ctx = replace(make_context(weights=w, nav=nav), peak_nav=np.array([100.0]),
                      nav_history=np.array([[100.0], [nav]]))
        assert as_written(w, ctx)[1]["exposure"][0] == exposure


def test_volatility_target_clamp_as_written():
    """"volatility target clamp 0.25-1.50": a calm book is scaled up to 1.5x, a wild one down to 0.25x."""
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (80, 2)), axis=0))  # about 16% a year each
    w = np.array([[0.5, 0.5]])
    ctx = dataclasses.replace(make_context(weights=w, close=close), leverage=1.5)  # the book may borrow
    step = build(type="volatility_target", rules="as_written", max_scale=1.0)
    assert (step.min_scale, step.max_scale) == (0.25, 1.5)  # the preset wins over the field
    _, diag = build(type="volatility_target", rules="as_written", target=1.0)(w, ctx)
    assert diag["scale"][0] == 1.5 and diag["clamped"][0] == 1
    _, diag = build(type="volatility_target", rules="as_written", target=0.001)(w, ctx)
    assert diag["scale"][0] == 0.25 and diag["clamped"][0] == -1


def test_soft_limit_override_as_written():
    """Soft limit: "20% override margin when conviction > 0.8".

    Conviction is the signal's percentile rank: with four names 1.0, 0.75, 0.5, 0.25; with
    five, 1.0, 0.8, ... As written, every name above 0.8 gets the whole margin at once;
    the default ramps linearly from the threshold.
    """
    signal = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    w = np.full((1, 5), 0.4)
    vol = np.full((1, 5), 0.01)
    ctx = replace(make_context(weights=w, signal=signal), features={"volatility": vol})
    entry = {"type": "vol_target_size", "scope": "position", "target_vol": 100.0, "max_weight": 0.25, "max_gross": 10.0}
    out, diag = build(**entry, rules="as_written")(w, ctx)
    np.testing.assert_allclose(diag["limit"], [[0.30, 0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_allclose(out, diag["limit"])
    conv = np.array([[1.0, 0.9, 0.85, 0.8]])
    args = (np.full((1, 4), 0.4), conv, np.array([[0.25]]), np.array([[0.8]]), np.array([[0.2]]))
    np.testing.assert_allclose(soft_limit(*args, ramp="step")[1], [[0.30, 0.30, 0.30, 0.25]])
    np.testing.assert_allclose(soft_limit(*args)[1], [[0.30, 0.275, 0.2625, 0.25]])


# --------------------------------------------------------------------------- regime sizing


def regime_ctx(w, label, known=True):
    w = np.atleast_2d(w)
    table = np.tile([label, 0.0, 0.0, 0.0, float(known)], (len(w), 1))
    return replace(make_context(weights=w), features={"regime": table})


def test_regime_sizing_scales_up_as_written():
    """"regime sizing that scales up (e.g. trending x1.2)": trend label 0 (above the 200-day average).

    As written a fully invested book goes to 120% gross; simlab's default caps the gross at
    100%, so the scale-up only puts cash back to work.
    """
    as_written = build(type="regime_sizing", rules="as_written")
    assert as_written.max_gross is None
    out, diag = as_written(np.array([[0.5, 0.5]]), regime_ctx([0.5, 0.5], 0))
    np.testing.assert_allclose(out, [[0.6, 0.6]]) and np.testing.assert_allclose(diag["multiplier"], [1.2])
    default = build(type="regime_sizing")
    np.testing.assert_allclose(default(np.array([[0.5, 0.5]]), regime_ctx([0.5, 0.5], 0))[0], [[0.5, 0.5]])
    np.testing.assert_allclose(default(np.array([[0.4, 0.4]]), regime_ctx([0.4, 0.4], 0))[0], [[0.48, 0.48]])
    np.testing.assert_allclose(default(np.array([[0.4, 0.4]]), regime_ctx([0.4, 0.4], 2))[0], [[0.3, 0.3]])
    np.testing.assert_allclose(default(np.array([[0.4, 0.4]]), regime_ctx([0.4, 0.4], 0, False))[0], [[0.4, 0.4]])


def test_regime_sizing_rejects_labels_the_detector_lacks():
    with pytest.raises(Exception, match="labels 0..2"):
        build(type="regime_sizing", multipliers={"3": 1.5})


@pytest.mark.parametrize(("key", "params"), [
    ("regime_constraints", {"rules": "as_written"}),
    ("drawdown_breaker", {"rules": "as_written"}),
    ("regime_sizing", {"rules": "as_written"}),
    ("volatility_target", {"rules": "as_written"}),
])
def test_as_written_presets_conform(key, params):
    cls = registry.registry("step")[key]
    for _, check in component_checks("step", cls, key, params):
        check()


def test_regime_sizing_is_registered():
    assert registry.registry("step")["regime_sizing"] is RegimeSizing
