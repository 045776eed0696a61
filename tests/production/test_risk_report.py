"""The book's daily risk report: its numbers against independent computations, the CLI, Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from simlab.cli import main
from simlab.config.loader import load_config
from simlab.lab.run import load_market
from simlab.production.risk_report import book_report
from simlab.production.stores import open_store

BOOK = {
    "name": "report_book",
    "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index", "start": "2019-01-01",
             "end": "2019-03-29"},
    "universe": str(__import__("pathlib").Path(__file__).resolve().parents[2] / "configs" / "universes"
                    / "sp500_20.yaml"),
    "schedule": {"frequency": "monthly", "day": "first"},
    "execution": {"lag": 1, "init_cash": 1000000, "fractional": True},
    "costs": {"type": "flat", "bps": 5},
    "strategy": {"type": "momentum", "lookback": 126, "skip": 21},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 5},
                 {"type": "regime_sizing", "regime": {"type": "trend", "window": 100}}],
}
DAYS = ["2019-01-02", "2019-01-03", "2019-02-01", "2019-02-04", "2019-03-01", "2019-03-04", "2019-03-28"]
CHROMIUM = shutil.which("chromium") or (os.access("/usr/bin/chromium", os.X_OK) and "/usr/bin/chromium") or None


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A book run through the CLI on each decision day and the day after, the monitors after each run."""
    where = tmp_path_factory.mktemp("report")
    config = where / "book.yaml"
    config.write_text(yaml.safe_dump(BOOK))
    url = f"sqlite:///{where / 'book.db'}"
    for day in DAYS:
        assert main(["pipeline", str(config), "--state", url, "--as-of", day, "--execute",
                     "--out", str(where / "out")]) == 0
        assert main(["monitor", str(config), "--state", url, "--as-of", day,
                     "--alerts", str(where / "alerts.jsonl")]) in (0, 4)
    assert main(["report", "--state", url, "--as-of", DAYS[-1], "--config", str(config),
                 "--out", str(where / "report")]) == 0
    return where, config, url


def test_numbers_match_independent_computations(book):
    _, config, url = book
    store = open_store(url)
    state = store.load()
    md = load_market(load_config(config))
    report = book_report(state, md, store.history(), DAYS[-1])
    day = pd.Timestamp(DAYS[-1])
    weights = pd.Series(np.asarray(state.holdings) * md.close.loc[day, state.assets].to_numpy() / state.nav,
                        index=state.assets)
    returns = md.close[state.assets].loc[:day].pct_change(fill_method=None).iloc[-252:]
    held = weights[weights != 0]
    cov = returns[held.index].dropna().cov().to_numpy()
    predicted = np.sqrt(held.to_numpy() @ cov @ held.to_numpy() * 252)
    vol = report.volatility.set_index("measure")["value"]
    assert vol["predicted volatility (annualized)"] == f"{predicted:.2%}"
    bench = md.benchmark.loc[:day].pct_change(fill_method=None).reindex(returns.index)
    book_ret = returns.fillna(0).to_numpy() @ weights.to_numpy()
    ok = bench.notna().to_numpy()
    slope = np.polyfit(bench.to_numpy()[ok], book_ret[ok], 1)[0]
    assert vol["beta to the benchmark"] == f"{slope:.3f}"
    navs = np.asarray(state.nav_values)
    realized = np.std(navs[1:] / navs[:-1] - 1, ddof=1) * np.sqrt(252)
    assert vol["realized volatility (annualized)"] == f"{realized:.2%}"
    sector = md.meta["sector"]
    expected = held.groupby(sector.reindex(held.index)).sum()
    shown = report.sectors.set_index("sector")["weight"]
    for name, w in expected.items():
        assert shown[name] == f"{w:.2%}"
    assert shown["cash"] == f"{state.cash / state.nav:.2%}"
    drift = report.positions.set_index("asset")["drift"]
    for asset, w, t in zip(state.assets, weights, state.last_targets):
        if w or t:
            assert drift[asset] == f"{w - t:+.2%}"


def test_report_files_hold_every_section(book):
    where, _, _ = book
    page = (where / "report" / "report.html").read_text()
    text = (where / "report" / "report.md").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page.split("<footer>")[0]
    for heading in ("Positions, targets and drift", "Sector exposure", "Risk decomposition by asset",
                    "Risk decomposition by sector", "Realized and predicted volatility, beta",
                    "Regime and constraint utilization", "Recent alerts", "Pending orders"):
        assert f"<h2>{heading}</h2>" in page and f"## {heading}" in text
    assert "REBALANCE" in text  # the recent alerts the monitors stored
    lines = [json.loads(x) for x in (where / "alerts.jsonl").read_text().splitlines()]
    assert lines and {x["kind"] for x in lines} >= {"REBALANCE", "EXECUTION"}


def test_report_refuses_a_date_the_state_is_not_at(book, capsys):
    _, config, url = book
    assert main(["report", "--state", url, "--as-of", "2019-03-27", "--config", str(config)]) != 0
    assert "2019-03-28" in capsys.readouterr().err


@pytest.mark.skipif(not CHROMIUM, reason="headless Chromium not found (Debian: apt-get install -y chromium); "
                                         "it opens report.html to check the rendered sections")
def test_chromium_renders_every_section(book, tmp_path):
    where, _, _ = book
    page = (where / "report" / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", """<script>window.addEventListener("load", () => {
      const s = [...document.querySelectorAll("main > section")].map((x) => ({id: x.id,
        heading: x.querySelector("h2").textContent, height: x.getBoundingClientRect().height}));
      const out = document.createElement("pre"); out.id = "probe"; out.textContent = JSON.stringify(s);
      document.body.appendChild(out);});</script></body>"""))
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=90, check=False)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    assert found, f"no probe output (exit {done.returncode}); stderr tail:\n{done.stderr[-2000:]}"
    sections = json.loads(html.unescape(found.group(1)))
    assert [s["id"] for s in sections][:8] == ["positions", "exposures", "risk-assets", "risk-sectors",
                                                "volatility", "monitors", "alerts", "pending"]
    assert all(s["height"] > 40 for s in sections)
