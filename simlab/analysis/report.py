"""The HTML report of a run: one self-contained file a researcher reads.

:func:`write_report` writes ``report.html`` into the run folder (:func:`simlab.lab.store.save_run`
calls it). Figures are PNG images embedded as base64 ``data:`` URIs and the style sheet is
inline, so the file opens anywhere, offline, and can be mailed on its own. It holds no script.

This module decides what the report shows; :mod:`simlab.analysis.run_series` computes the
series it draws, :mod:`simlab.analysis.caveats` words the caveats and
:mod:`simlab.analysis.html_page` renders the page.

Sections, in order (``<section id=...>``, each with an ``<h2>``); those marked *where present*
appear only when the run has what they show:

``summary``          the metrics of each scenario next to the benchmark's
``equity``           value against the benchmark, normalized to 1, log scale
``drawdowns``        fall below the running peak
``worst-drawdowns``  the five deepest drawdowns per scenario in focus: peak, trough, recovery,
                     depth, length
``return-distribution``  histogram of daily returns with the 95% VaR and CVaR
``rolling-sharpe``   Sharpe ratio over the trailing year
``rolling-risk``     volatility and (with a benchmark) beta over the trailing year
``monthly-returns``  heatmap of monthly and yearly returns, per scenario in focus
``weights``          stacked weights over time, per scenario in focus
``turnover-costs``   trailing one-year turnover and cumulative costs
``trades``           fills per scenario: counts, traded value, costs, first and last fill
``regimes``          *where present*: regime shading (diagnostics key ``regime``) and every
                     constraint utilization the Steps report (diagnostics of role ``utilization``)
``attribution``      *where the data allows*: factor exposures (benchmark, Fama-French, factor
                     ETFs; Newey-West t-statistics), share of volatility by sector, Brinson-Fachler
                     by sector, and attribution by pipeline stage when the run's was computed
``claims``           *where present*: the claims of the experiment on trial
                     (:func:`simlab.analysis.claims.claims_table`), with their intervals
``sharpe-pairs``     *where given*: tests of equal Sharpe ratios, pair by pair
``caveats``          survivorship and other data caveats, proxy strategies, VIX proxy days,
                     fallbacks taken
``configuration``    the resolved config, the identity of the run

With more scenarios than ``detail`` (4), the per-scenario sections show the ``detail``
scenarios with the highest Sharpe ratio (the *focus*), and the report says so.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from simlab.analysis import metrics as _metrics
from simlab.analysis import plots
from simlab.analysis.caveats import caveats
from simlab.analysis.claims import claims_of, claims_table
from simlab.analysis.html_page import Section, figure, heatmap, html_table, page, paragraph
from simlab.analysis.run_series import (
    cumulative_costs,
    days_word,
    monthly_returns,
    periods_of,
    regime_labels,
    rolling_beta,
    rolling_sharpe,
    rolling_volatility,
    trade_table,
    trailing_turnover,
    utilization,
    worst_drawdowns,
)
from simlab.analysis.tables import format_cell, format_cells, format_number, sleeve_cells
from simlab.errors import SimlabError

__all__ = ["DETAIL", "MAX_TABLE", "SECTIONS", "Section", "build_report", "focus_scenarios", "judge_claims",
           "write_report"]

DETAIL = 4
"""Scenarios shown one by one (heatmaps, weights, regimes); the best by Sharpe ratio when more."""
MAX_TABLE = 12
"""Most scenarios in the summary table."""


@dataclass(frozen=True)
class _Inputs:
    """What the section builders read: the run and what was computed once for all of them."""

    result: object
    metrics: pd.DataFrame
    focus: tuple[str, ...]
    claims: pd.DataFrame | None
    claims_note: str
    claims_error: str | None
    pairs: pd.DataFrame | None
    attribution: object = None


# ----------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------


def write_report(result, path, **options) -> Path:
    """Write :func:`build_report` of ``result`` to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(result, **options), encoding="utf-8")
    return path


def build_report(result, *, claims: pd.DataFrame | None = None, pairs: pd.DataFrame | None = None,
                 detail: int = DETAIL, draws: int = 1000, attribution=None) -> str:
    """The report of a finished run as one self-contained HTML page.

    Parameters
    ----------
    result : Result
        A finished run.
    claims : DataFrame, optional
        A claims table already computed (:class:`simlab.lab.validate.Validation`'s ``table``); by default the claims of
        the experiment, if it states any, are judged here (:func:`judge_claims`).
    pairs : DataFrame, optional
        An equal-Sharpe table (:func:`simlab.analysis.claims.equal_sharpe_table`) to show.
    detail : int
        Scenarios shown one by one; the best by Sharpe ratio when there are more.
    draws : int
        Bootstrap resamples when the claims are judged here.
    attribution : Attribution, optional
        ``result.attribution()`` already computed (with its stages); by default the
        attribution that needs no further run is computed here.
    """
    table = result.metrics()
    note, error = "The claims table was given with the run.", None
    if claims is None:
        note = _judged_note(result, draws)
        try:
            claims = judge_claims(result, draws=draws)
        except SimlabError as err:
            error = f"The claims could not be judged: {err}"
    inputs = _Inputs(result, table, focus_scenarios(table, detail), claims, note, error, pairs, attribution)
    sections = [s for build in SECTIONS if (s := build(inputs)) is not None]
    return page(result, sections)


def judge_claims(result, draws: int = 1000) -> pd.DataFrame | None:
    """The claims table of ``result`` (:func:`simlab.analysis.claims.claims_table`), or None
    when its experiment states no claims.

    With more than :data:`MAX_TABLE` scenarios, a claim that names no scenario is judged on
    the :data:`MAX_TABLE` with the highest Sharpe ratio; their rows are those a judgement of
    every scenario gives (the DSR still counts every scenario as a trial). This is the
    report's one door to :mod:`simlab.analysis.claims`.
    """
    claims = claims_of(result.config)
    if not claims:
        return None
    if len(result.scenarios) > MAX_TABLE:
        best = focus_scenarios(result.metrics(), MAX_TABLE)
        claims = [claim if claim.scenario is not None else replace(claim, scenario=name)
                  for claim in claims for name in ([claim.scenario] if claim.scenario is not None else best)]
    return claims_table(result, claims, draws=draws)


def _judged_note(result, draws: int) -> str:
    seed = result.config.experiment.seed
    note = f"Judged when the report was written: {draws} bootstrap resamples, seed {seed}."
    if len(result.scenarios) > MAX_TABLE:
        note += (f" Claims that name no scenario are judged on the {MAX_TABLE} scenarios with the highest "
                 f"Sharpe ratio of {len(result.scenarios)}; simlab validate judges them all.")
    return note


def focus_scenarios(table: pd.DataFrame, detail: int) -> tuple[str, ...]:
    """The scenarios shown one by one: all of ``table``'s (a metrics table) when ``detail`` or
    fewer, else the ``detail`` with the highest Sharpe ratio, best first."""
    if len(table) <= detail:
        return tuple(table.index)
    best = table["sharpe"].sort_values(ascending=False, na_position="last", kind="stable")
    return tuple(best.index[:detail])


# ----------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------


def summary_section(inp: _Inputs) -> Section:
    """The metrics of each scenario (up to :data:`MAX_TABLE`) and of the benchmark."""
    res, table = inp.result, inp.metrics
    shown = table if len(table) <= MAX_TABLE else table.loc[list(focus_scenarios(table, MAX_TABLE))]
    columns = {name: shown.loc[name] for name in shown.index}
    if res.benchmark_returns is not None:
        bench = _metrics.summary(res.benchmark_returns.iloc[1:].rename(_benchmark_name(res)),
                                 risk_free=res.config.experiment.risk_free)
        columns[f"benchmark: {_benchmark_name(res)}"] = bench.iloc[0].reindex(table.columns)
    frame = pd.DataFrame(columns)
    text = format_cells(frame)
    note = "" if len(shown) == len(table) else paragraph(
        f"{_showing(len(shown), len(table))}; metrics.json in the run folder holds them all.")
    return Section("summary", "Summary", note + html_table(text, index_label="metric"))


def sleeves_section(inp: _Inputs) -> Section | None:
    """A book with sleeves: each sleeve's own metrics, profit and costs, and the netting saving."""
    res = inp.result
    if getattr(res, "sleeves", None) is None:
        return None
    note = paragraph(
        "Each sleeve is its own book at its share of the capital (its returns with the capital moved "
        "between sleeves taken out); the book trades the net of the sleeves' trades. pnl and contribution "
        "add up to the book's profit and total return; netting is what trading the net saved in costs.")
    return Section("sleeves", "Sleeves", note + html_table(sleeve_cells(res.sleeve_metrics()), "scenario / part"))


def equity_section(inp: _Inputs) -> Section:
    """Value against the benchmark, log scale."""
    res = inp.result
    bench = None if res.benchmark is None else res.benchmark.rename(_benchmark_name(res))
    fig = plots.equity_figure(res.nav, bench, log=True)
    return Section("equity", "Equity against the benchmark", figure(
        fig, "Value of each scenario and of the benchmark, normalized to 1 at the start, log scale",
        "Value normalized to 1 at the start, log scale; dashed: the benchmark."))


def drawdown_section(inp: _Inputs) -> Section:
    """Fall below the running peak."""
    fig = plots.drawdown_figure(inp.result.returns)
    return Section("drawdowns", "Drawdowns", figure(fig, "Drawdown of each scenario",
                                                    "Fall below the running peak (the peak includes the start)."))


def rolling_sharpe_section(inp: _Inputs) -> Section:
    """Sharpe ratio over the trailing year, with the benchmark's."""
    res = inp.result
    rf, year = res.config.experiment.risk_free, periods_of(res)
    sharpe = rolling_sharpe(res.returns, year, rf, periods=year)
    bench = None
    if res.benchmark_returns is not None:
        bench = rolling_sharpe(res.benchmark_returns, year, rf, periods=year).rename(_benchmark_name(res))
    fig = plots.rolling_sharpe_figure(sharpe, bench, window=year)
    return Section("rolling-sharpe", "Rolling one-year Sharpe ratio", figure(
        fig, "Rolling one-year Sharpe ratio of each scenario",
        f"Annualized Sharpe ratio over the trailing {year} {days_word(year)} (risk-free rate {rf:.2%})."))


def monthly_returns_section(inp: _Inputs) -> Section:
    """A heatmap table of monthly and yearly returns per scenario in focus."""
    parts = [_focus_note(inp), paragraph("Compounded returns in percent: green gains, red losses, coloured by the "
                                         "largest monthly move (the year column by the largest yearly one).")]
    for name in inp.focus:
        parts.append(f"<h3>{html.escape(str(name))}</h3>" + heatmap(monthly_returns(inp.result.returns[name])))
    return Section("monthly-returns", "Monthly returns", "".join(parts))


def weights_section(inp: _Inputs) -> Section:
    """Stacked weights over time per scenario in focus."""
    res = inp.result
    parts = [_focus_note(inp)]
    for name in inp.focus:
        frame = res.weights.sel(scenario=name).to_pandas()
        step = max(1, len(frame) // 800)
        frame = frame.iloc[np.r_[np.arange(0, len(frame) - 1, step), len(frame) - 1]]
        parts.append(figure(plots.weights_figure(frame, title=str(name)), f"Weights of {name} over time",
                            f"{name}: end-of-day weights, the largest ten assets by average weight; cash on top."))
    return Section("weights", "Weights over time", "".join(parts))


def turnover_costs_section(inp: _Inputs) -> Section:
    """Trailing turnover and cumulative costs, with a table of the totals."""
    res, table = inp.result, inp.metrics
    nav, traded, paid = res.nav, res.daily_traded_value(), res.daily_costs()
    fig = plots.turnover_costs_figure(trailing_turnover(traded, nav, periods_of(res)), cumulative_costs(paid, nav))
    counts = res.trades.groupby("scenario").size().reindex(table.index, fill_value=0)
    columns = ["annual_turnover", "total_costs", "cost_drag"] + [c for c in ("total_financing",) if c in table.columns]
    totals = table.reindex(columns=columns).assign(fills=counts)
    shown = totals.loc[list(focus_scenarios(table, MAX_TABLE))] if len(totals) > MAX_TABLE else totals
    body = figure(fig, "Trailing one-year turnover and cumulative costs of each scenario",
                  "Top: one-way turnover over the trailing year. Bottom: costs paid since the start, "
                  "as a fraction of NAV.")
    return Section("turnover-costs", "Turnover and costs", body + html_table(format_cells(shown.T), "metric"))


def worst_drawdowns_section(inp: _Inputs) -> Section:
    """The five deepest drawdowns of each scenario in focus: peak, trough, recovery, depth, length."""
    returns = _metrics.drop_start_day(inp.result.returns)
    parts = [_focus_note(inp), paragraph(
        "Deepest falls of compounded value below a running peak (the start is a peak): the last date at the "
        "peak, the trough, the first close back at the peak (blank while still below), the depth and the "
        f"{days_word(periods_of(inp.result))} from peak to recovery or to the end.")]
    for name in inp.focus:
        table = worst_drawdowns(returns[name], top=5)
        text = pd.DataFrame({
            "peak": table["peak"].map(_day), "trough": table["trough"].map(_day),
            "recovery": table["recovery"].map(_day), "depth": table["depth"].map(lambda v: f"{v:.2%}"),
            "days": table["days"].map(str)})
        parts.append(f"<h3>{html.escape(str(name))}</h3>" + html_table(text, index=False))
    return Section("worst-drawdowns", "Worst drawdowns", "".join(parts))


def distribution_section(inp: _Inputs) -> Section:
    """Histogram of daily returns per scenario in focus, with the 95% VaR and CVaR."""
    returns = _metrics.drop_start_day(inp.result.returns)[list(inp.focus)]
    var, cvar = _metrics.value_at_risk(returns), _metrics.cvar(returns)
    fig = plots.distribution_figure(returns, var, cvar)
    return Section("return-distribution", "Distribution of daily returns", _focus_note(inp) + figure(
        fig, "Histogram of the daily returns of each scenario",
        "Daily returns after the start day; dashed: historical 95% VaR, dotted: 95% CVaR (mean of the worst 5% "
        "of days)."))


def rolling_risk_section(inp: _Inputs) -> Section:
    """Volatility and beta to the benchmark over the trailing year."""
    res, year = inp.result, periods_of(inp.result)
    returns = _metrics.drop_start_day(res.returns)
    bench = None if res.benchmark_returns is None else res.benchmark_returns.iloc[1:].rename(_benchmark_name(res))
    beta = None if bench is None else rolling_beta(returns, bench, year)
    bench_vol = None if bench is None else rolling_volatility(bench, year, periods=year)
    fig = plots.rolling_risk_figure(rolling_volatility(returns, year, periods=year), beta, window=year,
                                    benchmark_volatility=bench_vol)
    caption = f"Annualized volatility over the trailing {year} {days_word(year)}" + (
        "; below, beta to the benchmark over the same window (1 = moves with it)." if bench is not None else ".")
    return Section("rolling-risk", "Rolling volatility and beta", figure(
        fig, "Rolling one-year volatility and beta of each scenario", caption))


def trades_section(inp: _Inputs) -> Section:
    """Fills of each scenario (up to :data:`MAX_TABLE`): counts, traded value, costs, first and last fill."""
    res, table = inp.result, inp.metrics
    names = list(focus_scenarios(table, MAX_TABLE))
    frame = trade_table(res.trades, names)
    text = pd.DataFrame({
        "fills": frame["fills"].map(str), "buys": frame["buys"].map(str), "sells": frame["sells"].map(str),
        "assets": frame["assets"].map(str), "traded value": frame["traded_value"].map(lambda v: f"{v:,.0f}"),
        "costs": frame["costs"].map(lambda v: f"{v:,.0f}"),
        "cost, bp of traded": frame["cost_bps"].map(lambda v: format_number(v, ".1f")),
        "first fill": frame["first"].map(_day), "last fill": frame["last"].map(_day)}, index=frame.index)
    note = "" if len(names) == len(table) else paragraph(f"{_showing(len(names), len(table))}.")
    note += paragraph("Every fill of the run (rebalances and delistings); trades.parquet in the run folder lists "
                      "them one by one.")
    return Section("trades", "Trades", note + html_table(text, "scenario"))


def regime_section(inp: _Inputs) -> Section | None:
    """Regime shading and constraint utilization, where the Steps report them."""
    res, parts = inp.result, []
    for name in inp.focus:
        regime, names = regime_labels(res, name)
        util = utilization(res, name)
        if regime is None and util is None:
            continue
        fig = plots.regime_figure(res.nav[name], regime, util, title=str(name), names=names)
        parts.append(figure(fig, f"Regimes and constraint utilization of {name}",
                            f"{name}: value with the regime of each decision shaded; below, each constraint's "
                            "utilization (1 = at its limit), held between decisions."))
    if not parts:
        return None
    return Section("regimes", "Regimes and constraint utilization", _focus_note(inp) + "".join(parts))


def attribution_section(inp: _Inputs) -> Section | None:
    """Factor exposures, volatility by sector, Brinson-Fachler and (when given) pipeline stages."""
    from simlab.analysis.attribution import attribution_of, report_tables

    att = inp.attribution
    if att is None:
        try:
            att = attribution_of(inp.result, scenarios=list(focus_scenarios(inp.metrics, MAX_TABLE)), holdings=False)
        except SimlabError as err:
            return Section("attribution", "Attribution", paragraph(f"Attribution could not be computed: {err}"))
    tables = report_tables(att, list(focus_scenarios(inp.metrics, MAX_TABLE)))
    if not tables:
        return None
    body = "".join(paragraph(title) + html_table(frame, label) for title, label, frame in tables)
    body += "".join(paragraph(f"Note: {n}") for n in att.notes)
    return Section("attribution", "Attribution", body)


def claims_section(inp: _Inputs) -> Section | None:
    """The claims on trial: estimate, bootstrap interval, PSR, DSR, MinTRL, walk-forward, verdict."""
    if inp.claims_error is not None:
        return Section("claims", "Claims on trial", paragraph(inp.claims_error))
    if inp.claims is None or inp.claims.empty:
        return None
    rows = [_claim_row(row) for _, row in inp.claims.iterrows()]
    text = pd.DataFrame(rows)
    verdicts = [f"verdict {str(v).lower()}" for v in inp.claims["verdict"]]
    note = paragraph(f"{inp.claims_note} Interval: stationary block bootstrap of the daily path (95% unless "
                     "stated otherwise). PSR: probability that the true Sharpe ratio meets the claim. DSR: deflated "
                     "Sharpe ratio over the trials. MinTRL: years of returns a PSR at the interval's confidence would "
                     "need. Walk-forward: the best scenario chosen on expanding windows, judged out of sample.")
    return Section("claims", "Claims on trial", note + html_table(text, row_classes=verdicts, index=False))


def _claim_row(row: pd.Series) -> dict[str, str]:
    m = row["metric"]
    return {
        "claim": row["claim"], "scenario": row["scenario"], "estimate": format_cell(m, row["estimate"]),
        "interval": f"[{format_cell(m, row['ci_low'])}, {format_cell(m, row['ci_high'])}]",
        "PSR": format_number(row["psr"]), "DSR": format_number(row["dsr"]) + f" ({int(row['trials'])} trials)",
        "MinTRL / years": f"{format_number(row['min_trl_years'], '.1f')} / {format_number(row['years'], '.1f')}",
        "walk-forward": (f"{format_cell(m, row['wf_estimate'])} "
                         f"({int(row['wf_met'])}/{int(row['wf_windows'])} windows)"),
        "verdict": row["verdict"], "reason": row["reason"],
    }


def pairs_section(inp: _Inputs) -> Section | None:
    """Tests of equal Sharpe ratios, pair by pair, when a table was given."""
    if inp.pairs is None or inp.pairs.empty:
        return None
    p = inp.pairs
    text = pd.DataFrame({
        "scenario a": p["scenario_a"], "scenario b": p["scenario_b"], "Sharpe a": p["sharpe_a"].map(format_number),
        "Sharpe b": p["sharpe_b"].map(format_number), "difference": p["difference"].map(format_number),
        "p-value": p["p_value"].map(format_number), "p (Holm)": p["p_holm"].map(format_number),
    })
    note = paragraph("Ledoit-Wolf test of equal Sharpe ratios (studentized block bootstrap); p-values adjusted "
                     "over the pairs by Holm's method.")
    return Section("sharpe-pairs", "Equal Sharpe ratios, pair by pair", note + html_table(text, index=False))


def caveats_section(inp: _Inputs) -> Section:
    """Caveats of the data, the strategies and the regime inputs."""
    items = caveats(inp.result) or ["No caveat was recorded for this run's data, strategies or regime inputs."]
    body = "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in items) + "</ul>"
    return Section("caveats", "Caveats", body)


def config_section(inp: _Inputs) -> Section:
    """The resolved config (every default filled) and its hash."""
    cfg = inp.result.config
    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    body = paragraph(f"Config hash {cfg.config_hash()}. Rerunning this config reproduces the run.")
    body += f"<details><summary>Resolved config</summary><pre>{html.escape(text)}</pre></details>"
    return Section("configuration", "Configuration", body)


SECTIONS = (summary_section, sleeves_section, equity_section, drawdown_section, worst_drawdowns_section, distribution_section,
            rolling_sharpe_section, rolling_risk_section, monthly_returns_section, weights_section,
            turnover_costs_section, trades_section, regime_section, attribution_section, claims_section, pairs_section,
            caveats_section, config_section)
"""The section builders, in the order the report shows them; each gives a Section or None."""


# ----------------------------------------------------------------------------
# Words shared by the sections
# ----------------------------------------------------------------------------


def _focus_note(inp: _Inputs) -> str:
    n = len(inp.metrics)
    if len(inp.focus) == n:
        return ""
    return paragraph(_showing(len(inp.focus), n) + ".")


def _showing(shown: int, n: int) -> str:
    what = "the scenario" if shown == 1 else f"the {shown} scenarios"
    return f"Showing {what} with the highest Sharpe ratio of {n}"


def _day(value) -> str:
    """A date as ``YYYY-MM-DD``; blank for NaT."""
    return "" if pd.isna(value) else str(pd.Timestamp(value).date())


def _benchmark_name(result) -> str:
    return str(result.config.experiment.data.benchmark or "benchmark")
