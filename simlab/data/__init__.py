"""Layer 1: market data: the container, loaders for real and synthetic data, and validation.

Imports only ``errors`` below it.

>>> from simlab.data import load
>>> md = load("builtin:sp500_20")          # doctest: +SKIP
>>> md.close.shape                          # doctest: +SKIP
(8313, 20)
"""

from simlab.data.futures import ContinuousFuture, back_adjusted, continuous_future
from simlab.data.instruments import Instruments, apply_instruments
from simlab.data.layouts import from_frame
from simlab.data.loaders import available, load, load_series, load_table, register_loader
from simlab.data.market import MarketData, PointInTimeView
from simlab.data.synthetic import generate_market
from simlab.data.synthetic_instruments import generate_crypto, generate_etf, generate_futures_chain
from simlab.data.validate import validate_market

__all__ = [
    "ContinuousFuture",
    "Instruments",
    "MarketData",
    "PointInTimeView",
    "apply_instruments",
    "available",
    "back_adjusted",
    "continuous_future",
    "from_frame",
    "generate_crypto",
    "generate_etf",
    "generate_futures_chain",
    "generate_market",
    "load",
    "load_series",
    "load_table",
    "register_loader",
    "validate_market",
]
