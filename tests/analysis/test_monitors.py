"""The monitors' rules on small hand-made inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simlab.analysis.monitors import (
    Alert,
    MonitorSettings,
    constraint_alerts,
    data_quality_alerts,
    decision_alerts,
    drawdown_alerts,
    overdue_alerts,
    regime_alerts,
)
from simlab.errors import ConfigError

DAYS = pd.bdate_range("2021-01-04", periods=8)


def test_drawdown_rearms_at_the_configured_recovery():
    navs = [100, 89, 95, 96, 89, 79, 100, 85]
    settings = MonitorSettings(drawdown_levels=(0.1, 0.2), rearm=0.5)
    alerts, peak, armed = drawdown_alerts(DAYS, navs, -math.inf, [], settings)
    got = [(a.time, a.level, a.fields["threshold"]) for a in alerts]
    assert got == [("2021-01-05", "WARNING", 0.1), ("2021-01-07", "INFO", 0.1),  # 4% <= 5%: armed again
                   ("2021-01-08", "WARNING", 0.1), ("2021-01-11", "CRITICAL", 0.2),
                   ("2021-01-12", "INFO", 0.1), ("2021-01-12", "INFO", 0.2), ("2021-01-13", "WARNING", 0.1)]
    assert peak == 100 and armed == [False, True]


def test_drawdown_state_carries_across_calls():
    navs = [100, 89, 95, 96, 89, 79, 100, 85]
    settings = MonitorSettings()
    whole, _, _ = drawdown_alerts(DAYS, navs, -math.inf, [], settings)
    first, peak, armed = drawdown_alerts(DAYS[:3], navs[:3], -math.inf, [], settings)
    second, _, _ = drawdown_alerts(DAYS[3:], navs[3:], peak, armed, settings)
    assert first + second == whole


def test_regime_alerts_skip_unknown_days_and_seed_without_an_alert():
    labels, known = [0, 0, 1, 1, 2, 0, 0, 0], [False, True, True, True, True, True, True, True]
    stress = [lab >= 2 for lab in labels]
    alerts, last = regime_alerts(DAYS, labels, stress, known, None, "trend")
    assert [(a.time, a.level, a.fields["from"], a.fields["to"]) for a in alerts] == [
        ("2021-01-06", "INFO", 0, 1), ("2021-01-08", "WARNING", 1, 2), ("2021-01-11", "INFO", 2, 0)]
    assert last == 0


def test_constraints_are_read_by_role():
    rows = [{"step": "0:caps", "key": "util_sector", "role": "utilization", "value": 0.97},
            {"step": "0:caps", "key": "util_name", "role": "utilization", "value": 0.5},
            {"step": "0:caps", "key": "util_sector_like", "role": None, "value": 5.0},
            {"step": "1:qp", "key": "solver_fallback", "role": "fallback", "value": 1.0, "asset": None},
            {"step": "1:qp", "key": "fell", "role": "fallback", "value": 0.0}]
    alerts = constraint_alerts("2021-01-04", rows, MonitorSettings(utilization_level=0.95))
    assert [a.fields["key"] for a in alerts] == ["util_sector", "solver_fallback"]
    assert all(a.kind == "CONSTRAINT" and a.level == "WARNING" for a in alerts)


def test_decisions_and_overdue_orders():
    blocked = decision_alerts("2021-01-04", "blocked", 0, 0, ["3:max_turnover_check"])
    assert {(a.kind, a.level) for a in blocked} == {("REBALANCE", "WARNING"), ("CONSTRAINT", "WARNING")}
    assert "3:max_turnover_check" in blocked[0].message
    done = decision_alerts("2021-01-04", "executed", 4, 4)
    assert [(a.kind, a.level) for a in done] == [("REBALANCE", "INFO"), ("EXECUTION", "INFO")]
    assert decision_alerts("2021-01-04", "no_rebalance", 0, 0) == []
    late = overdue_alerts("2021-01-08", "2021-01-05", 3, [{"due_in": 1}, {"due_in": 5}])
    assert [(a.kind, a.level, a.fields["due_in"]) for a in late] == [("EXECUTION", "CRITICAL", 1)]


def test_a_quiet_series_raises_no_data_quality_alert():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2020-01-01", periods=120)
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (120, 3)), axis=0)), index=dates,
                         columns=["A", "B", "C"])
    bench = close.mean(axis=1)
    assert data_quality_alerts(close, dates[-1], MonitorSettings(), book_assets=["A", "B", "C"],
                               benchmark=bench) == []


def test_bad_settings_and_alerts_are_refused():
    with pytest.raises(ConfigError, match="increasing"):
        MonitorSettings(drawdown_levels=(0.2, 0.1))
    with pytest.raises(ConfigError, match="rearm"):
        MonitorSettings(rearm=1.5)
    with pytest.raises(ValueError, match="level"):
        Alert("2021-01-04", "PANIC", "DRAWDOWN", "x")
    a = Alert("2021-01-04", "INFO", "REGIME", "x", {"to": 1})
    assert Alert.from_dict(a.to_dict()) == a


def test_a_drawdown_exactly_at_a_threshold_reaches_it():
    alerts, _, _ = drawdown_alerts(DAYS[:2], [100, 80], -math.inf, [], MonitorSettings())
    assert [a.fields["threshold"] for a in alerts] == [0.1, 0.2]
