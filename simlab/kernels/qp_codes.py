"""The numbers the QP kernels share: status codes, option positions, constants, active-set codes.

Both kernel sets, the numba one (:mod:`simlab.kernels.qp`, :mod:`simlab.kernels.qp_polish`)
and the array-namespace twin (:mod:`simlab.kernels.qp_xp`), read these, as does the wrapper
(:mod:`simlab.kernels.qp_solve`); none of them imports another for them.
"""

from __future__ import annotations

# status codes of a solve, named by STATUS_NAMES
SOLVED, MAX_ITER, PRIMAL_INFEASIBLE, DUAL_INFEASIBLE, NON_FINITE, NON_CONVEX = range(6)
STATUS_NAMES = ("solved", "max_iter", "primal_infeasible", "dual_infeasible", "non_finite",
                "non_convex")

# rho is kept in [RHO_MIN, RHO_MAX]; equality rows get EQ_SCALE times it; DIV_TOL guards divisions
RHO_MIN, RHO_MAX, EQ_SCALE = 1e-6, 1e6, 1e3
DIV_TOL = 1e-30

# positions in the ``opts`` vector the kernels take (built by ADMMSettings.as_array)
O_EPS_ABS, O_EPS_REL, O_EPS_PINF, O_EPS_DINF, O_MAX_ITER, O_CHECK, O_ALPHA, O_SIGMA = range(8)
O_ADAPTIVE, O_RHO_TOL, O_POLISH, O_REFINE, O_DELTA = range(8, 13)

# active-set codes of a weight: free, at lo, at hi, fixed (lo == hi), at the kink w0,
# free above w0, free below w0; a dense row's code is 0 inactive, 1 at l, 2 at u, 3 equality
FREE, AT_LO, AT_HI, FIXED, KINK, ABOVE, BELOW = range(7)
