"""Layer 6: test helpers for simlab and its plugins: builders, assertions, and the conformance checks.

``check_component(kind, key)`` runs the component contract's checks on one registered
component (see :mod:`simlab.testing.conformance`); ``checks_for(kind, key)`` lists them
for a test suite to parametrize over; ``registered(kind, key, cls)`` registers a class
inside a ``with`` block only. Hypothesis strategies live in :mod:`simlab.testing.strategies`.
"""

from simlab.testing.conformance import CHECKS, check_component, checks_for, component_checks
from simlab.testing.examples import EXAMPLES, add_example, registered
from simlab.testing.markets import conformance_market, perturb_after

__all__ = [
    "CHECKS",
    "EXAMPLES",
    "add_example",
    "check_component",
    "checks_for",
    "component_checks",
    "conformance_market",
    "perturb_after",
    "registered",
]
