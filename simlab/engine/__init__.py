"""Layer 4: the replay loop and its labelled output.

``simulate`` sequences features, Steps, rebalancing, orders, costs and the accounting
kernels over time; ``pipeline`` builds the batched Steps of each scenario group from the
resolved config; ``result`` puts labels back on the arrays (:class:`~simlab.engine.result.Replay`).
Imports the Step packages and everything below them; metrics, run folders and experiments
live above (``analysis``, ``lab``).
"""
