"""Risk Steps: overlays, and later regimes, constraints and checks."""

from simlab.risk import checks  # noqa: F401  (registers the pre-trade checks)
from simlab.risk import constraints  # noqa: F401  (registers regime_constraints)
from simlab.risk import overlays  # noqa: F401  (registers the overlay Steps)
