"""Diagnostics roles: what a diagnostics key means to the readers of a run.

A Step's diagnostics keys are its own to name; the few that readers act on declare a
role instead, in the Step's ``diagnostic_roles`` (a ClassVar mapping a key, or a
``fnmatch`` pattern such as ``"util_*"``, to a :class:`Role`). The engine records each
value's role next to it (the ``role`` column of ``Result.diagnostics``) and the report reads
the role, never the key's spelling. The :data:`~simlab.contract.step.HOLD` key has the
``hold`` role on every Step without declaring it.
"""

from __future__ import annotations

from enum import StrEnum
from fnmatch import fnmatchcase

from simlab.contract.step import HOLD


class Role(StrEnum):
    """The roles a diagnostics value may play; each value is recorded as its plain string."""

    UTILIZATION = "utilization"
    """How close a constraint is to its limit: 0 far from it, 1 at it."""
    FALLBACK = "fallback"
    """Above 0 on a decision where the Step fell back from its first choice (a solver chain, cash)."""
    PROXY = "proxy"
    """Above 0 on a decision where a stand-in replaced missing data (a VIX proxy)."""
    HOLD = "hold"
    """True where the scenario must not trade at this decision."""


UTILIZATION, FALLBACK, PROXY = Role.UTILIZATION, Role.FALLBACK, Role.PROXY


def role_of(step_class: type | None, key: str) -> Role | None:
    """The role of diagnostics ``key`` reported by a Step of ``step_class``; None without one.

    An exact entry of ``step_class.diagnostic_roles`` wins over a pattern; patterns are tried
    in their declared order. ``step_class`` None (the engine's own diagnostics) has no roles.
    """
    if step_class is None:
        return None
    if key == HOLD:
        return Role.HOLD
    declared = getattr(step_class, "diagnostic_roles", {})
    if key in declared:
        return Role(declared[key])
    for pattern, role in declared.items():
        if fnmatchcase(key, pattern):
            return Role(role)
    return None
