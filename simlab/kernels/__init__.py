"""Layer 0: numerical hot paths as pure array functions (above ``errors`` only).

The contract: arrays and scalars in, arrays and scalars out; no pandas, config, logging or
I/O. CPU kernels are numba ``@njit(cache=True)`` and end in ``_nb``; an array-namespace
twin (numpy or cupy) ends in ``_xp``. Each kernel's docstring names the numpy/pandas
computation it equals, and its tests check it against that plain-numpy reference.

Compiling from an empty numba cache is what a first run waits on, so the kernels are
written to compile quickly: no array stored into a slice (numba compiles a shape-error
message formatter for each such store; element loops instead), private helpers called
only from compiled code compiled without Python and C entry wrappers
(``no_cpython_wrapper``: calling one from Python crashes the interpreter), one
specialization per kernel (typed values, not literals, where a first typing pass would
make a second), and ``inline="always"`` only where it measurably helps (numba re-types an
inlined body at each call site). ``prefetch`` compiles the kernels a run reaches late in
a second process meanwhile.

Modules:

- ``accounting``: daily mark-to-market (holdings, NAV, peak NAV) and the fills of a rebalance.
- ``covariance``: weighted moments of trailing windows batched over decision rows
  (sample, EWMA, regime-selected rows, pairwise); ``shrinkage``: Ledoit-Wolf shrinkage of
  those estimates; ``nearest_psd``: PSD tests, nearest PSD and the batched repair;
  ``covariance_xp``: the array-namespace twins of all three.
- ``dispatch``: the covariance family's backend table and engine-neutral entry,
  :func:`~simlab.kernels.dispatch.covariance_batch`.
- ``qp``: the batched ADMM QP solver's numba iteration and drivers; ``qp_polish``: its
  active-set polish; ``qp_linalg``: the vector helpers, Cholesky solve and residuals both
  share; ``qp_xp``: the array-namespace twin; ``qp_codes``: the status codes, option
  positions and constants they all read; ``qp_solve``: the public entry
  :func:`~simlab.kernels.qp_solve.solve_qp` (settings, warm-start state, result) and its
  backend table.
- ``projections``: projections and proximal maps onto the box, the capped simplex and the
  L1 ball.
- ``hmm``: the two-state Gaussian hidden Markov model (forward filter, posteriors, Baum-Welch fit).
- ``hrp``: the recursive bisection of hierarchical risk parity; ``leaf_order``: a dendrogram's
  leaf order and scipy's optimal leaf ordering, compiled.
- ``weights``: batched weight arithmetic shared by Steps (ranking, capping).
- ``holdings``: the holdings metrics (effective number of assets, diversification ratio,
  position hit rate) from holdings snapshots, one segment of unchanged holdings at a time.
- ``prefetch``: kernel groups (the QP, the leaf ordering) compiled into numba's cache by a
  child process while a run loads its data and features.
- ``_support``: which backend runs (:func:`~simlab.kernels._support.resolve_backend`);
  ``_xp``: the array namespace of a computation.
"""
