"""Layer 5: reading finished runs.

Metrics, statistics, claims on trial, plots, text tables and the report: functions of a
finished :class:`~simlab.engine.result.Replay` (or of plain return series) that never run
an experiment themselves (that is ``lab``'s job, one layer up).
"""
