"""Layer 2: causal features, computed for every decision row in one batch.

``base`` (the Feature contract and the table the engine serves them from), ``returns``,
``volatility``, ``covariance`` (wrappers over the kernels: validate, choose a backend,
call, label) and ``factor_model`` (PCA and fundamental factor risk models). A feature's value at row t uses data at rows <= t only. Imports ``data``,
``config``, ``kernels`` and ``errors``.
"""
