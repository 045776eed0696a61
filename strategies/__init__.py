"""Signal generators, one module each, registered by name under the ``strategy`` kind.

Modules are imported here explicitly; nothing scans the filesystem.
"""

from strategies import momentum  # noqa: F401
from strategies import long_term_reversal, low_volatility, trend, value_momentum  # noqa: F401
from strategies.base import Strategy

__all__ = ["Strategy"]
