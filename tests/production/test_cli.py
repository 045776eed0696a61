"""``simlab pipeline`` and ``simlab state`` end to end on an SQLite book."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simlab.cli import main

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "experiments" / "quickstart.yaml")


def test_dry_run_execute_and_state_actions(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(Path(CONFIG).parents[2])
    url = f"sqlite:///{tmp_path / 'book.db'}"
    args = ["pipeline", CONFIG, "--state", url, "--scenario", "top_n=5", "--as-of", "2022-11-01"]
    assert main(args + ["--dry-run", "--out", str(tmp_path / "dry")]) == 0
    assert main(["state", "history", "--state", url]) == 0  # the dry run stored nothing
    assert "pending" not in capsys.readouterr().out.split("history")[-1].split("\n", 3)[-1]
    orders = pd.read_csv(tmp_path / "dry" / "orders.csv")
    assert list(orders.columns) == ["asset", "side", "shares", "reference_price", "estimated_cost", "reason"]
    assert len(orders) == 5 and set(orders["side"]) == {"BUY"}
    decision = json.loads((tmp_path / "dry" / "decision.json").read_text())
    assert decision["status"] == "pending" and not decision["committed"]
    assert abs(sum(decision["targets"].values()) - 1.0) < 1e-12
    assert main(args + ["--execute", "--approval-turnover", "0.4", "--out", str(tmp_path / "d1")]) == 3
    assert "approval needed" in capsys.readouterr().out
    assert main(args + ["--execute", "--approve", "--out", str(tmp_path / "d1")]) == 0
    nxt = ["pipeline", CONFIG, "--state", url, "--scenario", "top_n=5", "--as-of", "2022-11-02", "--execute"]
    assert main(nxt + ["--out", str(tmp_path / "d2")]) == 0
    filled = json.loads((tmp_path / "d2" / "decision.json").read_text())["filled"]
    assert len(filled) == 5
    assert main(["state", "deposit", "--state", url, "50000"]) == 0
    assert main(["state", "export", "--state", url, str(tmp_path / "export.json")]) == 0
    assert main(["state", "show", "--state", url]) == 0
    out = capsys.readouterr().out
    assert "version 3" in out and "flows 1" in out
    assert main(["state", "restore", "--state", f"json:{tmp_path / 'copy.json'}", str(tmp_path / "export.json")]) == 0
    fills = tmp_path / "fills.csv"
    fills.write_text("asset,shares,price,cost\nCVX,-10,180.0,1.5\n")
    assert main(["state", "apply-fills", "--state", url, str(fills)]) == 0


def test_a_state_of_another_config_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(Path(CONFIG).parents[2])
    url = f"json:{tmp_path / 'book.json'}"
    base = ["pipeline", CONFIG, "--state", url, "--execute", "--out", str(tmp_path)]
    assert main(base + ["--scenario", "top_n=5", "--as-of", "2022-11-01"]) == 0
    assert main(base + ["--scenario", "top_n=3", "--as-of", "2022-11-02"]) == 1
    err = capsys.readouterr().err
    assert "book.json" in err and "differs in: scenario ('top_n=5' -> 'top_n=3')" in err
    assert main(base + ["--scenario", "top_n=5", "--as-of", "2022-11-05"]) == 1
    assert "--as-of 2022-11-05 is not a trading day of the data (the data ends 2022-11-04)" in capsys.readouterr().err


def test_a_pre_trade_check_blocks_and_a_policy_holds():
    from simlab.config.loader import load_config
    from simlab.lab.run import load_market
    from simlab.production.pipeline import run_pipeline
    from simlab.production.stores import open_store

    def book(extra):
        cfg = load_config({"name": "checked", "data": {"source": "builtin:sp500_20", "end": "2020-03-31"},
                           "execution": {"lag": 0}, "strategy": {"type": "momentum", "lookback": 252, "skip": 21},
                           "pipeline": [{"type": "equal_weight_top_n", "top_n": 5}, extra]})
        return cfg, load_market(cfg)

    cfg, md = book({"type": "max_turnover_check", "max_turnover": 0.01})
    store = open_store("memory://checked-book")
    statuses = {str(d.date()): run_pipeline(cfg, md, store, d, execute=True)
                for d in md.dates[(md.dates >= "2020-01-02") & (md.dates <= "2020-02-03")]}
    assert statuses["2020-01-02"].status == "executed"  # the first rebalance is allowed
    blocked = statuses["2020-02-03"]
    assert blocked.status == "blocked" and blocked.committed and len(blocked.orders) == 0
    assert blocked.checks == {"scheduled": True, "held_by": ["1:max_turnover_check"], "approval": []}
    assert statuses["2020-01-03"].status == "no_rebalance" and not statuses["2020-01-03"].checks["scheduled"]


def test_broker_fills_answer_the_waiting_orders(tmp_path):
    from simlab.config.loader import load_config
    from simlab.lab.run import load_market
    from simlab.production.book_ops import apply_fills
    from simlab.production.pipeline import run_pipeline, select_scenario
    from simlab.production.stores import open_store

    cfg = select_scenario(load_config(CONFIG), "top_n=5")
    md = load_market(cfg)
    store = open_store(f"json:{tmp_path / 'live.json'}")
    decision = run_pipeline(cfg, md, store, "2022-11-01", execute=True)
    assert decision.status == "pending" and len(store.load().pending) == 1
    fills = decision.orders.assign(shares=decision.orders["shares"].round(0), price=decision.orders["reference_price"],
                                   cost=1.0)[["asset", "shares", "price", "cost"]]
    fills.to_csv(tmp_path / "fills.csv", index=False)
    state = apply_fills(store, tmp_path / "fills.csv")
    assert state.pending == [] and state.last_rebalance == "2022-11-01"
    assert state.cash == pytest.approx(1e6 - float((fills["shares"] * fills["price"]).sum()) - 5.0)
    assert dict(zip(state.assets, state.holdings))["CVX"] == fills.set_index("asset").loc["CVX", "shares"]
    nxt = run_pipeline(cfg, md, store, "2022-11-02", execute=True)
    assert len(nxt.filled) == 0  # the broker answered: no paper fill on top
