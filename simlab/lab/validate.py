"""Claim validation: run an experiment and put the claims it states on trial.

The statistics (bootstrap intervals, PSR, DSR, MinTRL, walk-forward, the verdict rules)
judge a finished run in :mod:`simlab.analysis.claims`; this module runs the experiment
(:func:`validate`), words the verdicts (:func:`format_validation`) and writes
``claims.csv`` and ``claims.json`` into the run folder (:meth:`Validation.write`).
``simlab validate`` prints them and exits with :meth:`Validation.exit_code`: 1 when a claim
fails (with ``--strict``, also when one is inconclusive).

A claimed minimum active return names no horizon, so the report adds, beside the whole-run
verdict, the share of every rolling 1-, 3-, 5- and 10-year window whose cumulative active
return meets the bound (:func:`simlab.analysis.horizons.horizon_table`), and the annualised
active return and information ratio of the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.analysis.claims import FAIL, INCONCLUSIVE, PASS, claims_of, claims_table, equal_sharpe_table, worst_verdict
from simlab.analysis.horizons import horizon_table
from simlab.analysis.metrics import drop_start_day
from simlab.analysis.run_series import periods_of
from simlab.analysis.tables import format_estimate
from simlab.lab.run import run

__all__ = ["Validation", "format_validation", "validate"]


@dataclass(frozen=True)
class Validation:
    """A run with its claims judged: what ``simlab validate`` prints and saves."""

    result: object
    table: pd.DataFrame
    pairs: pd.DataFrame
    draws: int
    seed: int
    confidence: float = 0.95
    train_days: int = 756
    test_days: int = 252
    horizons: pd.DataFrame | None = None

    def verdicts(self) -> dict[str, str]:
        """Claim label -> its verdict, the worst of its rows."""
        out: dict[str, str] = {}
        for label, verdict in zip(self.table["claim"], self.table["verdict"]):
            out[label] = worst_verdict([out.get(label, PASS), verdict])
        return out

    def exit_code(self, strict: bool = False) -> int:
        """1 when a claim fails (with ``strict``, also when one is inconclusive), else 0."""
        worst = worst_verdict(self.verdicts().values())
        return int(worst == FAIL or (strict and worst == INCONCLUSIVE))

    def write(self, folder) -> None:
        """``claims.csv`` (the table) and ``claims.json`` (settings, verdicts, table, pairs)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(folder / "claims.csv", index=False)
        doc = {"experiment": self.result.config.name, "seed": self.seed, "draws": self.draws,
               "confidence": self.confidence, "verdicts": self.verdicts(), "exit_code": self.exit_code(),
               "claims": _records(self.table), "equal_sharpe": _records(self.pairs),
               "active_return_horizons": [] if self.horizons is None else _records(self.horizons)}
        (folder / "claims.json").write_text(json.dumps(doc, indent=2))

    def to_text(self) -> str:
        """The report ``simlab validate`` prints (:func:`format_validation`)."""
        return format_validation(self)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-able dicts; NaN and infinities become None."""
    def clean(v):
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        return v.item() if isinstance(v, np.generic) else v
    return [{k: clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def validate(config, *, draws: int = 1000, pair_draws: int = 999, seed: int | None = None,
             confidence: float = 0.95) -> Validation:
    """Run an experiment and judge its claims (:func:`~simlab.analysis.claims.claims_table`,
    :func:`~simlab.analysis.claims.equal_sharpe_table`)."""
    result = run(config)
    seed = result.config.experiment.seed if seed is None else seed
    year = periods_of(result)
    table = claims_table(result, draws=draws, seed=seed, confidence=confidence, train_days=3 * year, test_days=year)
    pairs = equal_sharpe_table(result, draws=pair_draws, seed=seed)
    return Validation(result, table, pairs, draws, seed, confidence, train_days=3 * year, test_days=year,
                      horizons=active_return_horizons(result))


def active_return_horizons(result) -> pd.DataFrame | None:
    """Rolling-window shares for each claimed minimum active return (None without one or a benchmark)."""
    bench = result.benchmark_returns
    claims = [c for c in claims_of(result.config) if c.metric == "active_return" and c.min is not None]
    if bench is None or not claims:
        return None
    frames = []
    for claim in claims:
        returns = result.returns if claim.scenario is None else result.returns[[claim.scenario]]
        frame = horizon_table(drop_start_day(returns), bench.iloc[1:], claim.min, periods=periods_of(result))
        frame.insert(0, "bound", claim.min)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def format_validation(v: Validation) -> str:
    """Header, the claims table, each claim's verdict and reasons, the pairs, the caveats."""
    res = v.result
    n = len(res.dates)
    lines = [
        f"claims on trial: {res.config.name}",
        (f"  {len(res.scenarios)} scenario(s), {res.dates[0].date()} .. {res.dates[-1].date()} ({n:,} days, "
        f"{n / periods_of(res):.1f} years), seed {v.seed}"),
        (f"  interval: {v.confidence:.0%} stationary block bootstrap, {v.draws:,} draws, mean block (days) "
        "from the data (Politis-White)"),
        "  PSR (against the claim), DSR (over the trials), MinTRL (years): Bailey-Lopez de Prado",
        (f"  walk-forward: best scenario on an expanding window (first {min(v.train_days, n // 2)} days), "
         f"held the next {v.test_days}; (windows met/windows)"),
        "",
    ]
    if v.table.empty:
        lines += ["no claims: the config has no claims: block", ""]
    else:
        lines += [_claims_text(v.table), ""]
        for label, verdict in v.verdicts().items():
            lines.append(f"{label}: {verdict}")
            lines += [f"  {r.scenario}: {r.verdict}: {r.reason}" for r in v.table.itertuples() if r.claim == label]
        lines.append("")
    if v.horizons is not None and not v.horizons.empty:
        lines += [_horizons_text(v), ""]
    if not v.pairs.empty:
        lines += [(f"equal Sharpe ratios (Ledoit-Wolf 2008): p studentized circular block bootstrap "
                  f"({int(v.pairs['draws'].iloc[0]):,} draws), p_hac HAC normal test, p_holm Holm-adjusted p"),
                  _pairs_text(v.pairs), ""]
    caveats = res.market.provenance.get("caveats") or []
    if caveats:
        lines += ["caveats:", *(f"  - {c}" for c in caveats)]
    worst = worst_verdict(v.verdicts().values(), default="no claims")
    lines.append(f"verdict: {worst} (exit code {v.exit_code()})")
    return "\n".join(lines)


def _claims_text(table: pd.DataFrame) -> str:
    def fmt(col):
        return [format_estimate(m, x) for m, x in zip(table["metric"], table[col])]

    def prob(col):
        return [f"{x:.3f}" if np.isfinite(x) else "-" for x in table[col]]

    out = pd.DataFrame({
        "claim": table["claim"], "scenario": table["scenario"], "estimate": fmt("estimate"),
        "95% interval": [f"[{a}, {b}]" for a, b in zip(fmt("ci_low"), fmt("ci_high"))],
        "block": [f"{b:.1f}" for b in table["block_length"]],
        "PSR": prob("psr"), "DSR": prob("dsr"), "trials": table["trials"].astype(int),
        "MinTRL": [x if x in ("-", "inf") else f"{float(x):.1f}" for x in fmt("min_trl_years")],
        "walk-forward": [f"{w} ({k}/{n})" if n else "-"
                         for w, k, n in zip(fmt("wf_estimate"), table["wf_met"], table["wf_windows"])],
        "verdict": table["verdict"],
    })
    return out.to_string(index=False)


def _pairs_text(pairs: pd.DataFrame) -> str:
    out = pairs[["scenario_a", "scenario_b"]].copy()
    for col in ["sharpe_a", "sharpe_b", "difference", "se", "p_value_hac", "p_value", "p_holm"]:
        out[col.replace("_value", "")] = pairs[col].map("{:.3f}".format)
    out["block"] = pairs["block_length"]
    return out.to_string(index=False)


def _horizons_text(v: Validation) -> str:
    """The active-return claim over stated horizons, and the run's annualised figures."""
    metrics = v.result.metrics()
    lines = ["active return over stated horizons (the claim names none): every rolling window of the length,",
             "stepped daily (overlapping, not independent); share = windows whose cumulative active return",
             "meets the bound; median_annual = the median window's CAGR difference"]
    h = v.horizons
    out = pd.DataFrame({
        "bound": [f"{x:+.0%}" for x in h["bound"]], "scenario": h["scenario"], "years": h["years"],
        "windows": h["windows"], "share": [f"{x:.1%}" if np.isfinite(x) else "-" for x in h["share"]],
        **{c: [f"{x:+.1%}" if np.isfinite(x) else "-" for x in h[c]]
           for c in ("worst", "median", "best", "median_annual")},
    })
    lines.append(out.to_string(index=False))
    if "annual_active_return" in metrics.columns:
        lines.append("whole run: " + "; ".join(
            f"{name}: cumulative {row.active_return:+.0%}, annualised {row.annual_active_return:+.2%}, "
            f"information ratio {row.information_ratio:.2f}" for name, row in metrics.iterrows()))
    return "\n".join(lines)
