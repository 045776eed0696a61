"""Layer 5: reading finished runs: metrics, statistics, claims, plots and the report.

Above the engine and below the lab: these modules read a finished
:class:`~simlab.engine.result.Replay` (or plain pandas objects) and never run an
experiment (that is ``lab``'s job, one layer up).

``metrics``      performance metrics by family (returns, drawdowns, relative, trading)
``statistics``   PSR, DSR, MinTRL, block bootstraps, the equal-Sharpe test
``claims``       the claims of an experiment judged on its run (``simlab.lab.validate`` runs it)
``tables``       metrics as text: which are percents, how each value prints
``plots``        matplotlib figures of a run
``run_series``   the daily series the report draws (rolling Sharpe, turnover, regimes...)
``factor_regression``   alpha and betas on factor returns, Newey-West t-statistics
``risk_decomposition``  marginal and component contributions to volatility, VaR, CVaR
``brinson``      Brinson-Fachler by sector, periods linked (GRAP)
``attribution``  all of the above for a finished run (``Result.attribution()``)
``slippage``     realized against estimated costs per fill
``caveats``      the caveats of a run, in words
``html_page``    HTML building blocks of the report
``report``       what the HTML report shows, section by section
"""
