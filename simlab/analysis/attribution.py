"""Attribution of a finished run: factor exposures, risk decomposition, Brinson, holdings.

Reads a :class:`~simlab.engine.result.Replay` and never runs anything; attribution by
pipeline stage, which runs the pipeline's prefixes, lives one layer up in
:mod:`simlab.lab.stage_attribution`.

>>> att = attribution_of(result)                     # doctest: +SKIP
>>> att.factors["market"]                             # scenario x (alpha, betas, t-stats, R²)  # doctest: +SKIP
>>> att.risk                                          # scenario x sector: share of volatility   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.analysis import brinson, factor_regression, risk_decomposition, slippage
from simlab.analysis.run_series import periods_of
from simlab.errors import DataError

RISK_WINDOW = 252
"""Daily returns in the risk table's sample by default (a year); :func:`attribution_of` takes a year of the
run's calendar (252, or 365 on ``data.calendar: every_day``)."""
BETA_WINDOW = 252
"""Daily returns in the holdings' beta and volatility and the rolling beta (a year), likewise."""


@dataclass
class Attribution:
    """What a run's return and risk came from; every table is labelled by scenario.

    Attributes
    ----------
    factors : dict[str, DataFrame]
        Factor set name -> scenario x (alpha_ann, t(alpha), beta:F, t(F), r2, nobs, lags).
    risk : DataFrame
        Long table (scenario, level, name, weight, volatility, var, cvar): component
        contributions of the last day's book over the trailing year's daily returns, by
        asset and by sector, each group adding to the scenario's ``total`` row.
    brinson : DataFrame
        Scenario x (portfolio, benchmark, active, allocation, selection, interaction,
        sum_of_effects, realized, trading_and_costs), linked over the rebalance periods.
    brinson_by_sector : dict[str, DataFrame]
        Scenario -> sectors x linked effects.
    holdings : DataFrame
        Long table (date, scenario, key, value) at every rebalance: sector weights
        (``sector:NAME``), ``beta``, ``volatility`` (ex-ante, annualized), ``cash``.
    stages : DataFrame or None
        Attribution by pipeline stage (filled by :mod:`simlab.lab.stage_attribution`).
    rolling_beta : DataFrame or None
        Date x scenario: beta on the benchmark over the trailing year (None without a benchmark).
    slippage : DataFrame or None
        Per scenario: fills, mean/p50/p90 of estimated, realized and slippage bps
        (:mod:`simlab.analysis.slippage`), when the run has a realized-cost model.
    notes : list[str]
        What could not be computed and why (said out loud, never dropped silently).
    """

    factors: dict[str, pd.DataFrame]
    risk: pd.DataFrame
    brinson: pd.DataFrame
    brinson_by_sector: dict[str, pd.DataFrame]
    holdings: pd.DataFrame
    stages: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    slippage: pd.DataFrame | None = None
    rolling_beta: pd.DataFrame | None = None

    def format(self) -> str:
        """The attribution as terminal text (see :func:`format_attribution`)."""
        return format_attribution(self)


def attribution_of(replay, factor_sets: tuple[str, ...] = ("market", "ff3", "etf"),
                   benchmark_weights: pd.DataFrame | None = None, scenarios: list[str] | None = None,
                   holdings: bool = True) -> Attribution:
    """Every attribution of ``replay`` that its data allows (see :class:`Attribution`).

    ``scenarios`` limits the work to those scenarios (default all); ``holdings=False``
    skips the holdings exposures at every rebalance (the report does not show them).
    """
    notes: list[str] = []
    year = periods_of(replay)
    chosen = list(replay.scenarios) if scenarios is None else list(scenarios)
    returns = _trading_returns(replay)[chosen]
    factors = {}
    if str(replay.config.experiment.data.source).startswith("synthetic"):
        real = [s for s in factor_sets if s != "market"]
        if real:
            notes.append(f"factors {', '.join(real)}: left out: they are real-world returns, and this run's "
                         "market is synthetic")
        factor_sets = tuple(s for s in factor_sets if s == "market")
    for name in factor_sets:
        try:
            factors[name] = factor_regression.factor_exposures(returns, name, replay.benchmark_returns,
                                                               periods=year)
        except DataError as err:
            notes.append(f"factors {name}: {err}")
    sectors = _sectors(replay)
    if (sectors == "(unclassified)").all():
        notes.append("sectors: the data and universe give no sector, so risk and Brinson by sector have one "
                     "group; give a universe file with sectors")
    risk = risk_table(replay, sectors, notes, window=year, scenarios=chosen)
    brinson_summary, by_sector = brinson_tables(replay, sectors, benchmark_weights, scenarios=chosen)
    exposures = holdings_exposures(replay, sectors, window=year, scenarios=chosen,
                                   periods=year) if holdings else pd.DataFrame(
        columns=["date", "scenario", "key", "value"])
    slip = None
    trades = replay.trades
    if "estimated_cost" in trades.columns and trades["scenario"].isin(chosen).any():
        slip = slippage.slippage_summary(slippage.slippage_fills(trades[trades["scenario"].isin(chosen)]), "scenario")
    beta = None
    if replay.benchmark_returns is not None:
        beta = factor_regression.rolling_market_beta(returns, replay.benchmark_returns,
                                                     year)
    return Attribution(factors, risk, brinson_summary, by_sector, exposures, notes=notes, slippage=slip,
                       rolling_beta=beta)


def _trading_returns(replay) -> pd.DataFrame:
    """Daily returns from the first day any scenario holds something (the warm-up is cash)."""
    invested = replay.weights.sum("asset").to_pandas().abs().sum(axis=1) > 0
    first = invested.idxmax() if invested.any() else replay.dates[0]
    return replay.returns.loc[first:]


def _sectors(replay) -> pd.Series:
    meta = replay.market.meta
    if meta is None or "sector" not in meta.columns:
        return pd.Series("(unclassified)", index=list(replay.assets))
    return meta["sector"].reindex(list(replay.assets)).fillna("(unclassified)")


def asset_returns(replay) -> pd.DataFrame:
    """Daily simple returns of the assets' close over the simulated dates."""
    close = replay.market.close[list(replay.assets)]
    return close.pct_change(fill_method=None).loc[replay.dates[0]:replay.dates[-1]]


def risk_table(replay, sectors: pd.Series, notes: list[str], window: int = RISK_WINDOW,
               scenarios: list[str] | None = None) -> pd.DataFrame:
    """Component risk of each scenario's last book over the trailing ``window`` days, by asset and sector."""
    rets = asset_returns(replay).iloc[-window:]
    last = replay.weights.isel(date=-1).to_pandas()
    frames = []
    for scen in (replay.scenarios if scenarios is None else scenarios):
        w = last.loc[scen]
        w = w[w.abs() > 0]
        usable = rets[w.index].dropna(axis=1, how="any")
        w = w[usable.columns]
        if w.empty:
            notes.append(f"risk {scen}: no position on the last day with a full {window}-day history")
            continue
        try:
            table = risk_decomposition.decompose(w, usable)
        except DataError as err:
            notes.append(f"risk {scen}: {err}")
            continue
        assets_part = table.drop(index="total")
        sector_part = assets_part.groupby(sectors.reindex(assets_part.index).fillna("(unclassified)")).sum()
        for level, part in (("asset", assets_part), ("sector", sector_part), ("total", table.loc[["total"]])):
            frames.append(part.rename_axis("name").reset_index().assign(scenario=scen, level=level))
    if not frames:
        return pd.DataFrame(columns=["scenario", "level", "name", "weight", "volatility", "var", "cvar"])
    return pd.concat(frames, ignore_index=True)[["scenario", "level", "name", "weight", "volatility", "var", "cvar"]]


def rebalance_dates(replay, scenario: str) -> pd.DatetimeIndex:
    """Dates on which ``scenario`` traded (fills), as period starts for Brinson."""
    trades = replay.trades
    dates = pd.DatetimeIndex(trades.loc[trades["scenario"] == scenario, "date"].unique()).sort_values()
    return dates[dates < replay.dates[-1]]


def brinson_tables(replay, sectors: pd.Series, benchmark_weights: pd.DataFrame | None = None,
                   scenarios: list[str] | None = None):
    """Linked Brinson-Fachler over each scenario's rebalance periods (see :mod:`~simlab.analysis.brinson`).

    The benchmark is ``benchmark_weights`` (date x asset, as of each period start) or equal
    weight over the assets priced at the period start.
    """
    close = replay.market.close[list(replay.assets)]
    weights = replay.weights
    rows, by_sector = {}, {}
    for scen in (replay.scenarios if scenarios is None else scenarios):
        starts = rebalance_dates(replay, scen)
        if len(starts) == 0:
            continue
        w = weights.sel(scenario=scen).to_pandas().loc[starts]
        periodic = brinson.period_returns(close, starts, replay.dates[-1])
        bench = None
        if benchmark_weights is not None:
            bench = benchmark_weights.reindex(columns=w.columns).reindex(starts, method="ffill").fillna(0.0)
        else:
            priced = close.loc[starts].notna().astype(float)
            bench = priced.div(priced.sum(axis=1), axis=0)
        nav = replay.nav[scen]
        bounds = list(starts) + [replay.dates[-1]]
        realized = pd.Series([nav.loc[b] / nav.loc[a] - 1.0 for a, b in zip(bounds[:-1], bounds[1:])], index=starts)
        out = brinson.brinson_fachler(w, periodic, sectors, bench, realized)
        rows[scen], by_sector[scen] = out["summary"], out["by_sector"]
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("scenario"), by_sector


def holdings_exposures(replay, sectors: pd.Series, window: int = BETA_WINDOW,
                       scenarios: list[str] | None = None, periods: float = 252) -> pd.DataFrame:
    """At every rebalance of every scenario: sector weights, beta, ex-ante volatility, cash.

    Beta and volatility use the trailing ``window`` daily returns up to the rebalance date
    (point in time), over the days on which every held asset (and the benchmark) has a
    return: asset betas on the benchmark, and the sample covariance, annualized by ``periods``
    (daily returns a year: 252, or 365 on ``data.calendar: every_day``).
    """
    close = replay.market.close[list(replay.assets)]
    rets = close.pct_change(fill_method=None).to_numpy(float)
    bench = None
    if replay.market.benchmark is not None:
        bench = replay.market.benchmark.reindex(close.index).pct_change(fill_method=None).to_numpy(float)
    rows_of = pd.Series(np.arange(len(close)), index=close.index)
    labels = sectors.reindex(list(replay.assets)).fillna("(unclassified)")
    names = sorted(pd.unique(labels))
    onehot = (labels.to_numpy()[:, None] == np.asarray(names, dtype=object)[None, :]).astype(float)
    out: dict[str, list] = {"date": [], "scenario": [], "key": [], "value": []}
    for scen in (replay.scenarios if scenarios is None else scenarios):
        dates = rebalance_dates(replay, scen)
        w_all = replay.weights.sel(scenario=scen).to_pandas().loc[dates].to_numpy(float)
        for date, w in zip(dates, w_all):
            values = {f"sector:{k}": float(v) for k, v in zip(names, w @ onehot)}
            values["cash"] = 1.0 - float(w.sum())
            end = int(rows_of[date]) + 1
            values.update(_risk_exposures(w, rets[max(0, end - window):end],
                                          None if bench is None else bench[max(0, end - window):end], periods))
            out["date"] += [date] * len(values)
            out["scenario"] += [scen] * len(values)
            out["key"] += list(values)
            out["value"] += list(values.values())
    return pd.DataFrame(out)


def _risk_exposures(w: np.ndarray, rets: np.ndarray, bench: np.ndarray | None,
                    periods: float = 252) -> dict[str, float]:
    held = w != 0.0
    if not held.any():
        return {}
    x = rets[:, held]
    ok = np.isfinite(x).all(axis=1) & (np.ones(len(x), bool) if bench is None else np.isfinite(bench))
    if ok.sum() <= 20:
        return {}
    x, wv = x[ok], w[held]
    out = {"volatility": float(np.sqrt(wv @ np.atleast_2d(np.cov(x, rowvar=False)) @ wv * periods))}
    if bench is not None:
        b = bench[ok]
        bc = b - b.mean()
        betas = ((x - x.mean(axis=0)).T @ bc) / (bc @ bc)
        out["beta"] = float(betas @ wv)
    return out


def write_attribution(att: Attribution, folder) -> Path:
    """Write every table of ``att`` as CSV under ``folder``; returns the folder."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in att.factors.items():
        table.to_csv(folder / f"factors_{name}.csv")
    att.risk.to_csv(folder / "risk.csv", index=False)
    att.brinson.to_csv(folder / "brinson.csv")
    if att.brinson_by_sector:
        pd.concat(att.brinson_by_sector, names=["scenario", "sector"]).to_csv(folder / "brinson_by_sector.csv")
    att.holdings.to_csv(folder / "holdings_exposures.csv", index=False)
    if att.rolling_beta is not None:
        att.rolling_beta.to_csv(folder / "rolling_beta.csv")
    if att.stages is not None:
        att.stages.to_csv(folder / "stages.csv")
    if att.slippage is not None:
        att.slippage.to_csv(folder / "slippage.csv")
    return folder


def format_attribution(att: Attribution) -> str:
    """Factor exposures, risk by sector, Brinson and stages as terminal text."""
    parts = []
    for name, table in att.factors.items():
        parts.append(f"Factor exposures ({_FACTOR_TITLES.get(name, name)}; Newey-West t-stats)")
        parts.append(_fmt(table.drop(columns=["lags"], errors="ignore"), pct={"alpha_ann", "r2"}))
    if not att.risk.empty:
        sector = att.risk[att.risk["level"] == "sector"].pivot(index="name", columns="scenario", values="volatility")
        total = att.risk[att.risk["level"] == "total"].set_index("scenario")["volatility"]
        parts.append("Share of daily volatility by sector (last day's book, trailing year)")
        parts.append(_fmt((sector / total).T, pct=set(sector.index)))
    if not att.brinson.empty:
        parts.append("Brinson-Fachler by sector, cumulative since the first rebalance, periods linked (GRAP)")
        shown = att.brinson.drop(columns=["sum_of_effects", "realized"], errors="ignore")
        parts.append(_fmt(shown, pct=set(shown.columns)))
    if att.stages is not None:
        parts.append("Attribution by pipeline stage (each stage minus the one before)")
        parts.append(_fmt(att.stages, pct={"total_return", "cagr", "annual_volatility", "cost_drag",
                                           "d_cagr", "d_volatility", "d_cost_drag"}))
    if att.slippage is not None:
        parts.append("Slippage: realized against estimated cost, bps of traded value")
        parts.append(_fmt(att.slippage, pct=set()))
    parts.extend(f"note: {n}" for n in att.notes)
    return "\n\n".join(parts)


def report_tables(att: Attribution, scenarios: list[str]) -> list[tuple[str, str, pd.DataFrame]]:
    """(title, index label, table of strings) for the report, rows limited to ``scenarios``."""
    out = []
    for name, table in att.factors.items():
        shown = table.loc[[s for s in scenarios if s in table.index]].drop(columns=["lags"], errors="ignore")
        out.append((f"Factor exposures: {_FACTOR_TITLES.get(name, name)}; t-statistics with Newey-West errors.",
                    "scenario", _cells(shown, {"alpha_ann", "r2"})))
    if not att.risk.empty:
        risk = att.risk[att.risk["scenario"].isin(scenarios)]
        sector = risk[risk["level"] == "sector"].pivot(index="scenario", columns="name", values="volatility")
        total = risk[risk["level"] == "total"].set_index("scenario")["volatility"]
        out.append(("Share of daily volatility by sector: the last day's book over the trailing year "
                    "(component contributions, adding to 100%).", "scenario",
                    _cells(sector.div(total, axis=0), set(sector.columns))))
    if not att.brinson.empty:
        b = att.brinson.loc[[s for s in scenarios if s in att.brinson.index]].drop(columns=["sum_of_effects"])
        out.append(("Brinson-Fachler by sector against equal weight (or the given benchmark weights), cumulative "
                    "since the first rebalance, periods linked with GRAP factors so the effects add to the active "
                    "return; trading_and_costs is the realized return less the buy-and-hold return of the "
                    "holdings.", "scenario", _cells(b, set(b.columns))))
    if att.slippage is not None:
        out.append(("Slippage: realized against estimated cost, in bps of traded value.", "scenario",
                    _cells(att.slippage.loc[[s for s in scenarios if s in att.slippage.index]], set())))
    if att.stages is not None:
        st = att.stages.loc[[s for s in scenarios if s in att.stages.index.get_level_values(0)]]
        st.index = [f"{a} | {b}" for a, b in st.index]
        out.append(("Attribution by pipeline stage: each prefix of the pipeline run in one batch; d_ columns "
                    "are a stage's metric minus the previous stage's.", "scenario | stage",
                    _cells(st, {"total_return", "cagr", "annual_volatility", "cost_drag", "d_cagr",
                                "d_volatility", "d_cost_drag"})))
    return out


def _cells(table: pd.DataFrame, pct: set) -> pd.DataFrame:
    out = pd.DataFrame(index=table.index)
    for col in table.columns:
        fmt = "{:.2%}" if col in pct else ("{:.0f}" if col in ("nobs", "fills") else "{:.3f}")
        out[str(col)] = ["" if pd.isna(v) else fmt.format(v) for v in table[col].astype(float)]
    return out


_FACTOR_TITLES = {"market": "market = benchmark, daily", "ff3": "Fama-French 3, monthly excess",
                  "etf": "factor ETFs, daily"}


def _fmt(table: pd.DataFrame, pct: set) -> str:
    out = table.astype(object).copy()
    for col in table.columns:
        fmt = "{:.2%}" if col in pct else ("{:.0f}" if col in ("nobs", "fills") else "{:.3f}")
        out[col] = [("" if not isinstance(v, (int, float, np.number)) or pd.isna(v) else fmt.format(v))
                    if not isinstance(v, str) else v for v in table[col]]
    with pd.option_context("display.width", 250, "display.max_columns", 60, "display.max_colwidth", 40):
        return out.to_string()
