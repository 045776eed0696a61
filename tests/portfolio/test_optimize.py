"""The functional optimizers on pandas objects: properties that can catch a wrong number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.errors import SolverError
from simlab.portfolio import optimize

ASSETS = list("ABCDEF")


def cov_frame(n=6, seed=0, t=400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, n)) @ rng.normal(size=(n, n)) * 0.2 / np.sqrt(n) + rng.normal(size=(t, 1)) * 0.1
    names = [f"X{i}" for i in range(n)]
    return pd.DataFrame(np.cov(x.T), index=names, columns=names), pd.DataFrame(x / 16, columns=names)


# --------------------------------------------------------------------------- risk parity


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 10_000))
def test_risk_parity_contributions_equal_within_1e6(n, seed):
    """Risk contributions equal within 1e-6 (the issue's bound; Newton stops at 1e-13)."""
    cov, _ = cov_frame(n, seed)
    w = optimize.risk_parity(cov)
    rc = optimize.risk_contributions(w.to_numpy(), cov.to_numpy())
    assert w.attrs["diagnostics"]["converged"]
    np.testing.assert_allclose(rc, 1.0 / n, atol=1e-6)
    assert (w > 0).all() and abs(w.sum() - 1) < 1e-12


def test_risk_parity_two_uncorrelated_assets_is_inverse_volatility():
    cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
    np.testing.assert_allclose(optimize.risk_parity(cov), [1 / 3, 2 / 3], atol=1e-12)


def test_risk_parity_singular_covariance_and_missing_asset():
    cov, _ = cov_frame(4, 1)
    c = cov.to_numpy()
    big = np.vstack([np.hstack([c, c[:, :1]]), np.hstack([c[:1], c[:1, :1]])])  # asset 4 copies asset 0
    names = [*cov.index, "COPY"]
    frame = pd.DataFrame(big, index=names, columns=names)
    w = optimize.risk_parity(frame)
    rc = optimize.risk_contributions(w.to_numpy(), big)
    np.testing.assert_allclose(rc, 0.2, atol=1e-6)
    frame.iloc[2, :] = np.nan
    frame.iloc[:, 2] = np.nan
    w = optimize.risk_parity(frame)
    assert w.iloc[2] == 0.0 and abs(w.sum() - 1) < 1e-12


def test_risk_parity_batch_handles_per_scenario_active_sets():
    cov = np.stack([cov_frame(5, s)[0].to_numpy() for s in range(3)])
    active = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=bool)
    w, converged, _ = optimize.risk_parity_weights(cov, active)
    assert converged.all()
    np.testing.assert_array_equal(w[1, [1, 3]], 0.0)
    np.testing.assert_array_equal(w[2], 0.0)
    sub = np.ix_([0, 2, 4], [0, 2, 4])
    np.testing.assert_allclose(optimize.risk_contributions(w[1, [0, 2, 4]], cov[1][sub]), 1 / 3, atol=1e-9)


# --------------------------------------------------------------------------- HRP


def test_hrp_two_assets_is_inverse_variance():
    r = pd.DataFrame(np.random.default_rng(0).normal(size=(300, 2)) * [0.01, 0.02], columns=["A", "B"])
    var = r.var().to_numpy()
    np.testing.assert_allclose(optimize.hrp(r), (1 / var) / (1 / var).sum(), atol=1e-12)


def test_hrp_weights_are_positive_sum_to_one_and_skip_empty_columns():
    _, r = cov_frame(8, 3)
    r["EMPTY"] = np.nan
    for linkage in ("ward", "single", "average", "complete"):
        w = optimize.hrp(r, linkage=linkage)
        assert w["EMPTY"] == 0.0
        assert (w.drop("EMPTY") > 0).all() and abs(w.sum() - 1) < 1e-12


def test_hrp_rejects_unknown_linkage():
    _, r = cov_frame(3, 0)
    with pytest.raises(ValueError, match="linkage must be one of"):
        optimize.hrp(r, linkage="wards")


# --------------------------------------------------------------------------- mean-variance family


def test_min_variance_respects_bounds_and_cash_buffer():
    cov, _ = cov_frame(6, 2)
    w = optimize.min_variance(cov, bounds=(0.05, 0.3), cash_buffer=0.1)
    assert abs(w.sum() - 0.9) < 1e-6
    assert (w >= 0.05 - 1e-6).all() and (w <= 0.3 + 1e-6).all()
    assert w.attrs["diagnostics"]["fallback_level"] == 0


def test_per_asset_bounds_mapping():
    cov, _ = cov_frame(6, 2)
    free = optimize.min_variance(cov, bounds=(0.0, 1.0))
    top = free.idxmax()
    w = optimize.min_variance(cov, bounds={top: (0.0, free[top] / 2)})
    assert w[top] <= free[top] / 2 + 1e-6
    with pytest.raises(ValueError, match="not in the covariance"):
        optimize.min_variance(cov, bounds={"NOPE": (0, 1)})


def test_infeasible_bounds_fall_back_with_diagnostics_or_raise():
    cov, _ = cov_frame(4, 2)
    w = optimize.min_variance(cov, bounds=(0.0, 0.2))  # 4 x 0.2 < 1
    assert w.attrs["diagnostics"]["bounds_infeasible"] == 1.0
    assert w.attrs["diagnostics"]["fallback_level"] == 1
    np.testing.assert_allclose(w, 0.2)  # inverse volatility capped at 0.2: 20% in cash
    with pytest.raises(SolverError, match="bounds cannot sum to the budget"):
        optimize.min_variance(cov, bounds=(0.0, 0.2), fallback=False)


def test_max_sharpe_without_a_positive_excess_return_falls_back():
    cov, _ = cov_frame(4, 2)
    mu = pd.Series(-0.05, index=cov.index)
    w = optimize.max_sharpe(mu, cov, bounds=(0.0, 1.0))
    assert w.attrs["diagnostics"]["attempt.cvxpy"] == 3  # infeasible
    assert w.attrs["diagnostics"]["fallback_level"] == 1
    assert np.isfinite(w).all() and abs(w.sum() - 1) < 1e-9


def test_nan_expected_return_or_variance_gets_zero_weight():
    cov, _ = cov_frame(5, 2)
    mu = pd.Series([0.1, np.nan, 0.05, 0.08, 0.12], index=cov.index)
    cov.iloc[4, 4] = np.nan
    w = optimize.mean_variance(mu, cov, risk_aversion=2.0, bounds=(0, 0.5))
    assert w.iloc[1] == 0.0 and w.iloc[4] == 0.0
    assert abs(w.sum() - 1) < 1e-6


def test_utility_turnover_penalty_moves_toward_the_current_weights():
    cov, _ = cov_frame(6, 4)
    mu = pd.Series(np.linspace(0.02, 0.12, 6), index=cov.index)
    current = pd.Series(1 / 6, index=cov.index)
    free = optimize.mean_variance(mu, cov, risk_aversion=3.0, bounds=(0, 0.5))
    sticky = optimize.mean_variance(mu, cov, risk_aversion=3.0, bounds=(0, 0.5), current=current,
                                    turnover_penalty=0.05)
    assert (sticky - current).abs().sum() < (free - current).abs().sum()
    huge = optimize.mean_variance(mu, cov, risk_aversion=3.0, bounds=(0, 0.5), current=current,
                                  turnover_penalty=10.0)
    np.testing.assert_allclose(huge, current, atol=1e-6)


# --------------------------------------------------------------------------- Black-Litterman


def test_black_litterman_without_views_returns_the_prior():
    cov, _ = cov_frame(5, 6)
    prior = pd.Series([0.3, 0.25, 0.2, 0.15, 0.1], index=cov.index)
    pi = pd.Series(optimize.equilibrium_returns(cov.to_numpy(), prior.to_numpy(), 2.5), index=cov.index)
    mu, post = optimize.black_litterman_posterior(cov, pi, pd.Series(dtype=float), tau=0.05)
    np.testing.assert_allclose(mu, pi)
    np.testing.assert_allclose(post, 1.05 * cov)
    # reverse optimization: the unconstrained optimum is prior / (1 + tau) (He and Litterman);
    # with that budget (cash buffer tau / (1 + tau)) the long-only optimum is exactly it
    np.testing.assert_allclose(np.linalg.solve(post, mu) / 2.5, prior / 1.05, atol=1e-12)
    w = optimize.black_litterman(cov, pd.Series(dtype=float), prior_weights=prior, bounds=(0, 1),
                                 cash_buffer=1 - 1 / 1.05)
    np.testing.assert_allclose(w, prior / 1.05, atol=1e-5)


def test_black_litterman_full_confidence_makes_a_view_hold_exactly():
    cov, _ = cov_frame(4, 7)
    pi = pd.Series(0.05, index=cov.index)
    views = pd.Series({"X1": 0.15})
    mu, _ = optimize.black_litterman_posterior(cov, pi, views, confidences=1.0)
    assert abs(mu["X1"] - 0.15) < 1e-12
    half, _ = optimize.black_litterman_posterior(cov, pi, views, confidences=0.5)
    assert 0.05 < half["X1"] < 0.15


def test_idzorek_confidences_out_of_range():
    with pytest.raises(ValueError, match=r"view confidences must be in \(0, 1\]"):
        optimize.idzorek_omega(np.array([0.0]), np.eye(2), np.eye(2)[:1], 0.05)


# --------------------------------------------------------------------------- CVaR


def test_mean_cvar_lowers_cvar_against_equal_weight():
    _, r = cov_frame(6, 8, t=500)
    w = optimize.mean_cvar(r, alpha=0.9, bounds=(0, 0.5))
    loss = -(r.to_numpy() @ w.to_numpy())
    eq = -(r.to_numpy().mean(axis=1))

    def cvar(x, a=0.9):
        var = np.quantile(x, a, method="inverted_cdf")
        return var + np.maximum(x - var, 0).mean() / (1 - a)

    assert cvar(loss) <= cvar(eq) + 1e-9
    assert w.attrs["diagnostics"]["attempt.cvxpy"] == 1


def test_mean_cvar_utility_and_bad_objective():
    _, r = cov_frame(4, 9)
    w = optimize.mean_cvar(r, objective="utility", risk_aversion=0.5, bounds=(0, 0.6))
    assert abs(w.sum() - 1) < 1e-6
    with pytest.raises(ValueError, match="objective must be 'min_cvar' or 'utility'"):
        optimize.mean_cvar(r, objective="max_return")
