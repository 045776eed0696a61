"""simlab: replay history through a whole portfolio-management stack.

>>> import simlab
>>> res = simlab.run("configs/experiments/quickstart.yaml")   # doctest: +SKIP
>>> res.metrics()                                              # doctest: +SKIP

The package is built in layers that only import downwards (README, "Layout"):
``errors`` < ``kernels`` < ``config``, ``data`` < ``features`` < ``contract`` <
``costs``, ``portfolio``, ``risk``, ``execution``, ``strategies`` < ``engine`` <
``analysis`` < ``lab``, ``testing`` < ``cli``. ``import simlab`` loads only the errors;
the rest of the public API below is imported on first use, so the command line starts fast.
"""

from importlib import import_module

from simlab.errors import ConfigError, DataError, LookaheadError, SimlabError, SolverError, StepError

__version__ = "0.1.0"

_LAZY = {
    "Config": "simlab.config.loader",
    "load_config": "simlab.config.loader",
    "load_run": "simlab.lab.saved",
    "Result": "simlab.lab.result",
    "run": "simlab.lab.run",
}

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
    "load_run",
    "run",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
