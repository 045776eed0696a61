"""A run on ``data.calendar: every_day`` annualises every figure over 365 days.

Each figure of the report, the attribution, the claims and the Steps that annualise is
recomputed here independently (numpy, pandas, empyrical, statsmodels) with a 365-day year;
the default calendar keeps 252.
"""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml

import simlab
from simlab.analysis import plots, report
from simlab.analysis.attribution import attribution_of
from simlab.analysis.claims import claims_table, equal_sharpe_table
from simlab.analysis.metrics import drop_start_day
from simlab.analysis.run_series import periods_of
from simlab.data.synthetic_instruments import generate_crypto

YEAR = 365


def _crypto_config(folder, pipeline=None, **extra) -> dict:
    bench = folder / "bench.csv"
    if not bench.exists():
        generate_crypto(seed=7, vols=(0.7,)).close.rename(columns={"C0": "BENCH"}).to_csv(bench)
        (folder / "u.yaml").write_text(yaml.safe_dump(
            {"name": "u", "assets": {c: {"instrument": {"kind": "crypto"}} for c in ("C0", "C1")}}))
    data = {"source": "synthetic:crypto", "calendar": "every_day", "benchmark": f"csv:{bench}"}
    return {"name": "coins", "data": data,
            "universe": str(folder / "u.yaml"), "schedule": {"frequency": "monthly", "day": "first"},
            "costs": {"type": "flat", "bps": 10}, "seed": 5,
            "pipeline": pipeline or [{"type": "inverse_volatility", "window": 30}], **extra}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("coins")


@pytest.fixture(scope="module")
def coins(folder):
    return simlab.run(_crypto_config(folder, claims={"sharpe": {"min": -5.0}}))


@pytest.fixture(scope="module")
def drawn(coins, monkeypatch_module):
    """The report of the crypto run, and the series each of its rolling figures was drawn from."""
    seen = {}

    def keep(name, real):
        def wrapper(*args, **kwargs):
            seen[name] = (args, kwargs)
            return real(*args, **kwargs)
        return wrapper

    for name in ("rolling_sharpe_figure", "rolling_risk_figure", "turnover_costs_figure"):
        monkeypatch_module.setattr(plots, name, keep(name, getattr(plots, name)))
    return report.build_report(coins, draws=50), seen


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_the_run_knows_its_year(coins):
    assert periods_of(coins) == YEAR
    assert periods_of(simlab.run({"name": "d", "data": {"source": "synthetic", "n_assets": 3, "n_days": 60},
                                  "pipeline": [{"type": "equal_weight"}]})) == 252


# --- the report -------------------------------------------------------------------------------


def test_rolling_sharpe_is_over_a_365_day_year(coins, drawn):
    page, seen = drawn
    args, kwargs = seen["rolling_sharpe_figure"]
    sharpe, bench = args[0], args[1]
    r = coins.returns
    expected = r.rolling(YEAR).mean() / r.rolling(YEAR).std() * np.sqrt(YEAR)
    pd.testing.assert_frame_equal(sharpe, expected, check_names=False, rtol=1e-10)
    b = coins.benchmark_returns
    pd.testing.assert_series_equal(bench, b.rolling(YEAR).mean() / b.rolling(YEAR).std() * np.sqrt(YEAR),
                                   check_names=False, rtol=1e-10)
    assert kwargs["window"] == YEAR
    assert "trailing 365 days" in page and "trading days" not in page


def test_rolling_volatility_beta_and_turnover_are_over_365_days(coins, drawn):
    _, seen = drawn
    args, kwargs = seen["rolling_risk_figure"]
    r, b = drop_start_day(coins.returns), coins.benchmark_returns.iloc[1:]
    pd.testing.assert_frame_equal(args[0], r.rolling(YEAR).std() * np.sqrt(YEAR), check_names=False, rtol=1e-10)
    pd.testing.assert_series_equal(kwargs["benchmark_volatility"], b.rolling(YEAR).std() * np.sqrt(YEAR),
                                   check_names=False, rtol=1e-10)
    beta = args[1].iloc[:, 0].dropna()
    day = beta.index[-1]
    window = pd.concat([r.iloc[:, 0], b], axis=1).loc[:day].iloc[-YEAR:]
    assert beta.iloc[-1] == pytest.approx(empyrical.beta(window.iloc[:, 0], window.iloc[:, 1]), rel=1e-9)
    assert beta.index[0] == r.iloc[:, 0].dropna().index[YEAR - 1]
    turnover = seen["turnover_costs_figure"][0][0].iloc[:, 0]
    share = 0.5 * coins.daily_traded_value().iloc[:, 0] / coins.nav.iloc[:, 0].shift(1)
    assert turnover.iloc[-1] == pytest.approx(share.iloc[-YEAR:].sum(), rel=1e-10)


# --- attribution --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attribution(coins):
    return attribution_of(coins)


def test_market_alpha_is_annualised_over_365_days(coins, attribution):
    table = attribution.factors["market"]
    invested = coins.weights.sum("asset").to_pandas().abs().sum(axis=1) > 0
    r = coins.returns.loc[invested.idxmax():].iloc[:, 0]
    joined = pd.concat([r, coins.benchmark_returns], axis=1, join="inner").dropna()
    fit = sm.OLS(joined.iloc[:, 0], sm.add_constant(joined.iloc[:, 1])).fit()
    assert table["alpha_ann"].iloc[0] == pytest.approx(fit.params.iloc[0] * YEAR, rel=1e-9)


def test_holdings_volatility_and_rolling_beta_are_over_365_days(coins, attribution):
    rows = attribution.holdings
    last = rows[rows["key"] == "volatility"].iloc[-1]
    w = coins.weights.sel(scenario="coins").to_pandas().loc[last["date"]]
    rets = coins.market.close[list(coins.assets)].pct_change(fill_method=None)
    bench = coins.market.benchmark.reindex(rets.index).pct_change(fill_method=None)
    sample = pd.concat([rets, bench], axis=1).loc[:last["date"]].iloc[-YEAR:].dropna().iloc[:, :-1]
    assert last["value"] == pytest.approx(float(np.sqrt(w @ sample.cov() @ w * YEAR)), rel=1e-10)
    beta = attribution.rolling_beta.iloc[:, 0]
    assert beta.notna().sum() == len(beta) - (YEAR - 1)


def test_risk_table_reads_the_trailing_365_days(coins, attribution):
    total = attribution.risk.query("level == 'total'").iloc[0]
    w = coins.weights.isel(date=-1).to_pandas().iloc[0]
    sample = coins.market.close[list(coins.assets)].pct_change(fill_method=None).iloc[-YEAR:]
    assert total["volatility"] == pytest.approx(float(np.sqrt(w @ sample.cov() @ w)), rel=1e-10)


# --- claims -------------------------------------------------------------------------------------


def test_claims_annualise_over_365_days(coins):
    from scipy import stats

    table = claims_table(coins, draws=50)
    row = table.iloc[0]
    r = drop_start_day(coins.returns).iloc[:, 0].dropna()
    assert row["estimate"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=YEAR), rel=1e-9)
    assert row["years"] == pytest.approx((len(coins.returns) - 1) / YEAR)
    # PSR against the claimed annual minimum, per day over sqrt(365) (Bailey and Lopez de Prado)
    x = coins.returns.iloc[:, 0].to_numpy()
    x = x[np.isfinite(x)]
    sr, skew, kurt = x.mean() / x.std(ddof=1), stats.skew(x), stats.kurtosis(x, fisher=False)
    z = (sr - (-5.0) / np.sqrt(YEAR)) * np.sqrt(len(x) - 1) / np.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert row["psr"] == pytest.approx(stats.norm.cdf(z), abs=1e-6)
    assert np.isfinite(row["min_trl_years"])


def test_active_return_horizons_are_365_day_years(folder):
    from simlab.lab.validate import active_return_horizons

    res = simlab.run(_crypto_config(folder, claims={"active_return": {"min": 0.1}}))
    one = active_return_horizons(res).query("years == 1").iloc[0]
    r, b = drop_start_day(res.returns).iloc[:, 0], res.benchmark_returns.iloc[1:]
    r = r.loc[r[r.notna() & (r != 0)].index[0]:]
    growth = (1 + r).rolling(YEAR).apply(np.prod, raw=True) - (1 + b.reindex(r.index)).rolling(YEAR).apply(
        np.prod, raw=True)
    assert one["windows"] == growth.notna().sum() == len(r) - YEAR + 1
    assert one["worst"] == pytest.approx(growth.min(), rel=1e-9)


def test_equal_sharpe_pairs_annualise_over_365_days(folder):
    res = simlab.run(_crypto_config(folder, scenarios={"list": [
        {"name": "ivol", "pipeline": [{"type": "inverse_volatility", "window": 30}]},
        {"name": "ew", "pipeline": [{"type": "equal_weight"}]}]}))
    pair = equal_sharpe_table(res, draws=20).iloc[0]
    both = drop_start_day(res.returns).dropna()
    assert pair["sharpe_a"] == pytest.approx(empyrical.sharpe_ratio(both[pair["scenario_a"]], annualization=YEAR),
                                             rel=1e-9)


# --- Steps --------------------------------------------------------------------------------------


def test_volatility_target_annualises_over_the_run_year(folder):
    def run(periods):
        step = {"type": "volatility_target", "target": 0.3, "max_scale": 1.0, "lookback": 30, "min_periods": 10}
        if periods is not None:
            step["periods"] = periods
        return simlab.run(_crypto_config(folder, [{"type": "equal_weight"}, step]))

    default, explicit, trading = run(None), run(YEAR), run(252)
    assert np.array_equal(default.nav.to_numpy(), explicit.nav.to_numpy())
    vol = default.diagnostics.query("key == 'volatility'")["value"].dropna().to_numpy()
    vol_252 = trading.diagnostics.query("key == 'volatility'")["value"].dropna().to_numpy()
    assert vol[0] == pytest.approx(vol_252[0] * np.sqrt(YEAR / 252), rel=1e-12)
    assert not np.array_equal(default.nav.to_numpy(), trading.nav.to_numpy())


def test_vol_target_size_annualises_over_the_run_year(folder):
    def run(periods):
        step = {"type": "vol_target_size", "target_vol": 0.1, "scope": "position", "window": 30, "max_weight": 1.0}
        if periods is not None:
            step["periods"] = periods
        return simlab.run(_crypto_config(folder, [{"type": "equal_weight"}, step]))

    default, explicit, trading = run(None), run(YEAR), run(252)
    assert np.array_equal(default.weights.values, explicit.weights.values)
    # |w| = target / (daily vol * sqrt(periods)): the first orders, from the same NAV, scale by sqrt(252 / 365)
    first, first_252 = (res.trades[res.trades["date"] == res.trades["date"].min()] for res in (default, trading))
    assert first["shares"].to_numpy() == pytest.approx(first_252["shares"].to_numpy() * np.sqrt(252 / YEAR),
                                                         rel=1e-12)


_CAPPED = {
    "frontier_point": ({"type": "frontier_point", "target": "volatility", "target_volatility": 0.6}, None),
    "tracking_error": ({"type": "tracking_error", "objective": "max_return", "max_tracking_error": 0.2},
                       np.array([0.5, 0.5])),
}


def _capped_run(folder, step, periods=None):
    step = {**step, "window": 60, "estimator": "sample", "expected_returns": "history", "mean_window": 60,
            "max_weight": 1.0}
    if periods is not None:
        step["periods"] = periods
    cfg = _crypto_config(folder, [step], execution={"lag": 0})
    cfg["costs"] = {"type": "flat", "bps": 0}
    return simlab.run(cfg)


@pytest.mark.parametrize(("name", "periods"), [("frontier_point", None), ("tracking_error", None),
                                               ("frontier_point", 252)])
def test_capped_optimizer_meets_its_annual_cap_over_the_year(folder, name, periods):
    """The ex-ante annual risk (numpy: sample covariance of the window x the year) of each target meets its cap.

    ``periods: null`` follows the every-day calendar (365); a number set on the Step wins.
    """
    step, bench = _CAPPED[name]
    cap = step.get("target_volatility", step.get("max_tracking_error"))
    year = YEAR if periods is None else periods
    res = _capped_run(folder, step, periods)
    diag = res.diagnostics.pivot_table(index="date", columns="key", values="value")
    solved = diag.index[diag["fallback_level"] == 0]
    assert len(solved) >= 15
    weights = res.weights.sel(scenario="coins").to_pandas()
    returns = res.market.close.pct_change()
    binding = 0
    for date in solved:
        w = weights.loc[date].to_numpy()
        active = w - (bench if bench is not None else 0.0)
        risk = np.sqrt(active @ np.cov(returns.loc[:date].iloc[-60:].to_numpy(), rowvar=False) @ active * year)
        assert risk <= cap * (1 + 1e-8), date
        binding += bool(risk > cap * (1 - 1e-6))
    assert binding >= len(solved) // 2  # the cap binds: on another year these books would sit off it


def test_capped_optimizer_periods_default_follows_the_calendar(folder):
    step = _CAPPED["frontier_point"][0]
    default, explicit = _capped_run(folder, step), _capped_run(folder, step, YEAR)
    assert np.array_equal(default.weights.values, explicit.weights.values)


def test_factor_min_variance_annualises_its_model_over_the_run_year(folder):
    def run(periods):
        step = {"type": "factor_min_variance", "n_factors": 1, "window": 60, "max_weight": 1.0}
        if periods is not None:
            step["periods"] = periods
        return simlab.run(_crypto_config(folder, [step]))

    default, trading = run(None), run(252)
    # minimum variance is scale free: the same weights (to the solver's tolerance), the ex-ante
    # volatility over a 365-day year
    np.testing.assert_allclose(default.weights.values, trading.weights.values, atol=1e-6)
    vol, vol_252 = (res.diagnostics.query("key == 'ex_ante_vol'")["value"].to_numpy() for res in (default, trading))
    assert np.isfinite(vol).sum() >= 15
    np.testing.assert_allclose(vol, vol_252 * np.sqrt(YEAR / 252), rtol=1e-6)


# --- pyfolio's positions ------------------------------------------------------------------------


def test_to_pyfolio_positions_add_up_to_nav_for_coins(coins):
    _, positions, _ = coins.to_pyfolio()
    np.testing.assert_allclose(positions.sum(axis=1).to_numpy(), coins.nav.iloc[:, 0].to_numpy(), rtol=1e-12)


def test_to_pyfolio_refuses_a_book_holding_futures():
    from pathlib import Path

    from simlab.errors import DataError

    config = Path(__file__).resolve().parents[2] / "configs" / "experiments" / "futures_trend.yaml"
    res = simlab.run(str(config))
    with pytest.raises(DataError, match=r"to_pyfolio: scenario 'hold' holds futures \(SF.*cash holds only its margin"):
        res.to_pyfolio("hold")


def test_borrow_fee_accrues_over_365_days(folder):
    pipeline = [{"type": "long_short_top_n", "top_n": 1, "bottom_n": 1, "long": 0.5, "short": 0.5}]
    res = simlab.run(_crypto_config(folder, pipeline, strategy={"type": "momentum", "lookback": 60, "skip": 5},
                                    costs={"type": "borrow", "rate": 0.0365}))
    trades = res.trades
    held = trades.pivot_table(index="date", columns="asset", values="shares", aggfunc="sum").reindex(
        res.dates).fillna(0.0).cumsum()
    carried = held.shift(1).fillna(0.0)  # the shares carried into each day
    short_value = (-carried).clip(lower=0.0).mul(res.market.close.loc[res.dates, held.columns]).sum(axis=1)
    quiet = ~res.dates.isin(trades["date"])
    paid = res.daily_costs().iloc[:, 0]
    assert short_value[quiet].sum() > 0
    np.testing.assert_allclose(paid[quiet].to_numpy(), (0.0365 / YEAR * short_value[quiet]).to_numpy(), rtol=1e-9)
