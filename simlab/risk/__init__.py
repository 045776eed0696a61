"""Risk Steps: overlays, and later regimes, constraints and checks."""

from simlab.risk import overlays  # noqa: F401  (registers the overlay Steps)
