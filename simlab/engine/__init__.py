"""Layer 4: the replay loop and its labelled output.

``simulate`` sequences features, Steps, rebalancing and execution (orders, fills, costs and
the book's accounting, all :mod:`simlab.execution`'s) over time; ``pipeline`` builds the
batched Steps of each scenario group from the resolved config; ``record`` keeps what happened
(holdings snapshots, fills, diagnostics with their roles); ``result`` puts labels back on the
arrays (:class:`~simlab.engine.result.Replay`).
Imports the Step packages and everything below them; metrics, run folders and experiments
live above (``analysis``, ``lab``).
"""
