"""Layer 6: experiments.

``run`` (``simlab.run``: load, simulate, return a :class:`~simlab.lab.result.Result`),
``result`` (a Replay with its metrics and run folder), ``store`` (run folders),
``sweep`` and ``executors`` (variants on local processes or Dask), ``stress`` (stress
replay), ``validate`` (claims put on trial). Everything that runs an experiment lives here or above.
"""
