"""Layer 6, beside ``lab``: the book run by the same pipeline as the backtest.

Empty for now: portfolio state and its stores, the production pipeline, monitoring and
alerts will live here, importing ``engine`` and below, never ``lab``.
"""
