"""The component contract over the whole registry, and proof that the checks catch cheats.

Every registered component (strategies, Steps and the Features they declare, cost models,
regime detectors) runs every check of :mod:`simlab.testing.conformance` that applies to
it, the perturb-the-future check included. The second half registers deliberately
broken components and expects the checks to fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytest

from simlab.config import registry
from simlab.contract.step import Step
from simlab.errors import LookaheadError
from simlab.features.base import Feature
from simlab.risk import regime
from simlab.testing import CHECKS, check_component, checks_for, registered
from strategies.base import Strategy

# (kind, key, check) -> why it fails today; each runs as a strict xfail until fixed
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {}


def _registry_cases():
    for kind in registry.KINDS:
        for key in sorted(registry.registry(kind)):
            for name, _ in checks_for(kind, key):
                marks = ()
                if (kind, key, name) in KNOWN_FAILURES:
                    marks = pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[(kind, key, name)])
                yield pytest.param(kind, key, name, id=f"{kind}-{key}-{name}", marks=marks)


@pytest.mark.parametrize("kind, key, name", list(_registry_cases()))
def test_registered_component_conforms(kind, key, name):
    dict(checks_for(kind, key))[name]()


def test_every_kind_has_checks_and_the_registry_is_covered():
    assert set(registry.KINDS) <= set(CHECKS)
    total = sum(len(checks_for(kind, key)) for kind in registry.KINDS for key in registry.registry(kind))
    assert total >= 4 * sum(len(registry.registry(kind)) for kind in registry.KINDS)


# --------------------------------------------------------------------------- cheats


@dataclass(frozen=True)
class TomorrowsReturn(Strategy):
    """Cheat: the signal at t is the return from t to t + 1."""

    def signal(self, md):
        return md.close.shift(-1) / md.close - 1.0


def test_a_strategy_reading_tomorrow_fails_with_lookahead_error():
    with registered("strategy", "tomorrows_return", TomorrowsReturn):
        with pytest.raises(LookaheadError, match=r"strategy 'tomorrows_return', check 'no_lookahead'.*signal rows"):
            check_component("strategy", "tomorrows_return")
    assert "tomorrows_return" not in registry.registry("strategy")


@dataclass(frozen=True)
class NextClose(Feature):
    """Cheat: the close of the day after each row."""

    def compute(self, inputs, rows):
        return inputs.close[np.minimum(np.asarray(rows) + 1, len(inputs.close) - 1)]


@dataclass(frozen=True)
class FullSampleMean(Feature):
    """Cheat: each row's close over the mean close of the whole history."""

    def compute(self, inputs, rows):
        return inputs.close[np.asarray(rows)] / np.nanmean(inputs.close, axis=0)


@dataclass(frozen=True)
class FeatureTilt(Step):
    """Weights proportional to a declared Feature (which may cheat)."""

    cheat: Literal["next_close", "full_sample"] = "next_close"

    def features(self, n_scenarios):
        feature = NextClose() if self.cheat == "next_close" else FullSampleMean()
        return {"tilt": [feature] * n_scenarios}

    def __call__(self, weights, ctx):
        tilt = np.where(ctx.tradeable, np.nan_to_num(ctx.feature("tilt")), 0.0)
        return tilt / tilt.sum(axis=1, keepdims=True), {}


@pytest.mark.parametrize("cheat", ["next_close", "full_sample"])
def test_a_step_whose_feature_reads_the_future_fails_with_lookahead_error(cheat):
    with registered("step", "feature_tilt", FeatureTilt, {"cheat": cheat}):
        with pytest.raises(LookaheadError, match=r"step 'feature_tilt', check 'no_lookahead': Feature 'tilt'"):
            check_component("step", "feature_tilt")
    assert "feature_tilt" not in registry.registry("step")


@dataclass(frozen=True)
class PeekingStep(Step):
    """Cheat: asks the view for tomorrow's close."""

    def __call__(self, weights, ctx):
        ctx.view.at("close", ctx.t + 1)
        return weights, {}


def test_a_step_asking_the_view_for_tomorrow_fails_with_lookahead_error():
    with registered("step", "peeking", PeekingStep):
        with pytest.raises(LookaheadError, match=r"step 'peeking', check 'requires'.*while deciding on"):
            check_component("step", "peeking")


class TomorrowsVix(regime.VixThreshold):
    """Cheat: labels day t with the VIX of day t + 1."""

    def statistic(self, inputs):
        vix = inputs.macro["vix"]
        shifted = dict(inputs.macro, vix=np.r_[vix[1:], vix[-1:]])
        return super().statistic(type(inputs)(**{**vars(inputs), "macro": shifted}))


def test_a_detector_reading_tomorrow_fails_with_lookahead_error():
    with registered("detector", "tomorrows_vix", TomorrowsVix):
        checks = dict(checks_for("detector", "tomorrows_vix"))
        checks["deterministic"]()
        with pytest.raises(LookaheadError, match=r"detector 'tomorrows_vix', check 'no_lookahead': path.label"):
            checks["no_lookahead"]()
    assert "tomorrows_vix" not in registry.registry("detector")


# --------------------------------------------------------------------------- other contract breaches


@dataclass(frozen=True)
class UndeclaredSignal(Step):
    """Reads the signal without requiring it."""

    def __call__(self, weights, ctx):
        return np.nan_to_num(ctx.signal) * 0.0 + weights, {}


@dataclass(frozen=True)
class UndeclaredFeature(Step):
    """Reads a Feature it never declared."""

    def __call__(self, weights, ctx):
        ctx.feature("covariance")
        return weights, {}


@dataclass(frozen=True)
class NestedDiagnostics(Step):
    """Returns a nested diagnostics dict."""

    def __call__(self, weights, ctx):
        return weights, {"limits": {"max": 1.0}}


@dataclass(frozen=True)
class BatchDependent(Step):
    """Scales each scenario by the batch's mean of ``scale``: a scenario depends on the others."""

    scale: float = 1.0

    def __call__(self, weights, ctx):
        return weights * float(np.mean(self.scale)), {}


@dataclass(frozen=True)
class NeedsParameter(Step):
    """Has a required field."""

    level: float

    def __call__(self, weights, ctx):
        return weights, {}


@pytest.mark.parametrize("cls, check, message", [
    (UndeclaredSignal, "requires", r"fails when given only what it declares"),
    (UndeclaredFeature, "requires", r"did not declare"),
    (NestedDiagnostics, "diagnostics", r"diagnostic 'limits' on row \d+ is a dict"),
    (BatchDependent, "batch", r"scenario 0 .* in a batch of 3 vs alone: weights"),
    (NeedsParameter, "configuration", r"required fields without defaults \(level\).*add_example"),
])
def test_a_step_breaking_the_contract_fails_the_check_that_names_it(cls, check, message):
    with registered("step", "breaking", cls):
        with pytest.raises(AssertionError, match=rf"step 'breaking', check '{check}': .*{message}"):
            dict(checks_for("step", "breaking"))[check]()


def test_registration_is_undone_when_the_block_raises():
    with pytest.raises(RuntimeError):
        with registered("step", "breaking", NestedDiagnostics):
            raise RuntimeError("boom")
    assert "breaking" not in registry.registry("step")
