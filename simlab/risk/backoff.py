"""Continuous backoff: a constraint's utilization becomes a scaling factor for its drivers.

A hard limit that only bites at 100% makes a portfolio jump from untouched to clipped. The
backoff curve sizes down *before* the limit: it maps utilization ``u`` (current / limit, or
for a band the distance from its middle over its half-width) to a factor ``f(u)`` in (0, 1]
that multiplies the positions driving that constraint. The curve is piecewise linear
through configurable breakpoints, flat before the first and after the last one, so it is
continuous and, because factors never rise with utilization, monotone non-increasing.

The default, in utilization -> factor pairs::

    (0.70, 1.00)  (0.80, 0.90)  (0.90, 0.70)  (0.95, 0.50)  (1.00, 0.25)

that is: untouched up to 70% of a limit, then 0.9 at 80%, 0.7 at 90%, 0.5 at 95% and 0.25
at (and beyond) the limit. Factors of several constraints that share a position multiply.
An undefined utilization (NaN: nothing held, no data) gives the factor 1.

The design documents' rule, as written: "backoff_factors: [0.9, 0.7, 0.5, 0.25] applied
when utilization crosses [70%, 80%, 90%, 95%]" is a *table* (``mode="table"``,
:data:`AS_WRITTEN_TABLE`): the factor of the last threshold strictly crossed, 1 below the
first, a step at each threshold. Their own example "0.92 -> 0.25x" does not follow that
table (0.92 crosses 90%, not 95%: 0.5x); the table is what is implemented. The piecewise
linear curve is the default because a step makes a position jump by 22% when its
utilization moves from 69.9% to 70.1%, which turns estimation noise into turnover.

The constraints whose utilizations feed the curve, and the factors' application to (B, N)
weights, are in :mod:`simlab.risk.constraint_set`.

>>> curve = BackoffCurve.from_pairs(DEFAULT_BREAKPOINTS)
>>> [round(float(f), 3) for f in curve([0.5, 0.7, 0.75, 0.8, 0.925, 1.0, 3.0])]
[1.0, 1.0, 0.95, 0.9, 0.6, 0.25, 0.25]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simlab.errors import ConfigError

AS_WRITTEN_TABLE: tuple[tuple[float, float], ...] = (
    (0.70, 0.90),
    (0.80, 0.70),
    (0.90, 0.50),
    (0.95, 0.25),
)
MODES = ("curve", "table")

DEFAULT_BREAKPOINTS: tuple[tuple[float, float], ...] = (
    (0.70, 1.00),
    (0.80, 0.90),
    (0.90, 0.70),
    (0.95, 0.50),
    (1.00, 0.25),
)


@dataclass(frozen=True)
class BackoffCurve:
    """Map from utilization to a factor in (0, 1]: piecewise linear, or a step table.

    Attributes
    ----------
    utilization : strictly increasing breakpoints, each >= 0.
    factor : the factor at each breakpoint, in (0, 1], non-increasing.
    mode : ``curve`` interpolates linearly between breakpoints (flat outside them);
        ``table`` gives the factor of the last breakpoint *strictly exceeded*, 1 at or
        below the first (on :data:`AS_WRITTEN_TABLE`, 0.70 gives 1.0 and 0.92 gives 0.5).
    """

    utilization: tuple[float, ...]
    factor: tuple[float, ...]
    mode: str = "curve"

    def __post_init__(self):
        check_breakpoints(list(zip(self.utilization, self.factor)))
        if self.mode not in MODES:
            raise ConfigError(f"backoff mode must be one of {', '.join(MODES)}; got {self.mode!r}")

    @classmethod
    def from_pairs(cls, pairs: Sequence[Sequence[float]], mode: str = "curve") -> BackoffCurve:
        """A curve from ``[[utilization, factor], ...]`` pairs (validated)."""
        check_breakpoints(pairs)
        return cls(tuple(float(u) for u, _ in pairs), tuple(float(f) for _, f in pairs), mode)

    def __call__(self, utilization) -> np.ndarray:
        """Factor for each utilization (any shape); NaN utilization gives 1."""
        u = np.asarray(utilization, dtype=float)
        nan = np.isnan(u)
        if self.mode == "table":
            crossed = np.searchsorted(np.asarray(self.utilization), np.where(nan, -np.inf, u), side="left")
            f = np.r_[1.0, np.asarray(self.factor)][crossed]
        else:
            f = np.interp(np.where(nan, -np.inf, u), self.utilization, self.factor)
        return np.where(nan, 1.0, f)

    @property
    def start(self) -> float:
        """The highest utilization whose factor is still 1 (where backing off begins)."""
        ones = [u for u, f in zip(self.utilization, self.factor) if f >= 1.0]
        if self.mode == "table":
            return ones[-1] if ones else self.utilization[0]
        return ones[-1] if ones else 0.0


def check_breakpoints(pairs, where: str = "backoff") -> list[list[float]]:
    """Validate ``[[utilization, factor], ...]``; return them as plain float lists.

    Raises
    ------
    ConfigError
        No pairs, a pair that is not two numbers, utilizations not strictly increasing or
        negative, a factor outside (0, 1], or factors that rise with utilization.
    """
    try:
        out = [[float(u), float(f)] for u, f in pairs]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a list of [utilization, factor] pairs; got {pairs!r}") from None
    if not out:
        raise ConfigError(f"{where}: needs at least one [utilization, factor] breakpoint")
    us = [u for u, _ in out]
    fs = [f for _, f in out]
    if not all(np.isfinite(us)) or min(us) < 0:
        raise ConfigError(f"{where}: utilizations must be finite and >= 0; got {us}")
    for a, b in zip(us, us[1:]):
        if not b > a:
            raise ConfigError(f"{where}: utilizations must be strictly increasing; got {a} then {b} in {us}")
    for f in fs:
        if not 0.0 < f <= 1.0:
            raise ConfigError(f"{where}: factors must be in (0, 1]; got {f} in {fs}")
    for a, b in zip(fs, fs[1:]):
        if b > a:
            raise ConfigError(f"{where}: factors must not rise with utilization; got {a} then {b} in {fs}")
    return out


def group_factor(curve: BackoffCurve, group_util: np.ndarray, member_of: np.ndarray) -> np.ndarray:
    """(B, N) factor of each asset from the utilization (B, G) of the group it belongs to.

    ``member_of`` (B, N) holds each asset's group index, -1 for none (factor 1).
    """
    f = curve(group_util)
    idx = np.clip(member_of, 0, None)
    out = np.take_along_axis(f, idx, axis=1)
    return np.where(member_of >= 0, out, 1.0)


def driver_factor(curve: BackoffCurve, util: np.ndarray, drivers: np.ndarray) -> np.ndarray:
    """(B, N) factor: ``curve(util)`` (B,) on the driving positions (B, N) bool, 1 elsewhere."""
    return np.where(drivers, curve(util)[:, None], 1.0)
