"""simlab: replay history through a whole portfolio-management stack.

>>> import simlab
>>> res = simlab.run("configs/experiments/quickstart.yaml")   # doctest: +SKIP
>>> res.metrics()                                              # doctest: +SKIP
"""

from simlab.config.loader import Config, load_config
from simlab.engine.result import Result
from simlab.errors import ConfigError, DataError, LookaheadError, SimlabError, SolverError, StepError
from simlab.lab.run import run

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "LookaheadError",
    "Result",
    "SimlabError",
    "SolverError",
    "StepError",
    "load_config",
    "run",
]
