"""One solver interface for the portfolio optimizers, and the fallback chain around it.

Problems
--------
A :class:`Problem` holds B problems of one ``kind`` over the same N assets, in
annualized units (an asset that cannot be held has ``lower = upper = 0``). With
``w0`` the current weights and ``kappa`` the turnover penalty:

============  ===========================================================================
kind          objective, subject to ``sum(w) = budget`` and ``lower <= w <= upper``
============  ===========================================================================
utility       maximize ``mu'w - risk_aversion / 2 * w'Σw - kappa * ||w - w0||_1``
              (minimum variance is ``mu = 0``, ``risk_aversion = 2``)
max_sharpe    maximize ``(mu - risk_free)'w / sqrt(w'Σw)`` (the tangency portfolio w*);
              with ``kappa > 0``, then the utility problem at w*'s own risk aversion
              ``δ* = (mu - risk_free)'w* / w*'Σw*`` with the penalty, which gives back w*
              exactly when ``kappa = 0`` (same KKT conditions)
target_return minimize ``w'Σw + kappa * ||w - w0||_1`` subject to ``mu'w >= target``
              (Markowitz's frontier point for a required return; infeasible when no
              portfolio within the bounds reaches the target: the fallback chain answers)
cvar          minimize ``risk_aversion * CVaR_alpha(-R w) - mu'w + kappa * ||w - w0||_1``
              over scenario returns R (T, N), Rockafellar-Uryasev form; ``mu`` in the
              units of R
============  ===========================================================================

Long-short books
----------------
A lower bound may be negative (a short). ``budget`` is then the net exposure ``sum(w)``
(0 for a dollar-neutral book, 1 for a 130/30 book), and two more constraints may be set:
a gross limit ``sum |w| <= gross`` and linear rows ``row_lo <= F w <= row_hi`` (a beta-neutral
book is the row ``beta'w = 0``). cvxpy states both directly. The native kernel takes the
rows as they are; a gross limit it solves exactly by splitting ``w = p - s`` into long and
short parts (``p, s >= 0``, see :func:`split_problem`): ``sum(p + s) <= gross`` is then one
linear row, and at any solution ``w = p - s`` is a solution of the original problem (for
every ``w`` the split ``p = max(w, 0)``, ``s = max(-w, 0)`` is feasible with the same
objective, and no split has a smaller one: ``sum(p + s) >= sum |w|`` and
``|p - p0| + |s - s0| >= |w - w0|`` with ``p0 = max(w0, 0)``, ``s0 = max(-w0, 0)``).

Solvers
-------
A solver has a ``name``, ``covers(problem) -> bool`` and ``solve(problem, rows) ->
(weights, status)`` for the scenario rows it is given. :class:`NativeQP` wraps the batched
ADMM kernel (:func:`simlab.kernels.qp_solve.solve_qp`) where it is installed and covers the
problem; :class:`CvxpyClarabel` solves one scenario at a time with cvxpy and Clarabel, reusing a
compiled parametrized problem per (kind, shape) so that a re-solve skips canonicalization.

The fallback chain (:func:`solve`, :func:`run_chain`)
------------------------------------------------------
1. Pre-checks per scenario: no asset can be held, or the bounds cannot be met
   (``sum(upper) < budget``, ``sum(lower) > budget``, a lower bound above its upper
   bound): no solver is tried.
2. Each solver in order (native ADMM, then cvxpy/Clarabel) on the scenarios still open.
   A result is accepted only if it passes :func:`check_weights`: finite, within the
   bounds, summing to the budget, within the gross limit and the rows, each within ``TOL``. A solver that raises is a
   failed attempt (status 5) for the rows it was given.
3. The phase-2 result the caller supplies (inverse volatility capped at the upper bounds,
   see :func:`capped_weights`), if finite, long-only and investing something.
4. Hold the current weights; the scenario is flagged with the Step ``HOLD`` key.

Diagnostics (one value per scenario): ``attempt.<solver>`` the status code below (0 =
not tried), ``fallback_level`` (0 solved, 1 phase-2 result, 2 held), ``bounds_infeasible``
(1 where the pre-check failed), ``n_active``, and ``hold`` (True where held). A failed
solve never leaves a NaN weight.

Status codes: 0 not tried, 1 solved, 2 solved inaccurately (accepted after the check),
3 infeasible, 4 unbounded, 5 solver error, 6 invalid point (NaN or outside the
constraints), 7 unavailable (solver not installed or not covering the problem).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from simlab.contract.step import HOLD
from simlab.errors import SolverError
from simlab.portfolio.problem import (  # noqa: F401 - re-exported: solvers.X is the public spelling
    ACCEPTED,
    FAILED,
    INACCURATE,
    INFEASIBLE,
    INVALID,
    KINDS,
    LEVEL_FALLBACK,
    LEVEL_HOLD,
    LEVEL_SOLVED,
    NOT_TRIED,
    ROW_INF,
    SOLVED,
    STATUS_NAMES,
    TOL,
    UNAVAILABLE,
    UNBOUNDED,
    Problem,
    _b,
    _bn,
    _clean,
    _has_gross,
    bounds_feasible,
    capped_weights,
    check_weights,
    make_problem,
    usable_fallback,
)

# --------------------------------------------------------------------------- solvers


class CvxpyClarabel:
    """cvxpy with the Clarabel interior-point solver, one scenario at a time.

    A parametrized (DPP) problem is compiled once per (kind, shape) and thread, and
    re-solved with new parameter values, which skips cvxpy's canonicalization. Only the
    compiled problem structure is kept; nothing a result depends on is cached.
    """

    name = "cvxpy"

    def __init__(self, solver: str = "CLARABEL", options: dict | None = None):
        self.solver = solver
        self.options = dict(options or {})  # passed to ``Problem.solve`` (e.g. Clarabel's ``tol_gap_rel``)
        self._local = threading.local()

    def covers(self, problem: Problem) -> bool:
        """Every kind."""
        return _cvxpy() is not None

    def solve(self, problem: Problem, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights (len(rows), N) and status codes (len(rows),)."""
        w = np.full((len(rows), problem.shape[1]), np.nan)
        status = np.full(len(rows), FAILED)
        for i, row in enumerate(rows):
            try:
                w[i], status[i] = self._solve_one(problem, int(row))
            except Exception:  # noqa: BLE001 - cvxpy.SolverError, numerical failures inside Clarabel
                status[i] = FAILED
        return w, status

    def _solve_one(self, p: Problem, b: int) -> tuple[np.ndarray, int]:
        if p.kind == "cvar":
            return self._cvar(p, b)
        if p.kind == "target_return":
            return self._target_return(p, b)
        if p.kind == "max_sharpe":
            w, status = self._tangency(p, b)
            if status not in ACCEPTED or p.turnover[b] <= 0:
                return w, status
            ex = (p.mu[b] - p.risk_free[b]) @ w
            delta = ex / max(w @ p.cov[b] @ w, 1e-300)
            return self._utility(p, b, risk_aversion=delta)
        return self._utility(p, b, risk_aversion=p.risk_aversion[b])

    def _template(self, kind: str, *shape: int, ext: int | None = None):
        """The compiled template of ``kind`` for ``shape``; ``ext`` (the number of linear
        rows) adds the long-short constraints (a gross limit and the rows), None: none."""
        cache = self._local.__dict__.setdefault("templates", {})
        key = (kind, *shape) if ext is None else (kind, *shape, "ext", ext)
        if key not in cache:
            build = {"utility": _utility_template, "max_sharpe": _tangency_template, "cvar": _cvar_template,
                     "target_return": _target_template}[kind]
            cache[key] = build(*shape) if ext is None else build(*shape, ext=ext)
        return cache[key]

    @staticmethod
    def _ext(p: Problem) -> int | None:
        """The ``ext`` of :meth:`_template` for ``p``: None for a plain problem."""
        if not p.extended:
            return None
        return 0 if p.rows is None else p.rows.shape[1]

    def _run(self, prob) -> None:
        """Solve ``prob`` from scratch: ``warm_start=False`` keeps cvxpy from updating the
        Clarabel solver it cached at the template's first solve (an update keeps that first
        problem's scaling, so answers would depend on which problem the process solved first:
        on the runs before this one). A template's first solve is repeated, so that every answer
        comes from cvxpy's re-solve path (the first, compiling solve differs by ~1e-14)."""
        warmed = self._local.__dict__.setdefault("warmed", set())
        if id(prob) not in warmed:
            prob.solve(solver=self.solver, **{**self.options, "warm_start": False})
            warmed.add(id(prob))
        prob.solve(solver=self.solver, **{**self.options, "warm_start": False})

    def _cvar(self, p: Problem, b: int) -> tuple[np.ndarray, int]:
        r = np.where(p.active[b], p.scenarios[b], 0.0)
        r = r[np.isfinite(r).all(axis=1)]
        if len(r) == 0:
            return np.full(p.shape[1], np.nan), INFEASIBLE
        prob, par, w = self._template("cvar", *r.shape, ext=self._ext(p))
        _set_extended(par, p, b)
        par["R"].value, par["mu"].value, par["lo"].value, par["hi"].value = r, p.mu[b], p.lower[b], p.upper[b]
        par["budget"].value, par["w0"].value = p.budget[b], p.w0[b]
        par["kappa"].value = np.full(p.shape[1], max(p.turnover[b], 0.0))
        par["lam"].value = p.risk_aversion[b]
        par["lam_tail"].value = p.risk_aversion[b] / ((1.0 - p.alpha[b]) * len(r))
        self._run(prob)
        return _value(w), _status(prob.status)

    def _utility(self, p: Problem, b: int, risk_aversion: float) -> tuple[np.ndarray, int]:
        prob, par, w = self._template("utility", p.shape[1], ext=self._ext(p))
        _set_extended(par, p, b)
        _set_psd(par["P"], p.cov[b] * (max(risk_aversion, 0.0) / 2.0))
        par["mu"].value, par["lo"].value, par["hi"].value = p.mu[b], p.lower[b], p.upper[b]
        par["budget"].value, par["w0"].value = p.budget[b], p.w0[b]
        par["kappa"].value = np.full(p.shape[1], max(p.turnover[b], 0.0))
        self._run(prob)
        return _value(w), _status(prob.status)

    def _target_return(self, p: Problem, b: int) -> tuple[np.ndarray, int]:
        prob, par, w = self._template("target_return", p.shape[1], ext=self._ext(p))
        _set_extended(par, p, b)
        _set_psd(par["P"], p.cov[b])
        par["mu"].value, par["lo"].value, par["hi"].value = p.mu[b], p.lower[b], p.upper[b]
        par["budget"].value, par["w0"].value, par["target"].value = p.budget[b], p.w0[b], p.target[b]
        par["kappa"].value = np.full(p.shape[1], max(p.turnover[b], 0.0))
        self._run(prob)
        return _value(w), _status(prob.status)

    def _tangency(self, p: Problem, b: int) -> tuple[np.ndarray, int]:
        prob, par, (y, k) = self._template("max_sharpe", p.shape[1], ext=self._ext(p))
        _set_extended(par, p, b)
        _set_psd(par["P"], p.cov[b])
        par["ex"].value = p.mu[b] - p.risk_free[b]
        par["lo"].value, par["hi"].value, par["budget"].value = p.lower[b], p.upper[b], p.budget[b]
        self._run(prob)
        status = _status(prob.status)
        if status not in ACCEPTED or k.value is None or not k.value > 0:
            return np.full(p.shape[1], np.nan), status if status not in ACCEPTED else FAILED
        return _value(y) / float(k.value), status


def _cvxpy():
    try:
        return importlib.import_module("cvxpy")
    except ImportError:
        return None


def _set_psd(param, matrix: np.ndarray) -> None:
    """Assign a covariance-type matrix to a PSD parameter; if cvxpy finds it indefinite
    (round-off, pairwise estimates), assign it with negative eigenvalues clipped to 0."""
    sym = 0.5 * (matrix + matrix.T)
    try:
        param.value = sym
    except ValueError:
        vals, vecs = np.linalg.eigh(sym)
        clipped = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
        param.value = 0.5 * (clipped + clipped.T)


def _value(var) -> np.ndarray:
    return np.full(var.shape, np.nan) if var.value is None else np.asarray(var.value, dtype=float)


def _status(text: str) -> int:
    if text == "optimal":
        return SOLVED
    if text == "optimal_inaccurate":
        return INACCURATE
    if text.startswith("infeasible"):
        return INFEASIBLE
    if text.startswith("unbounded"):
        return UNBOUNDED
    return FAILED


def _extended_constraints(cp, par: dict, w, n: int, ext: int | None, k=None) -> list:
    """The long-short constraints of a template: ``sum |w| <= gross`` and ``row_lo <= F w <=
    row_hi`` (times ``k`` in the homogenized tangency problem); adds their parameters to ``par``."""
    if ext is None:
        return []
    one = 1.0 if k is None else k
    t = cp.Variable(n)
    par["gross"] = cp.Parameter(nonneg=True)
    out = [t >= w, t >= -w, cp.sum(t) <= par["gross"] * one]
    if ext:
        par["F"], par["row_lo"], par["row_hi"] = cp.Parameter((ext, n)), cp.Parameter(ext), cp.Parameter(ext)
        out += [par["F"] @ w >= par["row_lo"] * one, par["F"] @ w <= par["row_hi"] * one]
    return out


def _set_extended(par: dict, p: Problem, b: int) -> None:
    """Set the long-short parameters of scenario ``b`` (no gross limit: ``ROW_INF``)."""
    if "gross" not in par:
        return
    gross = np.inf if p.gross is None else p.gross[b]
    par["gross"].value = min(gross, ROW_INF)
    if "F" in par:
        par["F"].value, par["row_lo"].value, par["row_hi"].value = p.rows[b], p.row_lo[b], p.row_hi[b]


def _utility_template(n: int, ext: int | None = None):
    cp = _cvxpy()
    w, u = cp.Variable(n), cp.Variable(n)
    par = {"P": cp.Parameter((n, n), PSD=True), "mu": cp.Parameter(n), "lo": cp.Parameter(n),
           "hi": cp.Parameter(n), "budget": cp.Parameter(), "w0": cp.Parameter(n),
           "kappa": cp.Parameter(n, nonneg=True)}
    objective = cp.Minimize(cp.quad_form(w, par["P"]) - par["mu"] @ w + par["kappa"] @ u)
    constraints = [cp.sum(w) == par["budget"], w >= par["lo"], w <= par["hi"],
                   u >= w - par["w0"], u >= par["w0"] - w]
    constraints += _extended_constraints(cp, par, w, n, ext)
    return cp.Problem(objective, constraints), par, w


def _target_template(n: int, ext: int | None = None):
    cp = _cvxpy()
    w, u = cp.Variable(n), cp.Variable(n)
    par = {"P": cp.Parameter((n, n), PSD=True), "mu": cp.Parameter(n), "lo": cp.Parameter(n),
           "hi": cp.Parameter(n), "budget": cp.Parameter(), "w0": cp.Parameter(n),
           "kappa": cp.Parameter(n, nonneg=True), "target": cp.Parameter()}
    objective = cp.Minimize(cp.quad_form(w, par["P"]) + par["kappa"] @ u)
    constraints = [par["mu"] @ w >= par["target"], cp.sum(w) == par["budget"], w >= par["lo"],
                   w <= par["hi"], u >= w - par["w0"], u >= par["w0"] - w]
    constraints += _extended_constraints(cp, par, w, n, ext)
    return cp.Problem(objective, constraints), par, w


def _tangency_template(n: int, ext: int | None = None):
    cp = _cvxpy()
    y, k = cp.Variable(n), cp.Variable(nonneg=True)
    par = {"P": cp.Parameter((n, n), PSD=True), "ex": cp.Parameter(n), "lo": cp.Parameter(n),
           "hi": cp.Parameter(n), "budget": cp.Parameter(nonneg=ext is None)}
    constraints = [par["ex"] @ y == 1, cp.sum(y) == par["budget"] * k, y >= par["lo"] * k, y <= par["hi"] * k]
    constraints += _extended_constraints(cp, par, y, n, ext, k)
    return cp.Problem(cp.Minimize(cp.quad_form(y, par["P"])), constraints), par, (y, k)


def _cvar_template(n_obs: int, n: int, ext: int | None = None):
    cp = _cvxpy()
    w, u, zeta, z = cp.Variable(n), cp.Variable(n), cp.Variable(), cp.Variable(n_obs, nonneg=True)
    par = {"R": cp.Parameter((n_obs, n)), "mu": cp.Parameter(n), "lo": cp.Parameter(n), "hi": cp.Parameter(n),
           "budget": cp.Parameter(), "w0": cp.Parameter(n), "kappa": cp.Parameter(n, nonneg=True),
           "lam": cp.Parameter(nonneg=True), "lam_tail": cp.Parameter(nonneg=True)}
    # risk_aversion * CVaR = lam * zeta + lam / ((1 - alpha) T) * sum(z), one parameter per term (DPP)
    objective = cp.Minimize(par["lam"] * zeta + par["lam_tail"] * cp.sum(z) - par["mu"] @ w + par["kappa"] @ u)
    constraints = [z >= -(par["R"] @ w) - zeta, cp.sum(w) == par["budget"], w >= par["lo"], w <= par["hi"],
                   u >= w - par["w0"], u >= par["w0"] - w]
    constraints += _extended_constraints(cp, par, w, n, ext)
    return cp.Problem(objective, constraints), par, w


class NativeQP:
    """The batched ADMM kernel :func:`simlab.kernels.qp_solve.solve_qp`, one call for all rows.

    Covers ``utility`` problems (minimum variance included) as ``P = risk_aversion * Σ``,
    ``q = -mu``, with the box, the budget row, the turnover term and the linear rows; a
    gross limit through :func:`split_problem`; ``max_sharpe`` and
    ``cvar`` go to the next solver. Kernel status 0 is solved; 1 (iteration limit, not
    converged) is reported as an error so that the next solver answers; 2 infeasible;
    3 unbounded; 4 and 5 (non-finite input, non-convex) errors. Unavailable (status 7)
    where the kernel cannot be imported.

    Warm start: given a ``memory`` dict (the Step's, kept by the engine between
    decisions), each scenario starts from the ADMM state its previous solve ended in, and
    the new state is kept for the next decision; without one, every call starts cold.
    """

    name = "native"
    _STATUS = np.array([SOLVED, FAILED, INFEASIBLE, UNBOUNDED, FAILED, FAILED])

    def __init__(self, settings=None):
        self.settings = settings

    @staticmethod
    def _kernel():
        try:
            return importlib.import_module("simlab.kernels.qp_solve")
        except Exception:  # noqa: BLE001 - absent, or failing to import: the next solver answers
            return None

    def covers(self, problem: Problem) -> bool:
        """``utility`` problems, where the kernel is importable."""
        return problem.kind == "utility" and self._kernel() is not None

    warm = True

    def solve(self, problem: Problem, rows: np.ndarray, memory: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One batched call over ``rows``: weights (len(rows), N) and status codes."""
        p, kernel = problem, self._kernel()
        if p.has_gross:
            args = split_problem(p, rows)
        else:
            args = {"P": p.risk_aversion[rows, None, None] * p.cov[rows], "q": -p.mu[rows], "lo": p.lower[rows],
                    "hi": p.upper[rows], "budget": p.budget[rows], "w0": p.w0[rows],
                    "kappa": np.maximum(p.turnover[rows], 0.0)}
            if p.rows is not None:
                args.update(F=p.rows[rows], a=p.row_lo[rows], b=p.row_hi[rows])
        size = args["lo"].shape[1]
        saved = None if memory is None else memory.get("qp_state")
        fits = saved is not None and saved.x.shape == (p.shape[0], size)
        res = kernel.solve_qp(**args, state=saved.subset(rows) if fits else None, settings=self.settings)
        if memory is not None:
            memory["qp_state"] = _merge_state(kernel, saved if fits else None, res.state, rows, p.shape[0])
        status = self._STATUS[np.clip(np.asarray(res.status, dtype=np.int64), 0, len(self._STATUS) - 1)]
        w = np.asarray(res.w, dtype=float)
        if p.has_gross:
            n = p.shape[1]
            w = w[:, :n] - w[:, n:]
        return w, status


class ActiveSetQP:
    """The primal active-set kernel :func:`simlab.kernels.active_set.active_set_nb`.

    Covers ``utility`` problems with the box, the budget and the turnover term only (no
    gross limit, no linear rows) whose covariance is positive definite on the active
    assets (a Ledoit-Wolf estimate is). It starts from the current book, so a daily
    rebalance that trades a few names takes a few small steps; the answer is the exact
    optimum (to rounding), with every weight at a bound or at the current weight exactly
    there. Status 1 (not finished within ``max_iter`` steps, or a free block not positive
    definite) is reported as an error so that the next solver answers.
    """

    name = "active_set"
    max_iter = 2000
    tol = 1e-10  # directional derivatives within tol * max(|gradient|, kappa) of zero

    def covers(self, problem: Problem) -> bool:
        """``utility`` problems without a gross limit or linear rows."""
        return problem.kind == "utility" and not problem.extended and problem.rows is None

    def solve(self, problem: Problem, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights (len(rows), N) and status codes (len(rows),)."""
        from simlab.kernels.active_set import active_set_nb

        p = problem
        whole = len(rows) == p.shape[0] and (rows == np.arange(len(rows))).all()
        cov = p.cov if whole else p.cov[rows]
        args = (cov, p.risk_aversion[rows], -p.mu[rows], p.lower[rows], p.upper[rows], p.budget[rows],
                p.w0[rows], np.maximum(p.turnover[rows], 0.0))
        w, status, _ = active_set_nb(*(np.ascontiguousarray(a) for a in args), self.max_iter, self.tol)
        return w, np.where(status == 0, SOLVED, FAILED)


def split_problem(p: Problem, rows: np.ndarray) -> dict:
    """The kernel arguments of ``p``'s scenarios ``rows`` in the split ``w = long - short``.

    Variables ``x = [long (N); short (N)] >= 0``: ``P = c [[Σ, -Σ], [-Σ, Σ]]``, ``q = [-mu;
    mu]``, boxes ``long in [max(lower, 0), max(upper, 0)]`` and ``short in [max(-upper, 0),
    max(-lower, 0)]``, the rows ``sum(long - short) = budget``, ``sum(long + short) <=
    gross`` and ``F (long - short)`` within the row bounds; the turnover anchor is
    ``[max(w0, 0); max(-w0, 0)]`` with ``kappa`` on both halves (exact: module docstring).
    """
    P = p.risk_aversion[rows, None, None] * p.cov[rows]
    lo, hi, w0 = p.lower[rows], p.upper[rows], p.w0[rows]
    k, n = lo.shape
    ones = np.ones(n)
    F = np.broadcast_to(np.r_[np.r_[ones, -ones][None], np.r_[ones, ones][None]], (k, 2, 2 * n))
    a = np.c_[p.budget[rows], np.full(k, -np.inf)]
    b = np.c_[p.budget[rows], p.gross[rows]]
    if p.rows is not None:
        F = np.concatenate([F, np.concatenate([p.rows[rows], -p.rows[rows]], axis=2)], axis=1)
        a, b = np.c_[a, p.row_lo[rows]], np.c_[b, p.row_hi[rows]]
    kappa = np.maximum(p.turnover[rows], 0.0)[:, None]
    return {"P": np.block([[P, -P], [-P, P]]), "q": np.c_[-p.mu[rows], p.mu[rows]],
            "lo": np.c_[np.maximum(lo, 0.0), np.maximum(-hi, 0.0)], "hi": np.c_[np.maximum(hi, 0.0), np.maximum(-lo, 0.0)],
            "budget": None, "F": np.ascontiguousarray(F), "a": a, "b": b,
            "w0": np.c_[np.maximum(w0, 0.0), np.maximum(-w0, 0.0)], "kappa": np.c_[kappa.repeat(n, 1), kappa.repeat(n, 1)]}


def _merge_state(kernel, saved, new, rows: np.ndarray, n_scenarios: int):
    """A (B, ...) state holding ``new`` at ``rows`` and ``saved`` (or zeros) elsewhere."""
    fields = ("x", "z", "y", "rho")
    if saved is None or any(getattr(saved, f).shape[1:] != getattr(new, f).shape[1:] for f in fields):
        saved = kernel.QPState(*(np.zeros((n_scenarios,) + getattr(new, f).shape[1:]) for f in fields))
    merged = {f: getattr(saved, f).copy() for f in fields}
    for f in fields:
        merged[f][rows] = getattr(new, f)
    return kernel.QPState(**merged)


CVXPY = CvxpyClarabel()
NATIVE = NativeQP()
ACTIVE_SET = ActiveSetQP()
DEFAULT_SOLVERS: tuple = (NATIVE, CVXPY)


# --------------------------------------------------------------------------- the chain

Attempt = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class ChainResult:
    """Weights (B, N) from the chain, and its diagnostics."""

    weights: np.ndarray
    diagnostics: dict = field(default_factory=dict)


def run_chain(
    attempts: Sequence[tuple[str, Attempt]],
    open_rows: np.ndarray,
    accept: Callable[[np.ndarray, np.ndarray], np.ndarray],
    fallback: np.ndarray | None,
    current: np.ndarray,
) -> ChainResult:
    """Try each named attempt on the scenarios still open, then the fallback, then hold.

    ``open_rows`` (B,) bool marks the scenarios the attempts may try (the others go straight
    to the fallback); ``accept(w, rows)`` checks a solution; ``fallback`` (B, N) is the
    phase-2 result (a row with a NaN or a negative weight, or investing nothing, is not
    usable: an allocator never sells the whole book because an estimate is missing);
    ``current`` (B, N) the weights to hold. See the module docstring for the diagnostics.
    """
    b, n = current.shape
    out = np.full((b, n), np.nan)
    done = np.zeros(b, dtype=bool)
    diag: dict = {}
    for name, attempt in attempts:
        todo = np.flatnonzero(open_rows & ~done)
        status = np.zeros(b)
        if len(todo):
            w, st = attempt(todo)
            good = np.isin(st, ACCEPTED)
            if good.any():
                good[good] = accept(w[good], todo[good])
            st = np.where(np.isin(st, ACCEPTED) & ~good, INVALID, st)
            out[todo[good]] = w[good]
            done[todo[good]] = True
            status[todo] = st
        diag[f"attempt.{name}"] = status
    level = np.where(done, LEVEL_SOLVED, LEVEL_HOLD)
    if fallback is not None:
        usable = ~done & np.isfinite(fallback).all(axis=1) & (fallback >= 0).all(axis=1) & (fallback.sum(axis=1) > 0)
        out[usable] = fallback[usable]
        level[usable] = LEVEL_FALLBACK
    held = level == LEVEL_HOLD
    out[held] = current[held]
    diag.update({"fallback_level": level.astype(float), HOLD: held})
    return ChainResult(out, diag)


def solve(
    problem: Problem,
    fallback: np.ndarray | None,
    current: np.ndarray,
    solvers: Sequence = DEFAULT_SOLVERS,
    memory: dict | None = None,
) -> ChainResult:
    """Solve ``problem`` through ``solvers`` in order, then the fallback chain.

    ``memory`` (the Step's, kept by the engine) lets a solver that can warm-start from the
    previous decision do so. Returns weights (B, N) with no NaN, and diagnostics (module
    docstring).
    """
    feasible = bounds_feasible(problem)

    def make(solver):
        if not solver.covers(problem):
            return lambda rows: (np.full((len(rows), problem.shape[1]), np.nan), np.full(len(rows), UNAVAILABLE))

        def attempt(rows):
            try:
                if getattr(solver, "warm", False) and memory is not None:
                    w, status = solver.solve(problem, rows, memory)
                else:
                    w, status = solver.solve(problem, rows)
            except Exception:  # noqa: BLE001 - a solver that raises is a failed attempt, not a crashed run
                return np.full((len(rows), problem.shape[1]), np.nan), np.full(len(rows), FAILED)
            return _clean(np.asarray(w, dtype=float), problem, rows), np.asarray(status)

        return attempt

    res = run_chain([(s.name, make(s)) for s in solvers], feasible,
                    lambda w, rows: check_weights(w, problem, rows), fallback, current)
    res.diagnostics["bounds_infeasible"] = (problem.active.any(axis=1) & ~feasible).astype(float)
    res.diagnostics["n_active"] = problem.active.sum(axis=1).astype(float)
    return res


def solve_or_raise(problem: Problem, solvers: Sequence = DEFAULT_SOLVERS) -> np.ndarray:
    """Solve without fallbacks; raise :class:`SolverError` naming the statuses when any scenario fails."""
    b, n = problem.shape
    res = solve(problem, None, np.full((b, n), np.nan), solvers)
    failed = res.diagnostics[HOLD]
    if failed.any():
        tried = {k: STATUS_NAMES[int(v[failed][0])] for k, v in res.diagnostics.items() if k.startswith("attempt.")}
        infeasible = bool(res.diagnostics["bounds_infeasible"][failed][0])
        reason = "the bounds cannot sum to the budget" if infeasible else f"solver statuses {tried}"
        raise SolverError(f"{problem.kind} problem has no solution: {reason}")
    return res.weights
