"""Benchmark-relative and constrained portfolio problems, and the solvers that answer them.

An :class:`ActiveProblem` holds B long-only problems of one ``kind`` over N assets against
benchmark weights ``b`` (all zeros: no benchmark, so the active risk is the total risk), in
annualized units. With ``w0`` the current weights, ``c`` the per-asset L1 cost of trading
(the turnover penalty plus transaction costs, as a fraction of the traded weight) and
``f`` the per-asset annual fee on holdings (a fund's management fee or expense ratio):

==================  =====================================================================
kind                problem, subject to ``sum(w) = budget`` and ``lower <= w <= upper``
==================  =====================================================================
min_tracking_error  minimize ``(w - b)'Σ(w - b) + c'|w - w0| + f'w``, and, where
                    ``min_excess`` is finite, ``mu'(w - b) >= min_excess`` (with ``b = 0``
                    this is Markowitz's frontier point for a target return). A QP: the
                    batched ADMM kernel solves it, cvxpy/Clarabel is the next solver
max_return          maximize ``mu'w - f'w - c'|w - w0|`` subject to
                    ``sqrt((w - b)'Σ(w - b)) <= max_te`` (with ``b = 0``: the frontier
                    point for a target volatility). A second-order cone: cvxpy/Clarabel
==================  =====================================================================

Both points of the frontier are solved as the constrained problem itself, never by
searching over a risk aversion. Active-weight bounds enter as box bounds: the caller
intersects ``b + active_lower <= w <= b + active_upper`` with the absolute ones
(:func:`make_active_problem`).

A solution is accepted by :func:`accept` (finite, within the bounds, on the budget, and
within the tracking-error cap or above the return floor, each ± ``solvers.TOL``), and the
fallback chain is :func:`simlab.portfolio.solvers.run_chain`'s: the solvers in order, then
the caller's fallback weights, then holding the book.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simlab.portfolio import solvers
from simlab.portfolio.solvers import _set_psd, _status, _value

KINDS = ("min_tracking_error", "max_return")


@dataclass(frozen=True)
class ActiveProblem:
    """B benchmark-relative problems of one kind (see the module docstring).

    Attributes
    ----------
    kind : "min_tracking_error" or "max_return".
    cov : (B, N, N) annualized covariance, zero outside the active assets.
    mu : (B, N) annual expected returns (zeros where unused).
    bench : (B, N) benchmark weights (zeros: no benchmark).
    lower, upper : (B, N) bounds, active bounds included; both 0 where an asset is inactive.
    budget : (B,) what the weights sum to.
    w0 : (B, N) current weights.
    cost : (B, N) L1 weight on ``|w - w0|`` (turnover penalty plus transaction costs).
    fee : (B, N) annual fee on holdings.
    max_te : (B,) tracking-error cap of ``max_return`` (annual volatility units).
    min_excess : (B,) floor on ``mu'(w - b)`` of ``min_tracking_error`` (-inf: none).
    """

    kind: str
    cov: np.ndarray
    mu: np.ndarray
    bench: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    budget: np.ndarray
    w0: np.ndarray
    cost: np.ndarray
    fee: np.ndarray
    max_te: np.ndarray
    min_excess: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(B, N)."""
        return self.lower.shape

    @property
    def active(self) -> np.ndarray:
        """(B, N) bool, the asset may hold weight."""
        return self.upper > 0


def make_active_problem(kind: str, active: np.ndarray, *, cov, bench, mu=None, lower=0.0, upper=1.0,
                        active_lower=-np.inf, active_upper=np.inf, budget=1.0, w0=None, cost=0.0, fee=0.0,
                        max_te=np.inf, min_excess=-np.inf) -> ActiveProblem:
    """An :class:`ActiveProblem` with inputs broadcast to (B, ...) and inactive assets pinned to 0.

    ``active`` (B, N) must already exclude assets without a covariance row (and without an
    expected return where the problem reads one); ``bench`` should sum to 1 over them (or be
    all zeros). Per-asset values may be scalars, (N,), (B, 1) or (B, N); per-problem values
    scalars or (B,).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    active = np.array(active, dtype=bool)
    b, n = active.shape
    pair = active[:, :, None] & active[:, None, :]
    cov = np.where(pair, np.broadcast_to(cov, (b, n, n)), 0.0)
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    mu = np.zeros((b, n)) if mu is None else np.where(active, _bn(mu, b, n), 0.0)
    bench = np.where(active, _bn(bench, b, n), 0.0)
    lo = np.maximum(_bn(lower, b, n), bench + _bn(active_lower, b, n))
    hi = np.minimum(_bn(upper, b, n), bench + _bn(active_upper, b, n))
    lo, hi = np.where(active, lo, 0.0), np.where(active, hi, 0.0)
    w0 = np.zeros((b, n)) if w0 is None else np.nan_to_num(_bn(w0, b, n))
    return ActiveProblem(kind, cov, mu, bench, lo, hi, _b(budget, b), w0, np.where(active, _bn(cost, b, n), 0.0),
                         np.where(active, _bn(fee, b, n), 0.0), _b(max_te, b), _b(min_excess, b))


def _b(value, b: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float).reshape(-1), (b,)).copy()


def _bn(value, b: int, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float), (b, n)).astype(float)


def tracking_error(w: np.ndarray, problem: ActiveProblem, rows=slice(None)) -> np.ndarray:
    """(len(rows),) annualized ``sqrt((w - b)'Σ(w - b))`` of weights ``w``."""
    d = w - problem.bench[rows]
    var = np.einsum("bi,bij,bj->b", d, problem.cov[rows], d)
    return np.sqrt(np.maximum(var, 0.0))


def objective(w: np.ndarray, problem: ActiveProblem, rows=slice(None)) -> np.ndarray:
    """(len(rows),) the value each problem minimizes at ``w`` (``max_return``: minus its objective)."""
    trade = (problem.cost[rows] * np.abs(w - problem.w0[rows])).sum(axis=1)
    fee = (problem.fee[rows] * w).sum(axis=1)
    if problem.kind == "min_tracking_error":
        return tracking_error(w, problem, rows) ** 2 + trade + fee
    return -((problem.mu[rows] * w).sum(axis=1) - fee - trade)


def accept(w: np.ndarray, problem: ActiveProblem, rows: np.ndarray) -> np.ndarray:
    """(len(rows),) bool: bounds and budget (:func:`solvers.check_weights`), and the risk or
    return constraint of the kind, each within ``solvers.TOL``."""
    ok = solvers.check_weights(w, problem, rows)
    with np.errstate(invalid="ignore"):
        if problem.kind == "max_return":
            ok &= tracking_error(w, problem, rows) <= problem.max_te[rows] + solvers.TOL
        else:
            excess = ((w - problem.bench[rows]) * problem.mu[rows]).sum(axis=1)
            ok &= ~(excess < problem.min_excess[rows] - solvers.TOL)
    return ok


class ActiveNative(solvers.NativeQP):
    """The batched ADMM kernel on ``min_tracking_error``, one call for all rows.

    ``P = 2Σ``, ``q = f - 2Σb``, the per-asset L1 weight ``c`` as the kernel's ``kappa``
    (K, N), and the return floor as one linear row ``mu'w >= min_excess + mu'b``. Kernel
    status 0 is solved; 1 (not converged), 4 and 5 are errors, 2 infeasible, 3 unbounded.
    """

    warm = False  # each rebalance's problem is solved cold (the settings, kernel and status
    # map are the portfolio chain's native solver's)

    def covers(self, problem: ActiveProblem) -> bool:
        """``min_tracking_error``, where the kernel is importable."""
        return problem.kind == "min_tracking_error" and self._kernel() is not None

    def solve(self, p: ActiveProblem, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights (len(rows), N) and status codes (len(rows),)."""
        cov, bench = p.cov[rows], p.bench[rows]
        q = p.fee[rows] - 2.0 * np.einsum("bij,bj->bi", cov, bench)
        floor = p.min_excess[rows]
        rows_f = {}
        if np.isfinite(floor).any():
            mu = p.mu[rows]
            rows_f = {"F": mu[:, None, :], "a": np.where(np.isfinite(floor), floor + (mu * bench).sum(axis=1),
                                                         -np.inf)[:, None]}
        res = self._kernel().solve_qp(2.0 * cov, q, lo=p.lower[rows], hi=p.upper[rows], budget=p.budget[rows],
                                      w0=p.w0[rows], kappa=p.cost[rows], settings=self.settings, **rows_f)
        status = self._STATUS[np.clip(np.asarray(res.status, dtype=np.int64), 0, len(self._STATUS) - 1)]
        return np.asarray(res.w, dtype=float), status


class ActiveCvxpy(solvers.CvxpyClarabel):
    """cvxpy with Clarabel on both kinds, one scenario at a time, from compiled templates.

    ``min_tracking_error`` is the QP ``w'Σw - 2(Σb)'w + f'w + c'u`` (the constant ``b'Σb``
    dropped) with ``u >= |w - w0|``; ``max_return`` writes the cap as the cone
    ``||L(w - b)|| / max_te <= 1`` with ``Σ = L'L`` (eigenvalues clipped at 0). The minimum-
    tracking-error objective is scaled by ``1 / mean variance``, and both are solved to
    Clarabel gap and feasibility tolerances of 1e-10 (a near-optimal point is accepted as
    ``solved_inaccurate`` after the chain's own check).
    """

    name = "cvxpy"

    def covers(self, problem) -> bool:
        """Both kinds, where cvxpy is installed."""
        return importlib.util.find_spec("cvxpy") is not None

    def _run(self, prob) -> None:
        """The base class's solve, without cvxpy's "may be inaccurate" warning: the status
        says so (``solved_inaccurate`` in ``attempt.cvxpy``) and the chain checks the point."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
            super()._run(prob)

    def _solve_one(self, p: ActiveProblem, b: int) -> tuple[np.ndarray, int]:
        if p.kind == "max_return":
            return self._max_return(p, b)
        return self._min_te(p, b)

    def _template(self, kind: str, *shape: int):
        cache = self._local.__dict__.setdefault("active_templates", {})
        if (kind, *shape) not in cache:
            build = {"min_te": _min_te_template, "min_te_floor": _min_te_template, "max_return": _max_return_template}
            cache[(kind, *shape)] = build[kind](*shape, floor=kind == "min_te_floor")
        return cache[(kind, *shape)]

    def _common(self, par, p: ActiveProblem, b: int) -> None:
        par["lo"].value, par["hi"].value, par["budget"].value = p.lower[b], p.upper[b], p.budget[b]
        par["w0"].value, par["kappa"].value = p.w0[b], np.maximum(p.cost[b], 0.0)

    def _min_te(self, p: ActiveProblem, b: int) -> tuple[np.ndarray, int]:
        floor = np.isfinite(p.min_excess[b])
        prob, par, w = self._template("min_te_floor" if floor else "min_te", p.shape[1])
        self._common(par, p, b)
        scale = _cost_scale(p.cov[b])
        par["kappa"].value = par["kappa"].value * scale
        _set_psd(par["P"], p.cov[b] * scale)
        par["lin"].value = (p.fee[b] - 2.0 * p.cov[b] @ p.bench[b]) * scale
        if floor:
            par["mu"].value, par["floor"].value = p.mu[b], p.min_excess[b] + p.mu[b] @ p.bench[b]
        self._run(prob)
        return _value(w), _status(prob.status)

    def _max_return(self, p: ActiveProblem, b: int) -> tuple[np.ndarray, int]:
        prob, par, w = self._template("max_return", p.shape[1])
        self._common(par, p, b)
        factor = risk_factor(p.cov[b]) / p.max_te[b]
        par["L"].value, par["Lb"].value = factor, factor @ p.bench[b]
        par["gain"].value = p.mu[b] - p.fee[b]
        self._run(prob)
        return _value(w), _status(prob.status)


def _cost_scale(cov: np.ndarray) -> float:
    """``1 / mean variance`` of the held assets: the minimum-tracking-error objective is
    scaled by it for Clarabel (annual variances of ~1e-3 sit near its absolute tolerances)."""
    diag = np.diagonal(cov)
    held = diag[diag > 0]
    return 1.0 / held.mean() if len(held) else 1.0


def risk_factor(cov: np.ndarray) -> np.ndarray:
    """(N, N) ``L`` with ``L'L = cov`` (symmetric square root, negative eigenvalues clipped)."""
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _base(cp, n: int):
    w, u = cp.Variable(n), cp.Variable(n)
    par = {"lo": cp.Parameter(n), "hi": cp.Parameter(n), "budget": cp.Parameter(), "w0": cp.Parameter(n),
           "kappa": cp.Parameter(n, nonneg=True)}
    constraints = [cp.sum(w) == par["budget"], w >= par["lo"], w <= par["hi"], u >= w - par["w0"],
                   u >= par["w0"] - w]
    return w, u, par, constraints


def _min_te_template(n: int, floor: bool):
    import cvxpy as cp

    w, u, par, constraints = _base(cp, n)
    par.update({"P": cp.Parameter((n, n), PSD=True), "lin": cp.Parameter(n)})
    if floor:
        par.update({"mu": cp.Parameter(n), "floor": cp.Parameter()})
        constraints.append(par["mu"] @ w >= par["floor"])
    objective = cp.Minimize(cp.quad_form(w, par["P"]) + par["lin"] @ w + par["kappa"] @ u)
    return cp.Problem(objective, constraints), par, w


def _max_return_template(n: int, floor: bool = False):
    import cvxpy as cp

    w, u, par, constraints = _base(cp, n)
    par.update({"L": cp.Parameter((n, n)), "Lb": cp.Parameter(n), "gain": cp.Parameter(n)})
    constraints.append(cp.norm(par["L"] @ w - par["Lb"], 2) <= 1.0)  # L = Σ^(1/2) / max_te
    objective = cp.Minimize(-(par["gain"] @ w) + par["kappa"] @ u)
    return cp.Problem(objective, constraints), par, w


ACTIVE_NATIVE = ActiveNative()
ACTIVE_CVXPY = ActiveCvxpy(options={"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10})
CHAINS = {"auto": (ACTIVE_NATIVE, ACTIVE_CVXPY), "cvxpy": (ACTIVE_CVXPY,), "native": (ACTIVE_NATIVE,)}


def solve_active(problem: ActiveProblem, fallback: np.ndarray | None, current: np.ndarray,
                 chain: Sequence = CHAINS["auto"]) -> solvers.ChainResult:
    """Solve ``problem`` through ``chain``, then ``fallback``, then hold ``current``.

    Diagnostics as :func:`simlab.portfolio.solvers.solve`'s (``attempt.<solver>``,
    ``fallback_level``, ``hold``, ``bounds_infeasible``, ``n_active``).
    """
    feasible = solvers.bounds_feasible(problem)

    def make(solver):
        def attempt(rows):
            if not solver.covers(problem):
                return np.full((len(rows), problem.shape[1]), np.nan), np.full(len(rows), solvers.UNAVAILABLE)
            try:
                w, status = solver.solve(problem, rows)
            except Exception:  # noqa: BLE001 - a solver that raises is a failed attempt, not a crashed run
                return np.full((len(rows), problem.shape[1]), np.nan), np.full(len(rows), solvers.FAILED)
            w = np.clip(np.asarray(w, dtype=float), problem.lower[rows], problem.upper[rows])
            return w, np.asarray(status)
        return attempt

    res = solvers.run_chain([(s.name, make(s)) for s in chain], feasible,
                            lambda w, rows: accept(w, problem, rows), fallback, current)
    res.diagnostics["bounds_infeasible"] = (problem.active.any(axis=1) & ~feasible).astype(float)
    res.diagnostics["n_active"] = problem.active.sum(axis=1).astype(float)
    return res
