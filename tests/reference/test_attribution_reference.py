"""Attribution against independent implementations: statsmodels OLS/HAC, skfolio risk
contributions and a numerical derivative, and Brinson periods that add to the total."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.analysis import brinson, factor_regression, risk_decomposition
from simlab.errors import DataError

sm = pytest.importorskip("statsmodels.api")


def _factor_sample(n=600, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=n)
    f = pd.DataFrame(rng.normal(0, 0.01, (n, 3)), index=dates, columns=["MKT", "SMB", "HML"])
    noise = np.convolve(rng.normal(0, 0.004, n + 4), np.ones(5) / 5, mode="valid")[:n]  # autocorrelated
    y = pd.Series(0.0002 + f.to_numpy() @ np.array([0.9, -0.2, 0.3]) + noise, index=dates, name="p")
    return y, f


@pytest.mark.parametrize("lags", [0, 1, 5, None])
def test_regression_matches_statsmodels_hac(lags):
    y, f = _factor_sample()
    fit = factor_regression.regress(y, f, lags=lags)
    nlags = factor_regression.newey_west_lags(len(y)) if lags is None else lags
    ref = sm.OLS(y.to_numpy(), sm.add_constant(f.to_numpy())).fit(cov_type="HAC", cov_kwds={"maxlags": nlags})
    np.testing.assert_allclose(fit.coef.to_numpy(), ref.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.stderr.to_numpy(), ref.bse, rtol=1e-10, atol=0)
    np.testing.assert_allclose(fit.tstat.to_numpy(), ref.tvalues, rtol=1e-10, atol=0)
    np.testing.assert_allclose(fit.pvalue.to_numpy(), ref.pvalues, rtol=1e-8, atol=1e-14)
    assert fit.r2 == pytest.approx(ref.rsquared, abs=1e-10)
    assert fit.nobs == len(y) and fit.lags == nlags


def test_small_sample_correction_matches_statsmodels_use_correction():
    y, f = _factor_sample()
    fit = factor_regression.regress(y, f, lags=3, small_sample=True)
    ref = sm.OLS(y.to_numpy(), sm.add_constant(f.to_numpy())).fit(
        cov_type="HAC", cov_kwds={"maxlags": 3, "use_correction": True})
    np.testing.assert_allclose(fit.stderr.to_numpy(), ref.bse, rtol=1e-10, atol=0)


def test_regression_on_builtin_ff_factors_matches_statsmodels():
    table = factor_regression.factor_returns("ff3")
    sample = table.loc["1990":"2018"]
    y = sample["Mkt-RF"] * 1.1 + 0.3 * sample["HML"] + 0.001 + 0.01 * np.sin(np.arange(len(sample)))
    fit = factor_regression.regress(y, sample[["Mkt-RF", "SMB", "HML"]], periods=12)
    ref = sm.OLS(y.to_numpy(), sm.add_constant(sample[["Mkt-RF", "SMB", "HML"]].to_numpy())).fit(
        cov_type="HAC", cov_kwds={"maxlags": fit.lags})
    np.testing.assert_allclose(fit.tstat.to_numpy(), ref.tvalues, rtol=1e-10)
    assert fit.alpha_annual == pytest.approx(12 * ref.params[0], abs=1e-12)


def test_rolling_betas_match_windowed_ols():
    y, f = _factor_sample(n=120)
    roll = factor_regression.rolling_betas(y, f, window=60)
    assert roll.iloc[:59].isna().all().all()
    ref = sm.OLS(y.iloc[40:100].to_numpy(), sm.add_constant(f.iloc[40:100].to_numpy())).fit()
    np.testing.assert_allclose(roll.iloc[99].to_numpy(), ref.params, atol=1e-12)


def test_rolling_market_beta_matches_the_rolling_regression_slope():
    y, f = _factor_sample(n=150)
    fast = factor_regression.rolling_market_beta(y.to_frame(), f["MKT"], window=60)
    slow = factor_regression.rolling_betas(y, f[["MKT"]], window=60)
    np.testing.assert_allclose(fast["p"].iloc[59:], slow["MKT"].iloc[59:], rtol=1e-9)
    assert fast["p"].iloc[:59].isna().all()


def test_regression_refuses_too_few_overlapping_dates():
    y, f = _factor_sample(n=40)
    with pytest.raises(DataError, match="common observations"):
        factor_regression.regress(y.iloc[:5], f)
    with pytest.raises(DataError, match="unknown factor set 'ff5'"):
        factor_regression.factor_returns("ff5")


def _risk_sample(n=500, k=6, seed=1):
    rng = np.random.default_rng(seed)
    assets = [f"A{i}" for i in range(k)]
    mix = rng.normal(0, 0.01, (k, k))
    rets = pd.DataFrame(rng.standard_t(5, (n, k)) @ mix + 0.0003, columns=assets)
    w = pd.Series(rng.dirichlet(np.ones(k)) * 0.95, index=assets)
    return w, rets


def _measure(w, rets, measure, alpha=0.95):
    if measure == "volatility":
        return float(np.sqrt(w @ rets.cov().to_numpy() @ w))
    losses = np.sort(-(rets.to_numpy() @ w))[::-1]
    k = int(np.ceil((1 - alpha) * len(losses) - 1e-9))
    return float(losses[k - 1]) if measure == "var" else float(losses[:k].mean())


@pytest.mark.parametrize("measure", ["volatility", "var", "cvar"])
def test_components_sum_to_total_and_match_numerical_derivative(measure):
    w, rets = _risk_sample()
    if measure == "volatility":
        table = risk_decomposition.volatility_contributions(w, rets.cov())
    else:
        table = risk_decomposition.tail_contributions(w, rets, measure)
    total = _measure(w.to_numpy(), rets, measure)
    assert abs(table["component"].sum() - total) <= 1e-12 * max(1.0, abs(total))
    assert table["percent"].sum() == pytest.approx(1.0, abs=1e-12)
    h = 1e-6
    for i, asset in enumerate(w.index):
        up, down = w.to_numpy().copy(), w.to_numpy().copy()
        up[i] += h
        down[i] -= h
        derivative = (_measure(up, rets, measure) - _measure(down, rets, measure)) / (2 * h)
        assert table.loc[asset, "marginal"] == pytest.approx(derivative, abs=1e-7)


def test_gaussian_tail_components_sum_to_parametric_var_and_cvar():
    from scipy import stats

    w, rets = _risk_sample()
    mu, vol = float(rets.mean() @ w), _measure(w.to_numpy(), rets, "volatility")
    var = risk_decomposition.tail_contributions(w, rets, "var", 0.99, method="gaussian")
    cvar = risk_decomposition.tail_contributions(w, rets, "cvar", 0.99, method="gaussian")
    z = stats.norm.ppf(0.99)
    assert abs(var["component"].sum() - (-mu + z * vol)) < 1e-12
    assert abs(cvar["component"].sum() - (-mu + vol * stats.norm.pdf(z) / 0.01)) < 1e-12


def test_volatility_and_cvar_contributions_match_skfolio():
    skp = pytest.importorskip("skfolio.portfolio")
    from skfolio import RiskMeasure

    w, rets = _risk_sample(n=400)
    full = pd.concat([rets, pd.Series(0.0, index=rets.index, name="CASH")], axis=1)
    weights = np.append(w.to_numpy(), 1 - w.sum())
    port = skp.Portfolio(X=full, weights=weights)
    ours_vol = risk_decomposition.volatility_contributions(w, rets.cov())["component"].to_numpy()
    ref_vol = port.contribution(measure=RiskMeasure.STANDARD_DEVIATION)[:-1]
    np.testing.assert_allclose(ours_vol, ref_vol, atol=1e-9)
    ours_cvar = risk_decomposition.tail_contributions(w, rets, "cvar", 0.95)["component"].to_numpy()
    ref_cvar = port.contribution(measure=RiskMeasure.CVAR)[:-1]
    np.testing.assert_allclose(ours_cvar, ref_cvar, atol=1e-9)


def test_by_group_adds_to_total_and_decompose_has_total_row():
    w, rets = _risk_sample()
    table = risk_decomposition.volatility_contributions(w, rets.cov())
    sectors = pd.Series(["X", "X", "Y", "Y", "Z", "Z"], index=w.index)
    grouped = risk_decomposition.by_group(table, sectors)
    assert grouped["component"].sum() == pytest.approx(table["component"].sum(), abs=1e-15)
    full = risk_decomposition.decompose(w, rets)
    assert full.loc["total", "volatility"] == pytest.approx(_measure(w.to_numpy(), rets, "volatility"), abs=1e-12)


def test_zero_portfolio_is_an_error_not_a_nan():
    w, rets = _risk_sample()
    with pytest.raises(DataError, match="zero volatility"):
        risk_decomposition.volatility_contributions(w * 0.0, rets.cov())


def _brinson_sample(periods=12, k=8, seed=2):
    rng = np.random.default_rng(seed)
    assets = [f"S{i}" for i in range(k)]
    dates = pd.date_range("2020-01-31", periods=periods, freq="ME")
    weights = pd.DataFrame(rng.dirichlet(np.ones(k), periods) * 0.97, index=dates, columns=assets)
    rets = pd.DataFrame(rng.normal(0.01, 0.05, (periods, k)), index=dates, columns=assets)
    bench = pd.DataFrame(rng.dirichlet(np.ones(k), periods), index=dates, columns=assets)
    sectors = pd.Series(["Tech", "Tech", "Fin", "Fin", "Energy", "Energy", "Staples", "Staples"], index=assets)
    return weights, rets, bench, sectors


def test_single_period_effects_add_to_active_return():
    weights, rets, bench, sectors = _brinson_sample(periods=1)
    d = weights.index[0]
    wp, rp = brinson.sector_view(weights.loc[d], rets.loc[d], sectors)
    wb, rb = brinson.sector_view(bench.loc[d], rets.loc[d], sectors)
    effects = brinson.single_period(wp, wb, rp, rb)
    active = float(weights.loc[d] @ rets.loc[d] - bench.loc[d] @ rets.loc[d])
    assert effects.to_numpy().sum() == pytest.approx(active, abs=1e-15)


def test_linked_periods_add_to_the_compounded_active_return():
    weights, rets, bench, sectors = _brinson_sample()
    out = brinson.brinson_fachler(weights, rets, sectors, bench)
    rp = (weights * rets).sum(axis=1)
    rb = (bench * rets).sum(axis=1)
    active = float(np.prod(1 + rp) - np.prod(1 + rb))
    s = out["summary"]
    assert s["active"] == pytest.approx(active, abs=1e-14)
    assert s["sum_of_effects"] == pytest.approx(active, abs=1e-14)
    linked = out["periods"][["linked_allocation", "linked_selection", "linked_interaction"]].to_numpy().sum()
    assert linked == pytest.approx(active, abs=1e-14)
    assert out["by_sector"].to_numpy().sum() == pytest.approx(active, abs=1e-14)
    np.testing.assert_allclose(out["periods"]["active"], rp - rb, atol=1e-15)


def test_vectorized_periods_equal_the_single_period_formula():
    weights, rets, bench, sectors = _brinson_sample(periods=5)
    out = brinson.brinson_fachler(weights, rets, sectors, bench)
    for d in weights.index:
        wp, rp = brinson.sector_view(weights.loc[d], rets.loc[d], sectors)
        wb, rb = brinson.sector_view(bench.loc[d], rets.loc[d], sectors)
        ref = brinson.single_period(wp, wb, rp, rb).sum()
        np.testing.assert_allclose(out["periods"].loc[d, ["allocation", "selection", "interaction"]], ref, atol=1e-15)


def test_brinson_matches_hand_worked_textbook_example():
    # Two sectors, one period: portfolio 60/40, benchmark 50/50; returns by sector given.
    wp, wb = pd.Series({"A": 0.6, "B": 0.4}), pd.Series({"A": 0.5, "B": 0.5})
    rp, rb = pd.Series({"A": 0.10, "B": 0.02}), pd.Series({"A": 0.08, "B": 0.04})
    e = brinson.single_period(wp, wb, rp, rb)
    # benchmark total 0.06; allocation A: 0.1*(0.08-0.06); selection A: 0.5*(0.02); interaction A: 0.1*0.02
    assert e.loc["A", "allocation"] == pytest.approx(0.002)
    assert e.loc["B", "allocation"] == pytest.approx(0.002)
    assert e.loc["A", "selection"] == pytest.approx(0.01)
    assert e.loc["B", "selection"] == pytest.approx(-0.01)
    assert e.loc["A", "interaction"] == pytest.approx(0.002)
    assert e.loc["B", "interaction"] == pytest.approx(0.002)
    assert e.to_numpy().sum() == pytest.approx((0.6 * 0.10 + 0.4 * 0.02) - 0.06)


def test_benchmark_weights_csv_errors_name_the_file_and_asset(tmp_path):
    good = tmp_path / "bench.csv"
    good.write_text("date,A,B\n2020-01-01,0.5,0.5\n2020-06-01,0.7,0.3\n")
    frame = brinson.read_benchmark_weights(good)
    assert list(frame.columns) == ["A", "B"] and frame.loc["2020-06-01", "A"] == 0.7
    bad = tmp_path / "bad.csv"
    bad.write_text("date,A,B\n2020-01-01,0.5,x\n")
    with pytest.raises(DataError, match=r"bad.csv: asset B on 2020-01-01"):
        brinson.read_benchmark_weights(bad)
    with pytest.raises(DataError, match="file not found"):
        brinson.read_benchmark_weights(tmp_path / "none.csv")
