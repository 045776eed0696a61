"""Lot rounding: without fractional shares, trades are whole multiples of the lot size."""

from __future__ import annotations

import numpy as np


def round_lots(shares: np.ndarray, execution) -> np.ndarray:
    """Round trades toward zero to whole lots (nothing to do with fractional shares).

    A book holding 28.57 shares with a target of 57.14 buys 28; a sell of 3.9 lots sells 3.
    ``execution`` is an :class:`~simlab.config.schema.ExecutionConfig` (``fractional``, ``lot_size``).
    """
    if execution.fractional:
        return shares
    return np.trunc(shares / execution.lot_size) * execution.lot_size


def round_down_lots(shares: np.ndarray, execution) -> np.ndarray:
    """Round non-negative buys down to whole lots, so a scaled buy never exceeds its cash."""
    if execution.fractional:
        return shares
    return np.floor(shares / execution.lot_size) * execution.lot_size
