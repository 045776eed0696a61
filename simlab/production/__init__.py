"""Layer 6, beside ``lab``: the book run by the same pipeline as the backtest.

``state`` (:class:`PortfolioState`, the book between runs), ``stores`` (memory, JSON, SQLite,
PostgreSQL, chosen by URL; transactional, versioned, optimistically locked), ``replay`` (the
engine's event loop resumed on a stored book), ``pipeline`` (one run at ``--as-of``: orders,
decision, new state), ``book_ops`` (what ``simlab state`` does), ``crash`` (the SIGKILL drill),
``monitoring`` and ``alerts`` (what ``simlab monitor`` does: the rules of
:mod:`simlab.analysis.monitors` on a book, alert sinks), ``risk_report`` (``simlab report``).
Imports ``engine`` and below, never ``lab``.
"""
