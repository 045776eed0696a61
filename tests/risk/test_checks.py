"""Pre-trade checks: each limit exactly at, just below and just above; a block leaves the book alone."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.config import registry
from simlab.errors import ConfigError
from simlab.contract.step import HOLD, Step
from simlab.testing.builders import csv_experiment, make_context, price_frame

EPS = 1e-6


def step(entry: dict):
    return registry.build("step", registry.resolve("step", entry, "pipeline[0]"))


def context(current, *, last_rebalance=0, sectors=None):
    current = np.atleast_2d(np.asarray(current, dtype=float))
    ctx = make_context(weights=current)
    meta = None if sectors is None else pd.DataFrame({"sector": sectors}, index=list(ctx.assets))
    return replace(ctx, last_rebalance=np.full(ctx.n_scenarios, last_rebalance), meta=meta)


@pytest.mark.parametrize(("turnover", "blocked"), [(0.5, False), (0.5 - EPS, False), (0.5 + EPS, True)])
def test_max_turnover_blocks_only_above_the_limit(turnover, blocked):
    current = np.array([[0.5, 0.5, 0.0]])
    target = np.array([[0.5 - turnover, 0.5, turnover]])
    out, diag = step({"type": "max_turnover_check"})(target, context(current))
    assert diag[HOLD].tolist() == [blocked]
    assert diag["turnover"][0] == pytest.approx(turnover)
    np.testing.assert_array_equal(out, current if blocked else target)


def test_max_turnover_lets_a_new_book_be_built_unless_told_otherwise():
    target = np.array([[0.5, 0.5, 0.0]])
    ctx = context(np.zeros((1, 3)), last_rebalance=-1)
    _, diag = step({"type": "max_turnover_check", "max_turnover": 0.2})(target, ctx)
    assert not diag[HOLD][0]
    _, diag = step({"type": "max_turnover_check", "max_turnover": 0.2, "allow_initial": False})(target, ctx)
    assert diag[HOLD][0]


def test_max_turnover_per_scenario_limits():
    current = np.tile([[0.5, 0.5, 0.0]], (2, 1))
    target = np.tile([[0.2, 0.5, 0.3]], (2, 1))
    check = registry.build("step", {"type": "max_turnover_check", "max_turnover": np.array([0.25, 0.35]),
                                    "allow_initial": True})
    _, diag = check(target, context(current))
    assert diag[HOLD].tolist() == [True, False]


SECTORS = ["Energy", "Energy", "Utilities", None]


@pytest.mark.parametrize(("energy", "blocked"), [(0.4, False), (0.4 - EPS, False), (0.4 + EPS, True)])
def test_sector_concentration_blocks_only_above_the_limit(energy, blocked):
    current = np.array([[0.25, 0.25, 0.25, 0.25]])
    target = np.array([[energy / 2, energy / 2, 0.3, 0.7 - energy]])
    out, diag = step({"type": "sector_concentration_check"})(target, context(current, sectors=SECTORS))
    assert diag[HOLD].tolist() == [blocked]
    assert diag["sector_weight.Energy"][0] == pytest.approx(energy)
    assert diag["max_sector_weight"][0] == pytest.approx(energy)
    np.testing.assert_array_equal(out, current if blocked else target)


def test_assets_without_a_sector_count_toward_none():
    target = np.array([[0.1, 0.1, 0.1, 0.7]])
    _, diag = step({"type": "sector_concentration_check"})(target, context(np.zeros((1, 4)), sectors=SECTORS))
    assert not diag[HOLD][0] and diag["max_sector_weight"][0] == pytest.approx(0.2)


def test_sector_check_without_sectors_says_what_is_missing():
    with pytest.raises(ConfigError, match=r"sector_concentration_check needs a sector per asset"):
        step({"type": "sector_concentration_check"})(np.full((1, 2), 0.5), context(np.zeros((1, 2))))


# ---------------------------------------------------------------------------------------
# In a run: a blocked rebalance sends nothing and is recorded
# ---------------------------------------------------------------------------------------

PLAN = {
    0: [0.5, 0.5, 0.0],   # the first book
    5: [0.0, 0.5, 0.5],   # one-way turnover exactly 0.5: allowed
    10: [0.6, 0.0, 0.4],  # 0.6: blocked
    15: [0.2, 0.3, 0.5],  # 0.2 against the unchanged book: allowed
}


@pytest.fixture
def planned(register_temporarily):
    @register_temporarily("step", "planned_targets")
    @dataclass(frozen=True)
    class PlannedTargets(Step):
        """Targets read from a table keyed by decision row (test only)."""

        plan: str = "turnover"

        def __call__(self, weights, ctx):
            table = PLAN if self.plan == "turnover" else SECTOR_PLAN
            return np.tile(np.asarray(table[ctx.t], dtype=float), (ctx.n_scenarios, 1)), {}

    return PlannedTargets


def flat_market(n_assets=3):
    return price_frame(20, n_assets, seed=4, vol=0.0, start="2020-01-06")  # Mondays are rows 0, 5, 10, 15


def run_plan(tmp_path, check: dict, plan: str, **keys):
    cfg = csv_experiment(flat_market(), tmp_path, schedule={"frequency": "weekly", "day": "first"},
                         pipeline=[{"type": "planned_targets", "plan": plan}, check], **keys)
    return simlab.run(cfg)


def held_by_step(res, label):
    d = res.diagnostics
    return d[(d.step == label) & (d.key == HOLD)].set_index("date").value


def test_a_blocked_rebalance_leaves_the_book_unchanged(tmp_path, planned):
    res = run_plan(tmp_path, {"type": "max_turnover_check"}, "turnover")
    dates = res.dates
    assert held_by_step(res, "1:max_turnover_check").tolist() == [0.0, 0.0, 1.0, 0.0]
    assert sorted(res.trades.date.unique()) == [dates[1], dates[6], dates[16]]  # no fill on row 11
    w = res.weights.sel(scenario=res.scenarios[0]).to_numpy()
    np.testing.assert_allclose(w[6:16], np.tile([0.0, 0.5, 0.5], (10, 1)), atol=1e-12)
    np.testing.assert_allclose(w[16], [0.2, 0.3, 0.5], atol=1e-12)
    turnover = res.diagnostics.query("key == 'turnover'").value.to_numpy()
    np.testing.assert_allclose(turnover, [0.5, 0.5, 0.6, 0.2], atol=1e-12)


SECTOR_PLAN = {
    0: [0.2, 0.2, 0.4],    # Energy exactly at 0.4: allowed
    5: [0.25, 0.2, 0.4],   # Energy 0.45: blocked
    10: [0.1, 0.1, 0.4],   # allowed
    15: [0.3, 0.3, 0.4],   # 0.6: blocked
}


def test_sector_concentration_block_in_a_run(tmp_path, planned):
    universe = tmp_path / "u.yaml"
    universe.write_text("assets:\n  A0: {sector: Energy}\n  A1: {sector: Energy}\n  A2: {sector: Utilities}\n")
    res = run_plan(tmp_path, {"type": "sector_concentration_check"}, "sectors", universe=str(universe))
    dates = res.dates
    assert held_by_step(res, "1:sector_concentration_check").tolist() == [0.0, 1.0, 0.0, 1.0]
    assert sorted(res.trades.date.unique()) == [dates[1], dates[11]]
    w = res.weights.sel(scenario=res.scenarios[0]).to_numpy()
    np.testing.assert_allclose(w[-1], [0.1, 0.1, 0.4], atol=1e-12)
