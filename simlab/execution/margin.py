"""Book rules applied to an order's target weights on its fill day: margin and restricted shorts.

Both act on the target weights (B, N), fractions of NAV at the fill prices, before the fill
is planned, and both say what they did in the fill diagnostics.

Margin
------
With ``execution.margin`` = m, a book needs equity (NAV) of at least ``m`` times its gross
position value ``sum |w| * NAV``: its gross exposure may be at most ``1 / m`` times NAV
(Reg T's 50% gives 2x). An order whose target gross ``G`` breaks that (``m G > 1``):

- ``margin_action: scale``: every target weight is multiplied by ``1 / (m G)``, so the
  book lands exactly on its limit with its shape kept (``gross_margin_scale`` < 1);
- ``margin_action: block``: the scenario does not trade that day, unless the order lowers
  the gross exposure of the book it would replace (a de-risking order always goes
  through) (``gross_margin_blocked`` = 1).

Restricted names
----------------
An asset the universe marks ``restricted`` may not be shorted anew: its target weight is
raised to ``min(current weight, 0)`` where it is below that (an existing short may be kept
or covered; a long may be sold down to zero, not past it). ``short_blocked`` counts the
names a fill day held back.
"""

from __future__ import annotations

import numpy as np

MARGIN_TOL = 1e-9  # a target at its limit to round-off is within it


def margin_targets(targets: np.ndarray, current: np.ndarray, margin: float | None,
                   action: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Targets (B, N) that meet the margin requirement, the scenarios still trading (B,), diagnostics.

    ``current`` (B, N) are the book's weights at the fill prices. ``margin`` None: nothing
    changes and no diagnostics. Diagnostics (B,): ``gross_margin_scale``, ``gross_margin_blocked`` and
    ``gross_margin_used`` (the requirement as a share of NAV of the book the day aims at: the
    targets, or the current book where blocked).
    """
    trade = np.ones(len(targets), dtype=bool)
    if margin is None:
        return targets, trade, {}
    gross = np.abs(targets).sum(axis=1)
    need = margin * gross
    over = need > 1.0 + MARGIN_TOL
    scale = np.ones(len(targets))
    blocked = np.zeros(len(targets))
    if action == "scale":
        scale = np.where(over, 1.0 / np.where(over, need, 1.0), 1.0)
        targets = np.where(over[:, None], targets * scale[:, None], targets)
    else:
        derisk = gross < np.abs(current).sum(axis=1)
        stop = over & ~derisk
        trade = ~stop
        blocked = stop.astype(float)
    used = np.where(trade, margin * np.abs(targets).sum(axis=1), margin * np.abs(current).sum(axis=1))
    return targets, trade, {"gross_margin_scale": scale, "gross_margin_blocked": blocked, "gross_margin_used": used}


def restricted_targets(targets: np.ndarray, current: np.ndarray, restricted: np.ndarray) -> tuple[np.ndarray, dict]:
    """Targets (B, N) with no new short in a ``restricted`` (N,) name, and ``short_blocked`` (B,)."""
    if not restricted.any():
        return targets, {}
    floor = np.minimum(current, 0.0)
    held_back = restricted[None, :] & (targets < floor - MARGIN_TOL)
    if not held_back.any():
        return targets, {"short_blocked": np.zeros(len(targets))}
    return np.where(held_back, floor, targets), {"short_blocked": held_back.sum(axis=1).astype(float)}
