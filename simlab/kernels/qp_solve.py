"""The batched QP solver's public entry: :func:`solve_qp`, its settings, state and result.

:func:`solve_qp` validates and broadcasts the problem arrays, builds the cold or warm
state, resolves the backend (:func:`simlab.kernels._support.resolve_backend`) and runs the
kernels its table :data:`QP_BACKENDS` names for it: the numba kernel
:func:`simlab.kernels.qp.admm_solve_nb` (on ``threads`` slices of K, with BLAS/LAPACK held
to one thread meanwhile) or its array-namespace twin
:func:`simlab.kernels.qp_xp.admm_solve_xp` on numpy or cupy. Status codes and the
``opts`` positions are in :mod:`simlab.kernels.qp_codes`; the problem and the algorithm
are in :mod:`simlab.kernels.qp`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, fields
from itertools import pairwise

import numpy as np

from simlab.kernels import prefetch
from simlab.kernels._support import resolve_backend
from simlab.kernels._xp import cupy_module, to_numpy
from simlab.kernels.qp import admm_solve_nb, cold_start_nb
from simlab.kernels.qp_codes import SOLVED
from simlab.kernels.qp_xp import admm_solve_xp


@dataclass(frozen=True)
class ADMMSettings:
    """Knobs of the ADMM solver (OSQP's names; defaults tuned for portfolio QPs).

    ``eps_abs``/``eps_rel`` are the stopping tolerances (dual side on the cost-normalized
    problem), ``eps_pinf``/``eps_dinf`` the infeasibility tolerances, ``check_every`` the
    iterations between residual checks (and rho updates), ``rho`` the cold-start penalty
    (raised on problems with a strong linear term, see :mod:`simlab.kernels.qp`), ``rho_tol``
    the factor rho must move by before a refactorization, ``alpha`` the
    over-relaxation, ``sigma`` the x-regularization, ``delta`` and ``polish_refine`` the
    polish regularization and its refinement steps.
    """

    eps_abs: float = 1e-7
    eps_rel: float = 1e-7
    eps_pinf: float = 1e-5
    eps_dinf: float = 1e-5
    max_iter: int = 4000
    check_every: int = 10
    alpha: float = 1.6
    sigma: float = 1e-6
    rho: float = 3.0
    adaptive_rho: bool = True
    rho_tol: float = 5.0
    polish: bool = True
    polish_refine: int = 3
    delta: float = 1e-7

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("adaptive_rho", "polish"):
                continue
            ok = np.isfinite(v) and (v >= 0 if f.name in ("max_iter", "polish_refine") else v > 0)
            if not ok:
                raise ValueError(f"ADMMSettings.{f.name} must be a positive finite number; got {v!r}")
        if not 0.0 < self.alpha < 2.0:
            raise ValueError(f"ADMMSettings.alpha must be in (0, 2); got {self.alpha!r}")
        if self.rho_tol <= 1.0:
            raise ValueError(f"ADMMSettings.rho_tol must be > 1; got {self.rho_tol!r}")

    def as_array(self) -> np.ndarray:
        """The ``opts`` vector the kernels read (positions ``O_*`` of :mod:`simlab.kernels.qp_codes`)."""
        return np.array([self.eps_abs, self.eps_rel, self.eps_pinf, self.eps_dinf, self.max_iter,
                         self.check_every, self.alpha, self.sigma, float(self.adaptive_rho),
                         self.rho_tol, float(self.polish), self.polish_refine, self.delta])


@dataclass(frozen=True, eq=False)
class QPState:
    """ADMM state to warm-start the next solve: x (K, N), z and y (K, N + m), rho (K,).

    ``z`` and ``y`` follow the rows ``[w (N); budget (1, if any); G (m_g); F (m_f)]``; ``y``
    is in the caller's cost units. A state fits a later call with the same K, N and rows.
    """

    x: np.ndarray
    z: np.ndarray
    y: np.ndarray
    rho: np.ndarray

    def subset(self, rows) -> QPState:
        """The state of the problems ``rows`` (an index or mask over K)."""
        return QPState(self.x[rows], self.z[rows], self.y[rows], self.rho[rows])


@dataclass(frozen=True, eq=False)
class QPResult:
    """Outcome of :func:`solve_qp` for K problems.

    Attributes
    ----------
    w : (K, N) weights; never NaN (the hold point ``w0`` where status >= 2).
    status : (K,) int64 codes, names in :data:`simlab.kernels.qp_codes.STATUS_NAMES` (0 solved, 1 max_iter,
        2 primal infeasible, 3 dual infeasible, 4 non-finite input, 5 non-convex).
    iterations, factorizations : (K,) int64 ADMM iterations and KKT factorizations.
    objective : (K,) ``0.5 w'Pw + q'w + kappa'|w - w0|`` (+inf infeasible, -inf unbounded).
    primal_residual : (K,) ``||Aw - z||_inf`` in the units of the constraints.
    dual_residual : (K,) ``||cPw + cq + A'y||_inf`` on the cost-normalized problem.
    polished : (K,) bool, the polish step was accepted.
    cost_scale : (K,) the ``c`` of the cost normalization.
    state : QPState to pass as ``state=`` to the next call.
    backend : the backend that ran; ``note`` says why when it is not the one asked for.
    """

    w: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    objective: np.ndarray
    primal_residual: np.ndarray
    dual_residual: np.ndarray
    polished: np.ndarray
    factorizations: np.ndarray
    cost_scale: np.ndarray
    state: QPState
    backend: str = "numba"
    note: str = ""

    @property
    def solved(self) -> np.ndarray:
        """(K,) bool, status == 0."""
        return self.status == SOLVED


def solve_qp(P, q=None, *, lo=-np.inf, hi=np.inf, budget=1.0, G=None, g=None, F=None, a=None, b=None,
             w0=None, kappa=0.0, state: QPState | None = None, settings: ADMMSettings | None = None,
             backend: str = "numba", threads: int = 1) -> QPResult:
    """Solve K portfolio QPs ``min 0.5 w'Pw + q'w + kappa |w - w0|_1`` in one call.

    Subject to ``sum(w) = budget`` (no budget row when ``budget`` is None), ``lo <= w <=
    hi``, ``G w <= g`` and ``a <= F w <= b``. The algorithm is in :mod:`simlab.kernels.qp`.

    Parameters
    ----------
    P : (K, N, N) or (N, N) covariance-type matrices, symmetric PSD (symmetrized here).
    q : (K, N) or (N,) linear term, e.g. ``-lambda * mu``; None for zeros.
    lo, hi : scalar, (N,) or (K, N) bounds; +-inf for none.
    budget : scalar or (K,), or None.
    G, g : (m_g, N) or (K, m_g, N) group rows and their caps, scalar, (m_g,) or (K, m_g).
    F, a, b : (m_f, N) or (K, m_f, N) linear rows and lower/upper bounds (default -+inf).
    w0 : (K, N) or (N,) anchor of the L1 term (the current weights); None for zeros.
    kappa : scalar or (K,) per problem, or (K, N)/(1, N) per asset; >= 0.
    state : QPState from a previous call (warm start) or None (cold start from ``w0``
        projected onto the box and budget).
    settings : ADMMSettings or None for the defaults.
    backend : "numba", "numpy" or "cupy" (the xp twin), or "auto".
    threads : split the K problems over this many threads (numba backend; the kernel
        releases the GIL). Results do not depend on it.

    Returns
    -------
    QPResult. Infeasible, unbounded and invalid problems are reported by ``status``, not
    raised; a ValueError is raised only for inconsistent shapes or arguments.
    """
    prefetch.wait("qp")  # a child compiling the kernels into numba's cache: load them from there
    settings = ADMMSettings() if settings is None else settings
    P = _as_matrices(P)
    K, N = P.shape[0], P.shape[1]
    q = _per_asset("q", 0.0 if q is None else q, K, N)
    lo, hi = _per_asset("lo", lo, K, N), _per_asset("hi", hi, K, N)
    w0 = _per_asset("w0", 0.0 if w0 is None else w0, K, N)
    kappa = _kappa(kappa, K, N)
    U, l, u, bud = _dense_rows(K, N, budget, G, g, F, a, b)
    x, z, y, rho = _initial_state(state, settings, P, q, lo, hi, w0, bud, U)
    opts = settings.as_array()
    support = resolve_backend(backend)
    run = QP_BACKENDS[support.backend]
    out = run(support.backend, threads, P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho)
    w, status, iters, obj, rp, rd, pol, nf, cs, x, z, y, rho = out
    return QPResult(w, status, iters, obj, rp, rd, pol, nf, cs, QPState(x, z, y, rho),
                    backend=support.backend, note=support.reason)


def compile_kernels() -> None:
    """Compile (or load from numba's cache) the numba kernels of :func:`solve_qp`, in the
    signatures it calls them with, by solving one two-asset problem
    (:mod:`simlab.kernels.prefetch` runs this in a child process)."""
    solve_qp(np.eye(2), np.zeros(2), lo=0.0, hi=1.0, w0=np.full(2, 0.5))


def _run_numba(backend, threads, P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho):
    """Call :func:`~simlab.kernels.qp.admm_solve_nb`, on ``threads`` contiguous slices of K at once
    (``backend`` is the table's common argument, always ``"numba"`` here)."""
    K, N = q.shape
    w = np.empty((K, N))
    status, iters, nf = (np.zeros(K, np.int64) for _ in range(3))
    obj, rp, rd, cs = (np.zeros(K) for _ in range(4))
    pol = np.zeros(K, np.bool_)
    arrays = (P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho, w, status, iters, obj, rp, rd, pol, nf, cs)
    run_in_slices(admm_solve_nb, arrays, (opts, U), K, threads)
    return w, status, iters, obj, rp, rd, pol, nf, cs, x, z, y, rho


def run_in_slices(kernel, arrays: tuple, whole: tuple, K: int, threads: int) -> None:
    """Call ``kernel(*arrays)`` on ``threads`` contiguous slices of the K problems at once.

    Every array is sliced along its first axis, except the settings and a dense-row block
    shared by all K problems (the members of ``whole`` whose first axis is not K); BLAS is
    held to one thread meanwhile (:func:`_single_threaded_blas`).
    """
    shared = {id(a) for a in whole if a.ndim == 1 or a.shape[0] == 1}

    def run(sl):
        kernel(*(a if id(a) in shared else a[sl] for a in arrays))

    bounds = np.linspace(0, K, min(max(int(threads), 1), K) + 1).astype(int)
    slices = [slice(a, b) for a, b in pairwise(bounds)]
    with _single_threaded_blas():
        if len(slices) <= 1:
            for sl in slices:
                run(sl)
        else:
            with ThreadPoolExecutor(len(slices)) as pool:
                list(pool.map(run, slices))


def _run_xp(backend, threads, *arrays):
    """Call :func:`~simlab.kernels.qp_xp.admm_solve_xp` on numpy or cupy arrays, all K
    problems together (``threads`` does not apply); host numpy arrays out."""
    xp = cupy_module() if backend == "cupy" else np
    with _single_threaded_blas():
        res = admm_solve_xp(*(xp.asarray(v) for v in arrays), xp=xp)
    return tuple(to_numpy(v) for v in res)


# backend -> runner(backend, threads, P, q, lo, hi, w0, kappa, U, l, u, opts, x, z, y, rho)
QP_BACKENDS = {"numba": _run_numba, "numpy": _run_xp, "cupy": _run_xp}


_BLAS_CONTROLLER: list = []


def _single_threaded_blas():
    """A context holding BLAS/LAPACK to one thread while the kernel factors many small
    matrices (a threaded factorization of a 100-500 matrix only adds synchronization,
    and on a busy machine its spinning threads slow it down many times); a no-op
    without threadpoolctl."""
    if not _BLAS_CONTROLLER:
        try:
            import scipy.linalg.cython_lapack  # noqa: F401 - load the LAPACK numba calls
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS_CONTROLLER.append(None)
        else:
            _BLAS_CONTROLLER.append(ThreadpoolController())
    controller = _BLAS_CONTROLLER[0]
    return nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def _as_matrices(P) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim == 2:
        P = P[None]
    if P.ndim != 3 or P.shape[1] != P.shape[2] or P.shape[1] == 0:
        raise ValueError(f"P must be (K, N, N) or (N, N) with N >= 1; got shape {P.shape}")
    return np.require(P, np.float64, ["C", "W"])  # symmetrized in the kernel


def _broadcast(name, value, shape, accepted) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    try:
        return np.array(np.broadcast_to(arr, shape), dtype=np.float64, order="C")
    except ValueError:
        raise ValueError(f"{name} must be {accepted}; got shape {arr.shape} for K={shape[0]}") from None


def _per_asset(name, value, K, N) -> np.ndarray:
    return _broadcast(name, value, (K, N), f"a scalar, (N,) or (K, N) with N={N}")


def _kappa(kappa, K, N) -> np.ndarray:
    arr = np.asarray(kappa, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    out = _broadcast("kappa", arr, (K, N), "a scalar, (K,), (1, N) or (K, N)")
    if np.any(out < 0):
        raise ValueError("kappa must be >= 0 (a turnover penalty); got a negative value")
    return out


def _rows(name, rows, K, N) -> np.ndarray:
    arr = np.asarray(rows, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] != N or arr.shape[0] not in (1, K):
        raise ValueError(f"{name} must be (m, N) or (K, m, N) with N={N}, K={K}; got shape {np.shape(rows)}")
    return arr


def _dense_rows(K, N, budget, G, g, F, a, b):
    """Stack ``[1'; G; F]`` into U (Ku, m, N) and their bounds l, u (K, m); budget (K,) or NaN."""
    blocks, lows, ups = [], [], []
    bud = np.full(K, np.nan)
    if budget is not None:
        bud = _broadcast("budget", budget, (K,), "a scalar or (K,)")
        blocks.append(np.ones((1, 1, N)))
        lows.append(bud[:, None])
        ups.append(bud[:, None])
    if G is not None:
        G = _rows("G", G, K, N)
        if g is None:
            raise ValueError("G was given without its caps g")
        blocks.append(G)
        ups.append(_broadcast("g", g, (K, G.shape[1]), "a scalar, (m_g,) or (K, m_g)"))
        lows.append(np.full((K, G.shape[1]), -np.inf))
    if F is not None:
        F = _rows("F", F, K, N)
        mf = F.shape[1]
        blocks.append(F)
        lows.append(_broadcast("a", -np.inf if a is None else a, (K, mf), "a scalar, (m_f,) or (K, m_f)"))
        ups.append(_broadcast("b", np.inf if b is None else b, (K, mf), "a scalar, (m_f,) or (K, m_f)"))
    if not blocks:
        return np.zeros((1, 0, N)), np.zeros((K, 0)), np.zeros((K, 0)), bud
    ku = max(blk.shape[0] for blk in blocks)
    U = np.concatenate([np.broadcast_to(blk, (ku, blk.shape[1], N)) for blk in blocks], axis=1)
    return np.ascontiguousarray(U), np.concatenate(lows, axis=1), np.concatenate(ups, axis=1), bud


def _initial_state(state, settings, P, q, lo, hi, w0, bud, U):
    def cold(rows):
        curvature = np.abs(np.diagonal(P[rows], axis1=1, axis2=2)).mean(axis=1)
        return cold_state(settings, curvature, q[rows], lo[rows], hi[rows], w0[rows], bud[rows],
                          U if len(U) == 1 else U[rows])

    return checked_state(state, lo.shape[0], lo.shape[1], lo.shape[1] + U.shape[1], cold)


def cold_state(settings, curvature, q, lo, hi, w0, bud, U):
    """A cold ADMM start: ``w0`` projected onto the bounds, rho raised where the linear term
    is strong against ``curvature`` (K,), the problems' typical curvature."""
    K, N = lo.shape
    M = N + U.shape[1]
    x, z, y = np.empty((K, N)), np.empty((K, M)), np.empty((K, M))
    cold_start_nb(lo, hi, w0, bud, U, x, z, y)
    pull = np.divide(np.abs(q).max(axis=1), curvature, out=np.zeros(K), where=curvature > 0)
    return x, z, y, settings.rho * np.maximum(1.0, np.nan_to_num(pull, posinf=1.0))


def checked_state(state, K, N, M, cold):
    """(x, z, y, rho) to start K problems from: ``cold(slice(None))`` without a ``state``, else
    the state's arrays checked against the shapes, with ``cold(mask)`` for the problems it holds
    no solve for (rho 0)."""
    if state is None:
        return cold(slice(None))
    expect = {"x": (K, N), "z": (K, M), "y": (K, M), "rho": (K,)}
    got = {name: np.shape(getattr(state, name)) for name in expect}
    if got != expect:
        raise ValueError(f"state does not fit these problems: expected shapes {expect}, got {got}")
    x, z, y, rho = (np.array(getattr(state, name), dtype=np.float64) for name in expect)
    fresh = ~(rho > 0.0)  # a problem the state holds no solve for (rho 0) starts cold
    if fresh.any():
        for arr, start in zip((x, z, y, rho), cold(fresh)):
            arr[fresh] = start
    return x, z, y, rho
