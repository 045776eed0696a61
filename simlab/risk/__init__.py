"""Layer 3: risk Steps and the regime detectors they read.

- :mod:`~simlab.risk.regime`: regime detectors (the ``detector`` registry kind: VIX
  threshold, realized-volatility percentile, trend, hidden Markov model) and the regime
  Features built on them (labels, states, smoothed limit paths).
- :mod:`~simlab.risk.constraints`: the ``regime_constraints`` Step, limits that tighten
  with the regime, reading the exposure Features of :mod:`~simlab.risk.exposures`.
- :mod:`~simlab.risk.constraint_set`: one decision's constraint arithmetic (checks,
  restores, projection, turnover move); :mod:`~simlab.risk.backoff`: the backoff curve.
- :mod:`~simlab.risk.overlays`: overlay Steps (position limit, volatility target,
  drawdown breaker, VIX regime); :mod:`~simlab.risk.checks`: pre-trade check Steps;
  :mod:`~simlab.risk.regime_sizing`: the ``regime_sizing`` Step (a multiplier per regime).

Importing the package registers its components (the ``simlab.components`` entry point).
"""

from simlab.risk import checks  # noqa: F401  (registers the pre-trade checks)
from simlab.risk import constraints  # noqa: F401  (registers regime_constraints)
from simlab.risk import overlays  # noqa: F401  (registers the overlay Steps)
from simlab.risk import regime  # noqa: F401  (registers the regime detectors)
from simlab.risk import regime_sizing  # noqa: F401  (registers regime_sizing)
