"""Hypothetical stress scenarios: shocks to returns, volatility and correlation where history has none.

History holds no stagflation in the built-in data, and a rate shock or a liquidity crunch
may be worse than any window it does hold. A hypothetical scenario takes a *base window*
of real daily returns (the run's last ``days`` trading days, every asset and the
benchmark) and applies three shocks to it, in this order:

1. **correlation** ``kappa`` in [0, 1): each day's demeaned returns ``x`` are split into
   the cross-sectional average of the assets ``c_t`` and the rest ``e``; the rest is
   shrunk, ``x' = c + sqrt(1 - kappa) * e``, so that pairwise correlations rise toward 1
   (the benchmark takes the same map with the assets' ``c``);
2. **volatility** ``vol``: each series is rescaled to ``vol`` times its own standard
   deviation in the base window;
3. **return** ``drift``: every series' mean becomes ``drift / 252`` a day, in place of
   the window's own mean (which would otherwise carry a rally into a crash scenario).

The same shocks hit every asset: the scenarios stand for market-wide events, not for
rotations between asset classes (a file of scenarios can say otherwise only through
these three numbers). The book on trial is each scenario's last end-of-day weights of the
run, held at constant weights through the shocked window (rest in cash at 0%). For each
scenario the report gives the book's return and maximum drawdown over the window, and the
utilization of each risk constraint under the *stress* limits of the run's
``regime_constraints`` Step (its defaults when the pipeline has none), with the risk
model (correlations, covariance, betas, the benchmark's volatility) estimated on the
shocked window.

Defaults (:data:`DEFAULT_SCENARIOS`):

=================  =====  =======  =====  =====
name               days   drift    vol    kappa
=================  =====  =======  =====  =====
stagflation        252    -20%     1.5    0.3
rate shock         63     -30%     2.0    0.5
liquidity crunch   21     -60%     3.0    0.8
=================  =====  =======  =====  =====
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from simlab.config.loader import read_model_list
from simlab.config.schema import StrictModel
from simlab.errors import ConfigError
from simlab.risk.constraint_set import PROJECTION_ORDER, ConstraintSet, RiskModel
from simlab.risk.constraints import sector_index

PERIODS = 252


class Shock(StrictModel):
    """One hypothetical scenario: a base window of ``days`` and its three shocks."""

    name: str
    days: int = Field(ge=10)
    drift: float = Field(gt=-5, lt=5)
    vol: float = Field(gt=0, le=10)
    correlation: float = Field(ge=0, lt=1)


DEFAULT_SCENARIOS: tuple[Shock, ...] = (
    Shock(name="stagflation", days=252, drift=-0.20, vol=1.5, correlation=0.3),
    Shock(name="rate shock", days=63, drift=-0.30, vol=2.0, correlation=0.5),
    Shock(name="liquidity crunch", days=21, drift=-0.60, vol=3.0, correlation=0.8),
)


def load_shocks(path: str | Path) -> tuple[Shock, ...]:
    """Scenarios from a YAML file holding ``hypothetical: [{name, days, drift, vol, correlation}]``."""
    return read_model_list(path, "hypothetical", Shock)


def shock_returns(returns: np.ndarray, benchmark: np.ndarray, shock: Shock) -> tuple[np.ndarray, np.ndarray]:
    """Shocked (T, N) asset and (T,) benchmark returns (module docstring); NaN stays NaN.

    ``Shock(drift=d, vol=1, correlation=0)`` keeps every day's deviation from the mean and
    sets the mean to ``d / 252``.
    """
    panel = np.column_stack([returns, benchmark])
    with np.errstate(invalid="ignore"):
        x = panel - np.nanmean(panel, axis=0)
        c = np.nanmean(x[:, :-1], axis=1, keepdims=True)
        c = np.where(np.isfinite(c), c, 0.0)
        mixed = c + np.sqrt(1.0 - shock.correlation) * (x - c)
        sd, sd_mixed = np.nanstd(x, axis=0, ddof=1), np.nanstd(mixed, axis=0, ddof=1)
        scale = np.divide(shock.vol * sd, sd_mixed, out=np.zeros_like(sd), where=sd_mixed > 0)
    out = mixed * scale + shock.drift / PERIODS
    return out[:, :-1], out[:, -1]


def _risk_model(assets, meta, r: np.ndarray, b: np.ndarray, linkage: str) -> RiskModel:
    """Correlations, covariance, betas and benchmark volatility of the shocked window."""
    ok = np.isfinite(r).all(axis=0)
    n = r.shape[1]
    cov = np.full((n, n), np.nan)
    if ok.any():
        cov[np.ix_(ok, ok)] = np.atleast_2d(np.cov(r[:, ok], rowvar=False))
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
        bd = b - b.mean()
        beta = ((r - r.mean(axis=0)) * bd[:, None]).sum(axis=0) / (bd * bd).sum()
    sector, names = sector_index(assets, meta)
    return RiskModel(tuple(assets), sector, names, corr, np.where(ok, beta, np.nan), cov,
                     float(np.std(b, ddof=1)), linkage)


def hypothetical_table(result, steps, shocks=DEFAULT_SCENARIOS) -> pd.DataFrame:
    """One row per hypothetical scenario and run scenario: return, drawdown, utilizations.

    ``steps`` are the run scenarios' ``regime_constraints`` Steps (their stress limits).
    """
    market = result.market
    if market.benchmark is None:
        raise ConfigError("simlab stress: hypothetical scenarios shock the benchmark too; set data.benchmark")
    returns = result.market.close.pct_change(fill_method=None)
    bench = market.benchmark.pct_change(fill_method=None)
    last = result.dates[-1]
    weights = result.weights.sel(date=last).values  # (B, N)
    records = []
    for shock in shocks:
        window = returns.loc[:last].iloc[-shock.days:]
        base_b = bench.reindex(window.index).to_numpy(dtype=float)
        r, b = shock_returns(window.to_numpy(dtype=float), np.nan_to_num(base_b), shock)
        for k, scenario in enumerate(result.scenarios):
            step = steps[k]
            w = weights[k]
            daily = np.nan_to_num(r) @ w
            nav = np.cumprod(1.0 + daily)
            model = _risk_model(market.assets, market.meta, np.where(np.isfinite(r), r, np.nan), b, step.linkage)
            cs = ConstraintSet(step.state_limits("stress", 1), model, step.curve, correlation=step.correlation_check)
            checks = cs.check(w[None, :], factors=False)
            rec = {"scenario_name": shock.name, "kind": "hypothetical", "scenario": scenario, "days": shock.days,
                   "drift": shock.drift, "vol": shock.vol, "correlation": shock.correlation,
                   "return": float(nav[-1] - 1.0),
                   "max_drawdown": float(np.max(1.0 - nav / np.maximum.accumulate(np.r_[1.0, nav])[1:])),
                   "benchmark_return": float(np.prod(1.0 + b) - 1.0)}
            rec.update({f"max_util_{name}": float(checks[name].utilization[0]) for name in PROJECTION_ORDER})
            records.append(rec)
    return pd.DataFrame.from_records(records)


def robustness(historical: pd.DataFrame, hypothetical: pd.DataFrame, max_loss: float = 0.25) -> pd.DataFrame:
    """Per run scenario, the share of stress scenarios it passes: the robustness score.

    A stress scenario (a historical window the run covers, or a hypothetical one) is
    passed when no risk constraint goes past its stress limit (every ``max_util_*`` at
    most 1; an undefined one counts as within) and the book loses no more than
    ``max_loss`` over it. Columns: ``scenario, passed, total, score, worst, worst_return``.
    """
    util_cols = [f"max_util_{name}" for name in PROJECTION_ORDER]
    frames = []
    if historical is not None and not historical.empty:
        h = historical[historical["coverage"] != "outside"]
        frames.append(h.assign(scenario_name=h["window"])[["scenario", "scenario_name", "return", *util_cols]])
    if hypothetical is not None and not hypothetical.empty:
        frames.append(hypothetical[["scenario", "scenario_name", "return", *util_cols]])
    if not frames:
        return pd.DataFrame(columns=["scenario", "passed", "total", "score", "worst", "worst_return"])
    all_ = pd.concat(frames, ignore_index=True)
    util = all_[util_cols].to_numpy(dtype=float)
    within = ~(np.nan_to_num(util, nan=0.0) > 1.0 + 1e-9).any(axis=1)
    loss_ok = ~(all_["return"].to_numpy(dtype=float) < -max_loss)
    all_["passed"] = within & loss_ok
    rows = []
    for scenario, group in all_.groupby("scenario", sort=False):
        worst = group.loc[group["return"].idxmin()] if group["return"].notna().any() else None
        rows.append({"scenario": scenario, "passed": int(group["passed"].sum()), "total": len(group),
                     "score": float(group["passed"].mean()),
                     "worst": "" if worst is None else worst["scenario_name"],
                     "worst_return": np.nan if worst is None else float(worst["return"])})
    return pd.DataFrame(rows)


def format_hypothetical(table: pd.DataFrame, score: pd.DataFrame, max_loss: float) -> str:
    """The hypothetical table and the robustness score, as text."""
    short = {"single_name": "name", "sector": "sector", "correlation": "corr", "gross": "gross",
             "beta": "beta", "volatility": "vol"}
    cols = {"scenario_name": "hypothetical", "scenario": "scenario", "days": "days"}
    shown = table[list(cols)].rename(columns=cols)
    shown["shocks"] = [f"drift {d:+.0%}/yr, vol x{v:g}, corr {c:g}"
                       for d, v, c in zip(table["drift"], table["vol"], table["correlation"])]
    for c, label in (("return", "return"), ("max_drawdown", "max dd"), ("benchmark_return", "bench")):
        shown[label] = table[c].map(lambda v: "" if pd.isna(v) else f"{v:+.2%}")
    for name in PROJECTION_ORDER:
        shown[f"max {short[name]}"] = table[f"max_util_{name}"]
    lines = ["hypothetical scenarios (the run's last weights through a shocked copy of its last days):",
             shown.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="")]
    s = score.copy()
    s["score"] = s["score"].map(lambda v: f"{v:.0%}")
    s["worst_return"] = s["worst_return"].map(lambda v: "" if pd.isna(v) else f"{v:+.2%}")
    lines += ["", (f"robustness score: share of stress scenarios (historical windows covered + hypothetical) "
                   f"passed: every constraint within its stress limit and a loss of at most {max_loss:.0%}"),
              s.to_string(index=False)]
    return "\n".join(lines)
