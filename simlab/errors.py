"""The small error hierarchy simlab raises.

Every error speaks to a researcher: it names the config key, the date, the scenario
or the asset it is about. Context found on the way up is attached with ``add_note``.
"""

from __future__ import annotations


class SimlabError(Exception):
    """Base class of every error simlab raises on purpose."""


class ConfigError(SimlabError, ValueError):
    """An experiment or universe config is invalid; the message names the key path."""


class DataError(SimlabError, ValueError):
    """Market data is malformed; the message names the asset and the date."""


class SolverError(SimlabError, RuntimeError):
    """An optimizer failed and no fallback was configured."""


class LookaheadError(SimlabError, IndexError):
    """Code asked a point-in-time view for data after its decision date."""


class SimlabWarning(UserWarning):
    """A recoverable problem worth a researcher's attention."""


class StepError(SimlabError, RuntimeError):
    """A pipeline Step returned weights that cannot be traded (NaN, wrong shape)."""


class RunHealthError(SimlabError, RuntimeError):
    """A run's result cannot be trusted: a NaN or infinite NAV, or (under ``--strict``) a
    degenerate book; the message names the scenario and the date."""
