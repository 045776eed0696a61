"""The HTML report of a run: one self-contained file a researcher reads.

:func:`write_report` writes ``report.html`` into the run folder (:func:`simlab.lab.store.save_run`
calls it). Figures are PNG images embedded as base64 ``data:`` URIs and the style sheet is
inline, so the file opens anywhere, offline, and can be mailed on its own. It holds no script.

Sections, in order (``<section id=...>``, each with an ``<h2>``); those marked *where present*
appear only when the run has what they show:

``summary``          the metrics of each scenario next to the benchmark's
``equity``           value against the benchmark, normalized to 1, log scale
``drawdowns``        fall below the running peak
``rolling-sharpe``   Sharpe ratio over the trailing year
``monthly-returns``  heatmap of monthly and yearly returns, per scenario in focus
``weights``          stacked weights over time, per scenario in focus
``turnover-costs``   trailing one-year turnover and cumulative costs
``regimes``          *where present*: regime shading (diagnostics key ``regime``) and every
                     constraint utilization the Steps report (diagnostics of role ``utilization``)
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

import base64
import html
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib import colormaps
from matplotlib.colors import to_hex

import simlab
from simlab.analysis import metrics as _metrics
from simlab.analysis import plots
from simlab.contract.roles import Role
from simlab.errors import SimlabError

__all__ = ["SECTIONS", "Section", "build_report", "caveats", "cumulative_costs", "focus_scenarios", "judge_claims",
           "monthly_returns", "regime_labels", "rolling_sharpe", "trailing_turnover", "utilization", "write_report"]

DETAIL = 4
"""Scenarios shown one by one (heatmaps, weights, regimes); the best by Sharpe ratio when more."""
MAX_TABLE = 12
"""Most scenarios in the summary table."""
WINDOW = 252
"""Trading days in the rolling windows (one year)."""
DPI = 90
"""Resolution of the embedded figures (a 10-inch figure is 900 pixels wide)."""
PERCENT = {"total_return", "cagr", "annual_volatility", "max_drawdown", "annual_turnover", "cost_drag",
           "active_return", "tracking_error", "hit_rate"}
UTIL_PREFIX = "util_"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Section:
    """One part of the report: its anchor, its heading and its HTML body."""

    id: str
    title: str
    body: str


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
                 detail: int = DETAIL, draws: int = 1000) -> str:
    """The report of a finished run as one self-contained HTML page.

    Parameters
    ----------
    result : Result
        A finished run.
    claims : DataFrame, optional
        A claims table already computed (``Validation.table``); by default the claims of
        the experiment, if it states any, are judged here (:func:`judge_claims`).
    pairs : DataFrame, optional
        An equal-Sharpe table (:func:`simlab.analysis.claims.equal_sharpe_table`) to show.
    detail : int
        Scenarios shown one by one; the best by Sharpe ratio when there are more.
    draws : int
        Bootstrap resamples when the claims are judged here.
    """
    table = result.metrics()
    note, error = "The claims table was given with the run.", None
    if claims is None:
        note = _judged_note(result, draws)
        try:
            claims = judge_claims(result, draws=draws)
        except SimlabError as err:
            error = f"The claims could not be judged: {err}"
    inputs = _Inputs(result, table, focus_scenarios(table, detail), claims, note, error, pairs)
    sections = [s for build in SECTIONS if (s := build(inputs)) is not None]
    return _page(result, sections)


def judge_claims(result, draws: int = 1000) -> pd.DataFrame | None:
    """The claims table of ``result`` (:func:`simlab.analysis.claims.claims_table`), or None
    when its experiment states no claims.

    With more than :data:`MAX_TABLE` scenarios, a claim that names no scenario is judged on
    the :data:`MAX_TABLE` with the highest Sharpe ratio; their rows are those a judgement of
    every scenario gives (the DSR still counts every scenario as a trial). This is the
    report's one door to :mod:`simlab.analysis.claims`.
    """
    from simlab.analysis.claims import claims_of, claims_table

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
# Data the sections draw
# ----------------------------------------------------------------------------


def rolling_sharpe(returns, window: int = WINDOW, risk_free: float = 0.0, periods: float = 252):
    """Annualized Sharpe ratio over the trailing ``window`` days (NaN before a full window).

    ``risk_free`` is an annual rate, as in :func:`simlab.analysis.metrics.sharpe`; the
    deviation has ``ddof=1``.
    """
    excess = returns - ((1.0 + risk_free) ** (1.0 / periods) - 1.0)
    roll = excess.rolling(window, min_periods=window)
    std = roll.std(ddof=1)
    return (roll.mean() / std.where(std > 0)) * np.sqrt(periods)


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Compounded returns per month: index years, columns months 1..12 and ``year``."""
    r = returns.dropna()
    grouped = (1.0 + r).groupby([r.index.year, r.index.month]).prod() - 1.0
    table = grouped.unstack().reindex(columns=range(1, 13))
    table["year"] = (1.0 + r).groupby(r.index.year).prod() - 1.0
    table.index.name = "year"
    return table


def _previous_nav(nav: pd.DataFrame) -> pd.DataFrame:
    """NAV at the previous close; the first day uses its own NAV."""
    return nav.shift(1).fillna(nav)


def trailing_turnover(traded_value: pd.DataFrame, nav: pd.DataFrame, window: int = WINDOW) -> pd.DataFrame:
    """One-way turnover over the trailing ``window`` days: sum of ``0.5 * traded / NAV_prev``.

    The convention of :func:`simlab.analysis.metrics.annual_turnover`; the first year sums
    what has been traded so far.
    """
    return (0.5 * traded_value / _previous_nav(nav)).rolling(window, min_periods=1).sum()


def cumulative_costs(costs: pd.DataFrame, nav: pd.DataFrame) -> pd.DataFrame:
    """Costs paid since the start, each day's over the previous close's NAV, summed."""
    return (costs / _previous_nav(nav)).cumsum()


def _scalar_diagnostics(result, wanted) -> pd.DataFrame:
    """Per-scenario diagnostics (no asset) whose key satisfies ``wanted(key)``."""
    diag = result.diagnostics
    if diag.empty:
        return diag
    keys = [k for k in diag["key"].unique() if wanted(str(k))]
    return diag[diag["key"].isin(keys) & diag["asset"].isna()]


def _role_diagnostics(result, role: Role) -> pd.DataFrame:
    """Per-scenario diagnostics (no asset) of the declared ``role`` (none from a run saved without roles)."""
    diag = result.diagnostics
    if diag.empty or "role" not in diag:
        return diag.iloc[:0]
    return diag[(diag["role"] == role) & diag["asset"].isna()]


def _daily(rows: pd.DataFrame, dates: pd.DatetimeIndex, columns: str) -> pd.DataFrame:
    """Decision-day values held until the next decision, on every date of the run."""
    wide = rows.pivot_table(index="date", columns=columns, values="value", aggfunc="last", sort=False)
    return wide.sort_index().reindex(dates, method="ffill")


def _step_name(step: str) -> str:
    """``3:vix_regime`` -> ``vix_regime``."""
    return step.split(":", 1)[-1]


def regime_labels(result, scenario: str) -> tuple[pd.Series | None, dict[int, str]]:
    """Daily regime label of ``scenario`` (key ``regime`` of the first Step reporting one),
    and legend names of the labels (``regime 2, stress`` where the Step reports ``stress``)."""
    rows = _scalar_diagnostics(result, lambda k: k in ("regime", "stress"))
    rows = rows[rows["scenario"] == scenario]
    if not (rows["key"] == "regime").any():
        return None, {}
    step = rows.loc[rows["key"] == "regime", "step"].iloc[0]
    wide = _daily(rows[rows["step"] == step], result.dates, "key")
    label = wide["regime"]
    names = {}
    for k in np.unique(label.dropna()):
        stressed = "stress" in wide and bool((wide.loc[label == k, "stress"] > 0).any())
        names[int(k)] = f"regime {int(k)}" + (", stress" if stressed else "")
    return label, names


def utilization(result, scenario: str) -> pd.DataFrame | None:
    """Daily constraint utilization of ``scenario``: every diagnostics value of role ``utilization``.

    Columns are the keys (a ``util_`` prefix dropped; a key ``utilization`` is named after its
    Step), prefixed by the Step's name when several Steps report; None when no Step reports one.
    """
    rows = _role_diagnostics(result, Role.UTILIZATION)
    rows = rows[rows["scenario"] == scenario]
    if rows.empty:
        return None
    several = rows["step"].nunique() > 1
    key = rows["key"].str.removeprefix(UTIL_PREFIX)
    step = rows["step"].map(_step_name)
    label = np.where(key == "utilization", step, (step + ":" + key) if several else key)
    return _daily(rows.assign(label=label), result.dates, "label")


# ----------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------


def summary_section(inp: _Inputs) -> Section:
    """The metrics of each scenario (up to :data:`MAX_TABLE`) and of the benchmark."""
    res, table = inp.result, inp.metrics
    shown = table if len(table) <= MAX_TABLE else table.loc[list(focus_scenarios(table, MAX_TABLE))]
    columns = {name: shown.loc[name] for name in shown.index}
    if res.benchmark_returns is not None:
        bench = _metrics.summary(res.benchmark_returns.rename(_benchmark_name(res)),
                                 risk_free=res.config.experiment.risk_free)
        columns[f"benchmark: {_benchmark_name(res)}"] = bench.iloc[0].reindex(table.columns)
    frame = pd.DataFrame(columns)
    text = _format_metrics(frame)
    note = "" if len(shown) == len(table) else _p(
        f"{_showing(len(shown), len(table))}; metrics.json in the run folder holds them all.")
    return Section("summary", "Summary", note + _table(text, index_label="metric"))


def equity_section(inp: _Inputs) -> Section:
    """Value against the benchmark, log scale."""
    res = inp.result
    bench = None if res.benchmark is None else res.benchmark.rename(_benchmark_name(res))
    fig = plots.equity_figure(res.nav, bench, log=True)
    return Section("equity", "Equity against the benchmark", _img(
        fig, "Value of each scenario and of the benchmark, normalized to 1 at the start, log scale",
        "Value normalized to 1 at the start, log scale; dashed: the benchmark."))


def drawdown_section(inp: _Inputs) -> Section:
    """Fall below the running peak."""
    fig = plots.drawdown_figure(inp.result.returns)
    return Section("drawdowns", "Drawdowns", _img(fig, "Drawdown of each scenario",
                                                  "Fall below the running peak (the peak includes the start)."))


def rolling_sharpe_section(inp: _Inputs) -> Section:
    """Sharpe ratio over the trailing year, with the benchmark's."""
    res = inp.result
    rf = res.config.experiment.risk_free
    sharpe = rolling_sharpe(res.returns, WINDOW, rf)
    bench = None
    if res.benchmark_returns is not None:
        bench = rolling_sharpe(res.benchmark_returns, WINDOW, rf).rename(_benchmark_name(res))
    fig = plots.rolling_sharpe_figure(sharpe, bench, window=WINDOW)
    return Section("rolling-sharpe", "Rolling one-year Sharpe ratio", _img(
        fig, "Rolling one-year Sharpe ratio of each scenario",
        f"Annualized Sharpe ratio over the trailing {WINDOW} trading days (risk-free rate {rf:.2%})."))


def monthly_returns_section(inp: _Inputs) -> Section:
    """A heatmap table of monthly and yearly returns per scenario in focus."""
    parts = [_focus_note(inp), _p("Compounded returns in percent: green gains, red losses, coloured by the "
                                  "largest monthly move (the year column by the largest yearly one).")]
    for name in inp.focus:
        parts.append(f"<h3>{html.escape(str(name))}</h3>" + _heatmap(monthly_returns(inp.result.returns[name])))
    return Section("monthly-returns", "Monthly returns", "".join(parts))


def _heatmap(table: pd.DataFrame) -> str:
    """:func:`monthly_returns` as an HTML table whose cells are coloured by their value."""
    months = table[list(range(1, 13))]
    colors = pd.concat([_colors(months), _colors(table[["year"]])], axis=1)
    head = '<th class="label">year</th>' + "".join(f"<th>{m}</th>" for m in (*MONTHS, "Year"))
    rows = []
    for year, values in table.iterrows():
        cells = "".join(f'<td style="background:{c}">{"" if np.isnan(v) else f"{100 * v:.1f}"}</td>'
                        for v, c in zip(values, colors.loc[year]))
        rows.append(f'<tr><th class="label">{year}</th>{cells}</tr>')
    return f'<table class="heatmap"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _colors(frame: pd.DataFrame) -> pd.DataFrame:
    """Hex colours of a diverging map centred on 0, scaled by the largest absolute value."""
    values = frame.to_numpy(dtype="float64")
    scale = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
    scale = scale if scale > 0 else 1.0
    rgba = colormaps["RdYlGn"](0.5 + 0.5 * np.clip(np.nan_to_num(values) / scale, -1, 1) * 0.85)
    hexes = np.array([to_hex(c) for c in rgba.reshape(-1, 4)]).reshape(values.shape)
    return pd.DataFrame(np.where(np.isnan(values), "#ffffff", hexes), index=frame.index, columns=frame.columns)


def weights_section(inp: _Inputs) -> Section:
    """Stacked weights over time per scenario in focus."""
    res = inp.result
    parts = [_focus_note(inp)]
    for name in inp.focus:
        frame = res.weights.sel(scenario=name).to_pandas()
        step = max(1, len(frame) // 800)
        frame = frame.iloc[np.r_[np.arange(0, len(frame) - 1, step), len(frame) - 1]]
        parts.append(_img(plots.weights_figure(frame, title=str(name)), f"Weights of {name} over time",
                          f"{name}: end-of-day weights, the largest ten assets by average weight; cash on top."))
    return Section("weights", "Weights over time", "".join(parts))


def turnover_costs_section(inp: _Inputs) -> Section:
    """Trailing turnover and cumulative costs, with a table of the totals."""
    res, table = inp.result, inp.metrics
    nav, traded, paid = res.nav, res.daily_traded_value(), res.daily_costs()
    fig = plots.turnover_costs_figure(trailing_turnover(traded, nav), cumulative_costs(paid, nav))
    counts = res.trades.groupby("scenario").size().reindex(table.index, fill_value=0)
    totals = table.reindex(columns=["annual_turnover", "total_costs", "cost_drag"]).assign(fills=counts)
    shown = totals.loc[list(focus_scenarios(table, MAX_TABLE))] if len(totals) > MAX_TABLE else totals
    body = _img(fig, "Trailing one-year turnover and cumulative costs of each scenario",
                "Top: one-way turnover over the trailing year. Bottom: costs paid since the start, "
                "as a fraction of NAV.")
    return Section("turnover-costs", "Turnover and costs", body + _table(_format_metrics(shown.T), "metric"))


def regime_section(inp: _Inputs) -> Section | None:
    """Regime shading and constraint utilization, where the Steps report them."""
    res, parts = inp.result, []
    for name in inp.focus:
        regime, names = regime_labels(res, name)
        util = utilization(res, name)
        if regime is None and util is None:
            continue
        fig = plots.regime_figure(res.nav[name], regime, util, title=str(name), names=names)
        parts.append(_img(fig, f"Regimes and constraint utilization of {name}",
                          f"{name}: value with the regime of each decision shaded; below, each constraint's "
                          "utilization (1 = at its limit), held between decisions."))
    if not parts:
        return None
    return Section("regimes", "Regimes and constraint utilization", _focus_note(inp) + "".join(parts))


def claims_section(inp: _Inputs) -> Section | None:
    """The claims on trial: estimate, bootstrap interval, PSR, DSR, MinTRL, walk-forward, verdict."""
    if inp.claims_error is not None:
        return Section("claims", "Claims on trial", _p(inp.claims_error))
    if inp.claims is None or inp.claims.empty:
        return None
    rows = [_claim_row(row) for _, row in inp.claims.iterrows()]
    text = pd.DataFrame(rows)
    verdicts = [f"verdict {str(v).lower()}" for v in inp.claims["verdict"]]
    note = _p(f"{inp.claims_note} Interval: stationary block bootstrap of the daily path (95% unless stated "
              "otherwise). PSR: probability that the true Sharpe ratio meets the claim. DSR: deflated Sharpe "
              "ratio over the trials. MinTRL: years of returns a PSR at the interval's confidence would need. "
              "Walk-forward: the best scenario chosen on expanding windows, judged out of sample.")
    return Section("claims", "Claims on trial", note + _table(text, row_classes=verdicts, index=False))


def _claim_row(row: pd.Series) -> dict[str, str]:
    m = row["metric"]
    return {
        "claim": row["claim"], "scenario": row["scenario"], "estimate": _fmt(m, row["estimate"]),
        "interval": f"[{_fmt(m, row['ci_low'])}, {_fmt(m, row['ci_high'])}]",
        "PSR": _num(row["psr"]), "DSR": _num(row["dsr"]) + f" ({int(row['trials'])} trials)",
        "MinTRL / years": f"{_num(row['min_trl_years'], '.1f')} / {_num(row['years'], '.1f')}",
        "walk-forward": f"{_fmt(m, row['wf_estimate'])} ({int(row['wf_met'])}/{int(row['wf_windows'])} windows)",
        "verdict": row["verdict"], "reason": row["reason"],
    }


def pairs_section(inp: _Inputs) -> Section | None:
    """Tests of equal Sharpe ratios, pair by pair, when a table was given."""
    if inp.pairs is None or inp.pairs.empty:
        return None
    p = inp.pairs
    text = pd.DataFrame({
        "scenario a": p["scenario_a"], "scenario b": p["scenario_b"], "Sharpe a": p["sharpe_a"].map(_num),
        "Sharpe b": p["sharpe_b"].map(_num), "difference": p["difference"].map(_num),
        "p-value": p["p_value"].map(_num), "p (Holm)": p["p_holm"].map(_num),
    })
    note = _p("Ledoit-Wolf test of equal Sharpe ratios (studentized block bootstrap); p-values adjusted "
              "over the pairs by Holm's method.")
    return Section("sharpe-pairs", "Equal Sharpe ratios, pair by pair", note + _table(text, index=False))


def caveats_section(inp: _Inputs) -> Section:
    """Caveats of the data, the strategies and the regime inputs."""
    items = caveats(inp.result) or ["No caveat was recorded for this run's data, strategies or regime inputs."]
    body = "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in items) + "</ul>"
    return Section("caveats", "Caveats", body)


def config_section(inp: _Inputs) -> Section:
    """The resolved config (every default filled) and its hash."""
    cfg = inp.result.config
    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    body = _p(f"Config hash {cfg.config_hash()}. Rerunning this config reproduces the run.")
    body += f"<details><summary>Resolved config</summary><pre>{html.escape(text)}</pre></details>"
    return Section("configuration", "Configuration", body)


SECTIONS = (summary_section, equity_section, drawdown_section, rolling_sharpe_section, monthly_returns_section,
            weights_section, turnover_costs_section, regime_section, claims_section, pairs_section,
            caveats_section, config_section)
"""The section builders, in the order the report shows them; each gives a Section or None."""


# ----------------------------------------------------------------------------
# Caveats
# ----------------------------------------------------------------------------


def caveats(result) -> list[str]:
    """Caveats of a run, in words: the data's own (survivorship...), proxy strategies, VIX
    proxy days, fallbacks the Steps took."""
    out = [f"Data: {c}" for c in result.market.provenance.get("caveats", [])]
    return out + _proxy_strategies(result) + _proxy_days(result) + _fallbacks(result)


def _proxy_strategies(result) -> list[str]:
    from simlab.config.registry import registry

    table = registry("strategy")
    users: dict[str, list[str]] = {}
    for scenario in result.config.scenarios:
        kind = (scenario.strategy or {}).get("type")
        if kind in table and getattr(table[kind], "proxy", False):
            users.setdefault(kind, []).append(scenario.name)
    return [f"Proxy strategy: {kind} ({_who(names, result)}) stands in for a quantity the data does not hold "
            f"(see {table[kind].__module__}.{table[kind].__qualname__}); read its results as those of the proxy."
            for kind, names in users.items()]


def _proxy_days(result) -> list[str]:
    rows = _role_diagnostics(result, Role.PROXY)
    out = []
    for (step, key), part in rows.groupby(["step", "key"], sort=False):
        used = part[part["value"] > 0]
        if used.empty:
            continue
        per = used.groupby("scenario").size().reindex(part["scenario"].unique(), fill_value=0)
        decisions = part.groupby("scenario")["date"].nunique().max()
        count = str(per.iloc[0]) if per.min() == per.max() else f"{per.min()} to {per.max()}"
        out.append(f"VIX proxy: {_step_name(step)} ({key}) used the realized-volatility proxy in place of the "
                   f"VIX on {count} of {decisions} decision days, between {used['date'].min().date()} "
                   f"and {used['date'].max().date()}.")
    return out


def _fallbacks(result) -> list[str]:
    rows = _role_diagnostics(result, Role.FALLBACK)
    out = []
    for (step, key), part in rows.groupby(["step", "key"], sort=False):
        used = part[part["value"] > 0]
        if not used.empty:
            out.append(f"Fallback: {_step_name(step)} reported {key} on {used['date'].nunique()} decision days "
                       f"({_who(list(used['scenario'].unique()), result)}).")
    return out


def _who(names: list[str], result) -> str:
    if len(names) == len(result.scenarios):
        return "every scenario" if len(names) > 1 else "the scenario"
    return ", ".join(map(str, names))


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:0 24px 48px;color:#1b1b1b;line-height:1.45}
header{border-bottom:2px solid #333;padding:16px 0 8px}h1{margin:0 0 4px}h2{margin-top:36px;
border-bottom:1px solid #ccc;padding-bottom:4px}.facts{display:grid;grid-template-columns:max-content 1fr;
gap:2px 16px;margin:8px 0}.facts dt{font-weight:600}.facts dd{margin:0}nav ol{columns:3;margin:0}
figure{margin:16px 0}figure img{max-width:100%;height:auto;display:block}figcaption{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.88em;margin:12px 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}thead th{max-width:10em;overflow-wrap:anywhere}td.label,th.label{text-align:left}tr.verdict td{text-align:left}
tr.pass td.v{background:#d9f2d9}tr.fail td.v{background:#f8d0cc}tr.inconclusive td.v{background:#fff1c2}
table.heatmap td{min-width:3.2em;font-variant-numeric:tabular-nums}h3{margin:18px 0 4px}
pre{background:#f7f7f7;padding:12px;overflow-x:auto;font-size:.85em}.note{color:#555}
footer{margin-top:40px;color:#777;font-size:.85em}
"""


def _page(result, sections: list[Section]) -> str:
    cfg, exp = result.config, result.config.experiment
    title = html.escape(cfg.name)
    facts = {"span": f"{result.dates[0].date()} to {result.dates[-1].date()} ({len(result.dates)} trading days)",
             "scenarios": f"{len(result.scenarios)}", "assets": f"{len(result.assets)}",
             "data": exp.data.source, "benchmark": exp.data.benchmark or "none",
             "schedule": f"{exp.schedule.frequency}, {exp.schedule.day} day",
             "costs": _inline(exp.costs) if exp.costs else "none", "run id": f"{cfg.name}-{cfg.config_hash()[:8]}"}
    header = (f"<header><h1>{title}</h1><p>{html.escape(exp.description or '')}</p><dl class=\"facts\">"
              + "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in facts.items()) + "</dl></header>")
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}: simlab report</title>'
            f"<style>{_STYLE}</style></head><body>{header}"
            f'<nav id="contents"><h2>Contents</h2><ol>{toc}</ol></nav><main>{body}</main>'
            f"<footer>simlab {html.escape(simlab.__version__)}</footer></body></html>\n")


def _img(fig, alt: str, caption: str) -> str:
    data = base64.b64encode(plots.figure_png(fig, dpi=DPI)).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _p(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _focus_note(inp: _Inputs) -> str:
    n = len(inp.metrics)
    if len(inp.focus) == n:
        return ""
    return _p(_showing(len(inp.focus), n) + ".")


def _showing(shown: int, n: int) -> str:
    what = "the scenario" if shown == 1 else f"the {shown} scenarios"
    return f"Showing {what} with the highest Sharpe ratio of {n}"


def _table(frame: pd.DataFrame, index_label: str = "", *, index: bool = True,
           row_classes: list[str] | None = None) -> str:
    """A table of strings; ``row_classes`` marks verdict rows (their last two cells)."""
    head = ([f'<th class="label">{html.escape(index_label)}</th>'] if index else [])
    head += [f"<th>{html.escape(str(c))}</th>" for c in frame.columns]
    rows = []
    for i, (label, values) in enumerate(frame.iterrows()):
        cls = row_classes[i] if row_classes else ""
        cells = [f'<th class="label">{html.escape(str(label))}</th>'] if index else []
        for col, v in values.items():
            kind = "v" if col == "verdict" else ("label" if col in ("claim", "scenario", "reason") else "")
            cells.append(f'<td class="{kind}">{html.escape(str(v))}</td>')
        rows.append(f'<tr class="{cls}">' + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _format_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Metrics as rows, formatted: percents, days, money or three decimals."""
    out = frame.astype(object).copy()
    for name in frame.index:
        out.loc[name] = [_fmt(str(name), v) for v in frame.loc[name]]
    return out


def _fmt(metric: str, value) -> str:
    if value is None or not np.isfinite(float(value)):
        return "n/a" if value is None or np.isnan(float(value)) else str(value)
    value = float(value)
    if metric in PERCENT:
        return f"{value:.2%}"
    if metric == "max_drawdown_duration":
        return f"{value:.0f} days"
    if metric in ("total_costs", "fills"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


def _num(value, spec: str = ".3f") -> str:
    value = float(value)
    if np.isnan(value):
        return "n/a"
    return "inf" if np.isinf(value) else format(value, spec)


def _inline(entry: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in entry.items())


def _benchmark_name(result) -> str:
    return str(result.config.experiment.data.benchmark or "benchmark")
