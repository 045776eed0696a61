"""The component contract, checked: every registered component must pass these checks.

``check_component(kind, key)`` runs every check that applies to one registered component
and raises ``AssertionError`` naming the component, the check and what differed (or
:class:`simlab.errors.LookaheadError` when something computed for a day moved when only
later data changed). ``checks_for(kind, key)`` lists the checks as ``(name, callable)``
pairs, for a test suite to parametrize over (the idea of scikit-learn's
``parametrize_with_checks``)::

    @pytest.mark.parametrize("name, check", checks_for("step", "my_step"))
    def test_my_step(name, check):
        check()

Checks, by kind (names in :data:`CHECKS`):

``configuration``
    The component has a valid configuration: its defaults, or an entry of
    :data:`simlab.testing.examples.EXAMPLES` when a field is required.
``requires`` (step, cost)
    Run with only what it declares: no signal unless ``requires`` names ``"signal"``, no
    NAV history unless ``"nav_history"``, only the Features it returns from
    ``features()``; a cost model gets ADV and volatility only when it requires them.
``outputs``
    Shapes and values: a Step returns finite (B, N) weights; a strategy a (T, N) numeric
    DataFrame on the data's calendar and assets, without infinities and not all NaN; a cost
    model finite, non-negative (B, N) costs, zero for no trade, and its ``linear_rate`` (if
    any) and ``daily_rate`` (if it accrues) agree in shape; a regime detector (T,) arrays
    with labels in ``0 .. n_labels - 1``.
``diagnostics`` (step)
    A flat dict of str -> a number or bool, or a numeric/bool array (B,) or (B, N).
``batch`` (step, cost)
    One call on B scenarios whose numeric fields differ (arrays (B,)) equals B separate
    calls with scalar fields, to a relative 1e-12 (:data:`simlab.testing.harness.BATCH_RTOL`:
    a sum over a batch may round in another order).
``deterministic``
    The same inputs and seed give the same bits twice.
``str_round_trip`` (step)
    ``str(step)`` read as YAML and resolved through the registry builds an equal Step.
``no_lookahead`` (step, strategy, detector)
    Close, volume, benchmark and macro series are changed strictly after a decision day
    t (:func:`simlab.testing.markets.perturb_after`); nothing computed for a day <= t may
    change: a strategy's signal rows, a regime detector's path, each Feature a Step
    declares, and the Step's outputs.

Every check runs on :func:`simlab.testing.markets.conformance_market` (T = 600 days,
N = 10 assets) with B = 3 scenarios and a decision every 21 days.
"""

from __future__ import annotations

from collections.abc import Callable

from simlab.config import registry
from simlab.errors import ConfigError, LookaheadError
from simlab.testing.checks import COST_CHECKS, DETECTOR_CHECKS, STEP_CHECKS, STRATEGY_CHECKS
from simlab.testing.examples import example_params
from simlab.testing.harness import Case

# --------------------------------------------------------------------------- public API


def checks_for(kind: str, key: str) -> list[tuple[str, Callable[[], None]]]:
    """``(check name, callable)`` for every check that applies to registered ``kind`` ``key``."""
    cls = registry.registry(kind).get(key)
    if cls is None:
        raise ConfigError(f"no {kind} {key!r} is registered; valid: {', '.join(sorted(registry.registry(kind)))}")
    return component_checks(kind, cls, key)


def check_component(kind: str, key: str) -> None:
    """Run every check on registered ``kind`` ``key``; raise on the first that fails."""
    for _, check in checks_for(kind, key):
        check()


def component_checks(kind: str, cls: type, key: str | None = None,
                     params: dict | None = None) -> list[tuple[str, Callable[[], None]]]:
    """The checks of ``cls``, registered as ``kind`` ``key``.

    ``params`` default to the example of ``kind`` ``key`` (see :mod:`simlab.testing.examples`).
    """
    key = key or getattr(cls, "key", "") or cls.__name__
    missing = ""
    if params is None:
        try:
            params = example_params(kind, key, cls)
        except AssertionError as err:
            params, missing = None, str(err)
    case = Case(kind, key, cls, params, missing)
    return [(name, _named(case, name, check)) for name, check in CHECKS[kind].items()]


def _named(case: Case, name: str, check: Callable[[Case], None]) -> Callable[[], None]:
    where = f"{case.kind} {case.key!r}, check {name!r}"

    def run() -> None:
        try:
            check(case)
        except LookaheadError as err:
            raise LookaheadError(f"{where}: {err}") from err
        except AssertionError as err:
            raise AssertionError(f"{where}: {err}") from err
        except Exception as err:
            raise AssertionError(f"{where}: raised {type(err).__name__}: {err}") from err

    run.__name__ = run.__qualname__ = f"check_{name}"
    return run


CHECKS: dict[str, dict[str, Callable[[Case], None]]] = {
    "step": STEP_CHECKS,
    "strategy": STRATEGY_CHECKS,
    "cost": COST_CHECKS,
    "detector": DETECTOR_CHECKS,
}

