"""Layer 3: execution, from target weights to the book.

Orders wait for their fill day (:mod:`~simlab.execution.orders`); on it they become fills
(:mod:`~simlab.execution.fills`: lots, minimum trade value, sells before buys, buys scaled
to the cash), clipped by the participation cap (:mod:`~simlab.execution.participation`) and
priced by the run's cost models on the inputs they require
(:mod:`~simlab.execution.cost_inputs`); the broker (:mod:`~simlab.execution.broker`)
dispatches each group to the numpy path or the compiled fill kernel, and the book
(:mod:`~simlab.execution.book`) takes the fills and the daily accounting.

It imports only lower layers (contract, features, data, config, kernels, errors): cost
models are handed in by the engine, already built, and called through their contract.
"""
