"""The shipped tracking-error book: caps met at every rebalance, no fallbacks (first years only, for speed)."""

from __future__ import annotations

from pathlib import Path

import simlab
from simlab.config.loader import read_yaml

CONFIG = Path(__file__).resolve().parents[2] / "configs/experiments/tracking_error_book.yaml"


def test_tracking_error_book_meets_its_caps():
    raw = read_yaml(CONFIG)
    raw["data"]["end"] = "1998-12-31"
    raw["universe"] = str(CONFIG.parent / raw["universe"])
    res = simlab.run(raw)
    d = res.diagnostics
    te = d[d.key == "tracking_error"].pivot_table(index="date", columns="scenario", values="value")
    caps = {"te_2pct": 0.02, "te_4pct": 0.04, "te_8pct": 0.08}
    for name, cap in caps.items():
        assert (te[name] <= cap + 1e-6).all(), name
    assert (te["te_2pct"] > 0.02 - 1e-6).mean() > 0.9  # the cap binds
    fallback = d[d.key == "fallback_level"]
    assert len(fallback) > 0 and (fallback.value == 0).all()
    assert set(res.nav.columns) == {"benchmark", "te_0", "te_2pct", "te_4pct", "te_8pct"}
