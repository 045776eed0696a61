"""``simlab report``: the book's daily risk report, one self-contained HTML page and its Markdown.

Everything is measured at the close of the book's state (``PortfolioState.as_of``):

* positions: shares, price, value, weight, the last rebalance's target, the drift from it,
  average cost and unrealized profit;
* exposures: weight by sector and cash; the book's beta to the benchmark, the OLS slope of the
  current weights' daily returns on the benchmark's over the last ``window`` days;
* risk: the current weights' volatility decomposed by asset and by sector
  (:func:`simlab.analysis.risk_decomposition.volatility_contributions`, sample covariance of
  the last ``window`` daily returns, annualized by sqrt(252)); predicted volatility (that same
  number) next to the realized volatility of the book's NAV over the last ``realized_window`` days;
* the monitors' view: the last regime label, the constraint utilizations and fallbacks the
  last pipeline run recorded, the recent alerts;
* orders waiting for their fill day.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simlab.analysis.html_page import Section, html_table, paragraph, standalone_page
from simlab.analysis.risk_decomposition import by_group, volatility_contributions
from simlab.data.market import MarketData
from simlab.errors import DataError
from simlab.production.state import PortfolioState, StateError

ANNUAL = 252


@dataclass
class BookReport:
    """The report's tables and numbers; :meth:`html` and :meth:`markdown` render them."""

    title: str
    facts: dict
    positions: pd.DataFrame
    sectors: pd.DataFrame
    risk_assets: pd.DataFrame
    risk_sectors: pd.DataFrame
    volatility: pd.DataFrame
    monitors: pd.DataFrame
    alerts: pd.DataFrame
    pending: pd.DataFrame
    notes: list = field(default_factory=list)

    def tables(self) -> list[tuple[str, str, pd.DataFrame]]:
        """(anchor, heading, table) in page order."""
        return [("positions", "Positions, targets and drift", self.positions),
                ("exposures", "Sector exposure", self.sectors),
                ("risk-assets", "Risk decomposition by asset", self.risk_assets),
                ("risk-sectors", "Risk decomposition by sector", self.risk_sectors),
                ("volatility", "Realized and predicted volatility, beta", self.volatility),
                ("monitors", "Regime and constraint utilization", self.monitors),
                ("alerts", "Recent alerts", self.alerts),
                ("pending", "Pending orders", self.pending)]

    def html(self) -> str:
        """The page: no script, no external resource."""
        sections = [Section(a, t, html_table(f, index=False) if len(f) else paragraph("none"))
                    for a, t, f in self.tables()]
        if self.notes:
            sections.append(Section("notes", "Notes", "".join(paragraph(n) for n in self.notes)))
        return standalone_page(self.title, self.facts, sections)

    def markdown(self) -> str:
        """The same content as GitHub-flavoured Markdown."""
        out = [f"# {self.title}", ""] + [f"- **{k}**: {v}" for k, v in self.facts.items()]
        for _, heading, frame in self.tables():
            out += ["", f"## {heading}", "", _md_table(frame) if len(frame) else "none"]
        if self.notes:
            out += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def book_report(state: PortfolioState, md: MarketData, history: list[dict], as_of, *, window: int = 252,
                realized_window: int = 63, recent: int = 20) -> BookReport:
    """The report of the book in ``state`` (see the module docstring); ``as_of`` must be its close."""
    day = pd.Timestamp(as_of)
    if pd.Timestamp(state.as_of) != day:
        raise StateError(f"the book's state is at the close of {state.as_of}; --as-of {day.date()} is not it "
                         "(the report reads the current state only)")
    if day not in md.close.index:
        raise DataError(f"the data has no prices on {day.date()} for the report")
    missing = [a for a in state.assets if a not in md.close.columns]
    if missing:
        raise DataError(f"the book holds {', '.join(missing)}, which the data does not have")
    notes: list[str] = []
    positions = _positions(state, md, day)
    weights = positions.set_index("asset")["weight"]
    returns = md.close[state.assets].loc[:day].pct_change(fill_method=None).iloc[-window:]
    risk_assets, risk_sectors, predicted = _risk(weights, returns, md, notes)
    beta = _beta(weights, returns, md, day, notes)
    realized = _realized(state, realized_window)
    volatility = pd.DataFrame([
        {"measure": "predicted volatility (annualized)", "value": _pct(predicted),
         "basis": f"current weights, sample covariance of {len(returns)} daily returns"},
        {"measure": "realized volatility (annualized)", "value": _pct(realized),
         "basis": f"the book's NAV, last {realized_window} daily returns"},
        {"measure": "beta to the benchmark", "value": "n/a" if beta is None else f"{beta:.3f}",
         "basis": f"current weights, OLS on {len(returns)} daily returns"}])
    facts = {"book": f"{state.book.get('config')} / {state.book.get('scenario')}", "as of": state.as_of,
             "NAV": f"{state.nav:,.2f}", "cash": f"{state.cash:,.2f} ({state.cash / state.nav:.2%})",
             "drawdown": f"{1 - state.nav / state.peak_nav:.2%}" if state.peak_nav > 0 else "n/a",
             "last rebalance": state.last_rebalance or "none", "state version": state.version}
    return BookReport(f"{state.book.get('config')}: risk report {state.as_of}", facts, _fmt_positions(positions),
                      _sectors(weights, md, notes), risk_assets, risk_sectors, volatility,
                      _monitors(state, history), _alerts(state, recent), _pending(state), notes)


def _positions(state: PortfolioState, md: MarketData, day) -> pd.DataFrame:
    price = md.close.loc[day, state.assets].to_numpy(float)
    shares = np.asarray(state.holdings, dtype=float)
    value = shares * price
    target = np.asarray(state.last_targets or [0.0] * len(shares), dtype=float)
    basis = np.asarray(state.cost_basis, dtype=float)
    frame = pd.DataFrame({"asset": state.assets, "shares": shares, "price": price, "value": value,
                          "weight": value / state.nav, "target": target, "drift": value / state.nav - target,
                          "cost_basis": basis, "unrealized": np.where(shares != 0, (price - basis) * shares, 0.0)})
    return frame[(frame["shares"] != 0) | (frame["target"] != 0)].reset_index(drop=True)


def _fmt_positions(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in ("shares", "price", "value", "cost_basis", "unrealized"):
        out[col] = out[col].map(lambda v: f"{v:,.2f}")
    for col in ("weight", "target"):
        out[col] = out[col].map(lambda v: f"{v:.2%}")
    out["drift"] = out["drift"].map(lambda v: f"{v:+.2%}")
    return out


def _sectors(weights: pd.Series, md: MarketData, notes: list) -> pd.DataFrame:
    if md.meta is None or "sector" not in md.meta.columns:
        notes.append("the data has no sector column (a universe file with sectors gives one): sectors are (none)")
    sector = _sector_of(weights.index, md)
    table = weights.groupby(sector).sum().sort_values(ascending=False)
    rows = [{"sector": s, "weight": f"{w:.2%}"} for s, w in table.items()]
    return pd.DataFrame(rows + [{"sector": "cash", "weight": f"{1 - weights.sum():.2%}"}])


def _sector_of(assets, md: MarketData) -> pd.Series:
    if md.meta is not None and "sector" in md.meta.columns:
        return md.meta["sector"].reindex(assets).fillna("(none)").astype(str)
    return pd.Series("(none)", index=assets)


def _risk(weights: pd.Series, returns: pd.DataFrame, md: MarketData, notes: list):
    held = weights[weights != 0]
    empty = pd.DataFrame(columns=["asset", "weight", "contribution", "percent"])
    if held.empty:
        notes.append("the book holds no position: no risk to decompose")
        return empty, empty.rename(columns={"asset": "sector"}), math.nan
    sample = returns[held.index].dropna()
    if len(sample) < 2:
        notes.append("fewer than two complete days of returns: the risk is not measured")
        return empty, empty.rename(columns={"asset": "sector"}), math.nan
    contrib = volatility_contributions(held, sample.cov())
    scale = math.sqrt(ANNUAL)
    assets = pd.DataFrame({"asset": contrib.index, "weight": contrib["weight"].map(lambda v: f"{v:.2%}"),
                           "contribution": (contrib["component"] * scale).map(lambda v: f"{v:.2%}"),
                           "percent": contrib["percent"].map(lambda v: f"{v:.1%}")})
    groups = by_group(contrib, _sector_of(contrib.index, md))
    sectors = pd.DataFrame({"sector": groups.index, "weight": groups["weight"].map(lambda v: f"{v:.2%}"),
                            "contribution": (groups["component"] * scale).map(lambda v: f"{v:.2%}"),
                            "percent": groups["percent"].map(lambda v: f"{v:.1%}")})
    return assets, sectors, float(contrib["component"].sum() * scale)


def _beta(weights: pd.Series, returns: pd.DataFrame, md: MarketData, day, notes: list) -> float | None:
    if md.benchmark is None:
        notes.append("no benchmark in the data: beta not measured")
        return None
    bench = md.benchmark.loc[:day].pct_change(fill_method=None).reindex(returns.index)
    book = returns.fillna(0.0).to_numpy() @ weights.reindex(returns.columns).fillna(0.0).to_numpy(float)
    ok = np.isfinite(bench.to_numpy()) & np.isfinite(book)
    if ok.sum() < 20:
        notes.append(f"only {int(ok.sum())} days with a benchmark return: beta not measured")
        return None
    x, y = bench.to_numpy()[ok], book[ok]
    return float(np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1))


def _realized(state: PortfolioState, window: int) -> float:
    navs = np.asarray(state.nav_values[-(window + 1):], dtype=float)
    if len(navs) < 3:
        return math.nan
    return float(np.std(navs[1:] / navs[:-1] - 1.0, ddof=1) * math.sqrt(ANNUAL))


def _monitors(state: PortfolioState, history: list[dict]) -> pd.DataFrame:
    rows = [{"item": "regime label (monitored detector)", "value": str(state.monitor.get("regime_label", "n/a"))}]
    runs = [r for r in history if r["event"] != "monitor"]
    if runs:
        last = runs[-1]
        rows.append({"item": f"last pipeline run ({last['as_of']})", "value": last["event"]})
        decided = [r for r in runs if (r.get("detail") or {}).get("flags")]
        if decided:
            rows.append({"item": "constraint readings of the last decision", "value": decided[-1]["as_of"]})
        for flag in (decided[-1]["detail"]["flags"] if decided else []):
            name = f"{flag['step']}.{flag['key']}" + (f" [{flag['asset']}]" if flag.get("asset") else "")
            value = flag.get("value")
            rows.append({"item": f"{flag.get('role')}: {name}", "value": "n/a" if value is None else f"{value:.3f}"})
    return pd.DataFrame(rows)


def _alerts(state: PortfolioState, recent: int) -> pd.DataFrame:
    rows = state.monitor.get("recent", [])[-recent:]
    return pd.DataFrame([{"time": a["time"], "level": a["level"], "kind": a["kind"], "message": a["message"]}
                         for a in reversed(rows)], columns=["time", "level", "kind", "message"])


def _pending(state: PortfolioState) -> pd.DataFrame:
    rows = []
    for entry in state.pending:
        targets = entry["order"]["targets"][0]
        for asset, w in zip(state.assets, targets):
            if w:
                rows.append({"due in (trading days)": entry["due_in"], "asset": asset, "target": f"{w:.2%}"})
    return pd.DataFrame(rows, columns=["due in (trading days)", "asset", "target"])


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2%}"


def _md_table(frame: pd.DataFrame) -> str:
    def cell(v) -> str:
        return html.unescape(str(v)).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
