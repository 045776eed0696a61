"""Monitoring on a paper book: the 2007-2009 replay, data quality, sinks that fail and recover."""

from __future__ import annotations

import dataclasses
import http.server
import io
import json
import threading
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from simlab.analysis.monitors import MonitorSettings, regime_frame
from simlab.config.loader import load_config
from simlab.lab.run import load_market
from simlab.production.alerts import (
    ConsoleSink,
    JsonLinesSink,
    LoggingSink,
    WebhookSink,
    deliver,
)
from simlab.production.monitoring import monitor_book
from simlab.production.pipeline import run_pipeline
from simlab.production.stores import open_store

TREND = {"type": "trend", "window": 100}
CRISIS_BOOK = {  # fully invested momentum, weekly; the sizing Step's detector is the one monitored
    "name": "crisis_book",
    "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index",
             "start": "2007-01-01", "end": "2009-12-31"},
    "schedule": {"frequency": "weekly", "day": "first"},
    "execution": {"lag": 0, "init_cash": 1000000, "fractional": True},
    "costs": {"type": "flat", "bps": 5},
    "strategy": {"type": "momentum", "lookback": 126, "skip": 21},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 5},
                 {"type": "regime_sizing", "regime": TREND, "multipliers": {"0": 1.0, "1": 1.0, "2": 1.0}}],
}


@pytest.fixture(scope="module")
def crisis(tmp_path_factory):
    """The book run on each weekly decision day of 2007-2009, the monitors after each run."""
    path = tmp_path_factory.mktemp("crisis") / "crisis.yaml"
    import yaml

    path.write_text(yaml.safe_dump(CRISIS_BOOK))
    cfg = load_config(path)
    md = load_market(cfg)
    store = open_store(f"sqlite:///{path.parent / 'book.db'}")
    days = md.dates[(md.dates >= "2007-01-01") & (md.dates <= "2009-12-31")]
    weekly = days[pd.Series(days.isocalendar().week.values + 100 * days.year.values).diff().fillna(1).ne(0).values]
    alerts = []
    for day in weekly:
        run_pipeline(cfg, md, store, day, execute=True)
        alerts += monitor_book(cfg, md, store, day, []).alerts
    return cfg, md, store, weekly, alerts


def test_drawdown_fires_once_at_each_threshold(crisis):
    _, _, store, _, alerts = crisis
    drawdowns = [a for a in alerts if a.kind == "DRAWDOWN"]
    state = store.load()
    nav = pd.Series(state.nav_values, index=pd.DatetimeIndex(state.nav_dates))
    peak_day = nav.loc[:"2008-12-31"].idxmax()  # the peak before the crisis drawdown
    crisis = [a for a in drawdowns if pd.Timestamp(a.time) > peak_day]
    assert [(a.fields["threshold"], a.level) for a in crisis] == [(0.1, "WARNING"), (0.2, "CRITICAL"),
                                                                   (0.3, "CRITICAL")]
    drawdown = 1 - nav / nav.cummax()
    for a in crisis:  # the first close at or beyond the threshold, on the book's own NAV
        after = drawdown.loc[drawdown.index > peak_day]
        assert a.time == after[after >= a.fields["threshold"]].index[0].date().isoformat()
    for level in (0.1, 0.2, 0.3):  # a threshold fires again only after it re-armed on a recovery
        seq = [a.level == "INFO" for a in drawdowns if a.fields["threshold"] == level]
        assert seq == [i % 2 == 1 for i in range(len(seq))]
    assert state.monitor["armed"] == [False, False, False]  # no new peak by the end of 2009


def test_regime_alerts_follow_the_detector(crisis):
    _, md, _, weekly, alerts = crisis
    path = regime_frame(TREND, md).loc[weekly[0]:weekly[-1]]
    known = path[path["known"]]
    changes = known.index[known["label"].diff().fillna(0).ne(0)]
    fired = [a for a in alerts if a.kind == "REGIME"]
    assert [a.time for a in fired] == [d.date().isoformat() for d in changes]
    assert len(fired) >= 3
    assert all(a.fields["to"] == int(known.loc[a.time, "label"]) for a in fired)


def test_rebalances_are_reported(crisis):
    _, _, _, weekly, alerts = crisis
    rebalances = [a for a in alerts if a.kind == "REBALANCE"]
    assert len(rebalances) >= len(weekly) // 2


def test_a_second_run_at_the_same_day_fires_nothing(crisis):
    cfg, md, store, weekly, _ = crisis
    assert monitor_book(cfg, md, store, weekly[-1], []).alerts == []


def _short_book(tmp_path):
    cfg = load_config(_yaml_file(tmp_path, {**CRISIS_BOOK, "data": {**CRISIS_BOOK["data"], "end": "2007-03-30"}}))
    md = load_market(cfg)
    store = open_store(f"json:{tmp_path / 'book.json'}")
    run_pipeline(cfg, md, store, "2007-03-01", execute=True)
    return cfg, md, store


def _yaml_file(tmp_path, data):
    import yaml

    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_stale_prices_and_a_spike_are_named(tmp_path):
    cfg, md, store = _short_book(tmp_path)
    close = md.close.loc[:"2007-03-30"].copy()
    close.loc["2007-03-16":, "MSFT"] = close.loc["2007-03-15", "MSFT"]  # stale from the 15th
    close.loc["2007-03-29", "AAPL"] *= 100  # a 100x spike
    bad = dataclasses.replace(md, close=close)
    run = monitor_book(cfg, bad, store, "2007-03-29", [])
    quality = [a for a in run.alerts if a.kind == "DATA_QUALITY"]
    stale = [a for a in quality if a.fields["check"] == "stale"]
    jump = [a for a in quality if a.fields["check"] == "jump"]
    assert [(a.fields["asset"], a.fields["date"]) for a in stale] == [("MSFT", "2007-03-15")]
    assert [(a.fields["asset"], a.fields["date"]) for a in jump] == [("AAPL", "2007-03-29")]
    assert "MSFT" in stale[0].message and "2007-03-15" in stale[0].message
    assert "AAPL" in jump[0].message and "2007-03-29" in jump[0].message


def test_missing_asset_gap_and_benchmark_coverage(tmp_path):
    cfg, md, store = _short_book(tmp_path)
    close = md.close.loc[:"2007-03-30"].drop(columns=["AMD"])
    close.loc["2007-03-27", "MSFT"] = np.nan
    bench = md.benchmark.loc[:"2007-03-30"].copy()
    bench.loc["2007-03-29"] = np.nan
    bad = dataclasses.replace(md, close=close, benchmark=bench)
    quality = [a for a in monitor_book(cfg, bad, store, "2007-03-29", []).alerts if a.kind == "DATA_QUALITY"]
    checks = {(a.fields["check"], a.fields.get("asset") or a.fields.get("series"), a.fields["date"]) for a in quality}
    assert ("missing_asset", "AMD", "2007-03-29") in checks
    assert ("gap", "MSFT", "2007-03-27") in checks
    assert ("coverage", "benchmark", "2007-03-29") in checks


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list] = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).status == 200:
            type(self).received.extend(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received, _Receiver.status = [], 200
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", _Receiver
    server.shutdown()
    server.server_close()
    thread.join()


def test_every_sink_delivers(tmp_path, receiver, caplog):
    url, handler = receiver
    cfg, md, store = _short_book(tmp_path)
    out = io.StringIO()
    sinks = [ConsoleSink(out), JsonLinesSink(tmp_path / "alerts.jsonl"), LoggingSink(), WebhookSink(url)]
    with caplog.at_level("INFO", logger="simlab.alerts"):
        run = monitor_book(cfg, md, store, "2007-03-29", sinks)
    assert run.alerts and not run.errors
    lines = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [x["message"] for x in lines] == [a.message for a in run.alerts]
    assert set(lines[0]) == {"time", "level", "kind", "message", "fields"}
    assert [x["message"] for x in handler.received] == [a.message for a in run.alerts]
    assert len(out.getvalue().splitlines()) == len(run.alerts)
    assert len([r for r in caplog.records if r.name == "simlab.alerts"]) == len(run.alerts)


def test_a_failed_webhook_keeps_its_alerts_for_the_next_run(tmp_path, receiver):
    url, handler = receiver
    cfg, md, store = _short_book(tmp_path)
    handler.status = 500
    first = monitor_book(cfg, md, store, "2007-03-28", [WebhookSink(url)])
    assert first.errors and first.undelivered == len(first.alerts) > 0
    assert store.load().monitor["undelivered"]  # persisted with the state
    handler.status = 200
    second = monitor_book(cfg, md, store, "2007-03-29", [WebhookSink(url)])
    assert not second.errors and second.undelivered == 0
    assert [x["message"] for x in handler.received] == [a.message for a in first.alerts + second.alerts]


def test_deliver_keeps_what_a_sink_owes_when_it_is_not_configured():
    owed = {"webhook:http://x": [{"time": "2020-01-02", "level": "INFO", "kind": "REGIME", "message": "m",
                                  "fields": {}}]}
    kept, errors = deliver([], [], owed)
    assert kept == owed and errors == []


def test_backtest_alerts_are_the_books(crisis):
    """Result.alerts of the same config fires the drawdown and regime alerts the book fired."""
    import simlab

    cfg, _, _, _, alerts = crisis
    table = simlab.run(cfg).alerts(MonitorSettings(drawdown_levels=(0.1, 0.2, 0.3)))
    for kind in ("DRAWDOWN", "REGIME"):
        book = [(a.time, a.level, a.fields.get("threshold"), a.fields.get("to")) for a in alerts if a.kind == kind]
        rows = table[table.kind == kind]
        backtest = [(t, lvl, f.get("threshold"), f.get("to")) for t, lvl, f in zip(rows.time, rows.level, rows.fields)]
        assert backtest == book, kind


def test_cli_exit_codes_and_a_sink_down(tmp_path, receiver, capsys):
    from simlab.cli import main

    url, handler = receiver
    _short_book(tmp_path)
    args = ["monitor", str(tmp_path / "book.yaml"), "--state", f"json:{tmp_path / 'book.json'}",
            "--sink", f"webhook:{url}", "--alerts", str(tmp_path / "alerts.jsonl")]
    handler.status = 503
    assert main([*args, "--as-of", "2007-03-28"]) == 5
    out = capsys.readouterr().out
    assert "kept for the next run" in out and "undelivered, kept in the book" in out
    handler.status = 200
    assert main([*args, "--as-of", "2007-03-29"]) in (0, 4)
    written = [json.loads(x)["message"] for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [x["message"] for x in handler.received] == written  # the webhook got all, late, in order
    assert main([*args, "--as-of", "2007-03-29", "--drawdown-levels", "0.2,0.1"]) == 1
    assert "increasing fractions" in capsys.readouterr().err


def test_monitoring_a_book_with_another_config_is_refused(tmp_path):
    from simlab.production.state import StateError

    cfg, md, store = _short_book(tmp_path)
    other = load_config(_yaml_file(tmp_path, {**CRISIS_BOOK, "costs": {"type": "flat", "bps": 7},
                                              "data": {**CRISIS_BOOK["data"], "end": "2007-03-30"}}))
    with pytest.raises(StateError, match="costs"):
        monitor_book(other, md, store, "2007-03-29", [])
