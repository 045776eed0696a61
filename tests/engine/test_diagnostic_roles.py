"""Diagnostics carry the roles their Steps declare; the report reads roles, not key spellings."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.analysis.caveats import caveats
from simlab.analysis.run_series import utilization
from simlab.contract.roles import FALLBACK, PROXY, UTILIZATION, Role, role_of
from simlab.contract.step import HOLD, Step
from simlab.portfolio.allocators_risk import MinVariance
from simlab.risk.checks import MaxTurnoverCheck
from simlab.risk.constraints import RegimeConstraints
from simlab.risk.overlays import VixRegime

DATA = {"source": "synthetic", "n_assets": 4, "n_days": 130, "seed": 2, "benchmark": None}


@dataclass(frozen=True)
class _Declared(Step):
    """Reports a gauge it declares a utilization, a flag it declares a fallback, and an undeclared util_ key."""

    diagnostic_roles = {"gauge": UTILIZATION, "went_to_plan_b": FALLBACK, "load_*": UTILIZATION}

    def __call__(self, weights, ctx):
        n = ctx.n_scenarios
        return weights, {"gauge": np.full(n, 0.5), "went_to_plan_b": np.ones(n), "load_x": np.full(n, 0.25),
                         "util_unclaimed": np.full(n, 0.9), HOLD: np.zeros(n, dtype=bool)}


def test_role_of_exact_keys_patterns_and_hold():
    assert role_of(RegimeConstraints, "util_max_weight") is Role.UTILIZATION
    assert role_of(RegimeConstraints, "max_final_util") is None
    assert role_of(RegimeConstraints, "correlation_fallback") is Role.FALLBACK
    assert role_of(RegimeConstraints, "regime_proxy") is Role.PROXY
    assert role_of(VixRegime, "vix_proxy") is PROXY
    assert role_of(MaxTurnoverCheck, "utilization") is UTILIZATION
    assert role_of(MinVariance, "fallback_level") is FALLBACK
    assert role_of(MinVariance, HOLD) is Role.HOLD  # built in, never declared
    assert role_of(Step, "util_anything") is None  # a key's spelling gives no role
    assert role_of(None, "buy_scale") is None  # the engine's own diagnostics


def test_the_engine_records_each_declared_role(register_temporarily):
    register_temporarily("step", "_declared")(_Declared)
    res = simlab.run({"data": DATA, "pipeline": [{"type": "equal_weight"}, {"type": "_declared"}]})
    diag = res.diagnostics
    roles = diag.drop_duplicates(["step", "key"]).set_index("key")["role"]
    assert roles["gauge"] == "utilization" and roles["load_x"] == "utilization"
    assert roles["went_to_plan_b"] == "fallback" and roles[HOLD] == "hold"
    assert pd.isna(roles["util_unclaimed"])
    assert diag.loc[diag["step"] == "engine", "role"].isna().all()


def test_the_report_reads_roles(register_temporarily):
    register_temporarily("step", "_declared")(_Declared)
    res = simlab.run({"data": DATA, "pipeline": [{"type": "equal_weight"}, {"type": "_declared"}]})
    util = utilization(res, res.scenarios[0])
    assert sorted(util.columns) == ["gauge", "load_x"]  # util_unclaimed declares no role
    assert np.nanmax(util["gauge"]) == pytest.approx(0.5)
    fallbacks = [note for note in caveats(res) if note.startswith("Fallback")]
    assert len(fallbacks) == 1 and "went_to_plan_b" in fallbacks[0]


def test_a_table_without_roles_reports_none(register_temporarily):
    register_temporarily("step", "_declared")(_Declared)
    res = simlab.run({"data": DATA, "pipeline": [{"type": "equal_weight"}, {"type": "_declared"}]})
    res.__dict__["diagnostics"] = res.diagnostics.drop(columns="role")  # a run saved before roles
    assert utilization(res, res.scenarios[0]) is None
