"""Portfolio problems as the optimizers hand them to a solver: :class:`Problem`, built by
:func:`make_problem`, the status codes, and the checks every solver's answer must pass.

The problem kinds, the long-short form and the codes are described in
:mod:`simlab.portfolio.solvers`, which solves them and runs the fallback chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.kernels.problems import bad_rows_nb, symmetrize_masked_nb
from simlab.kernels.projections import project_box_budget_nb

NOT_TRIED, SOLVED, INACCURATE, INFEASIBLE, UNBOUNDED, FAILED, INVALID, UNAVAILABLE = range(8)
STATUS_NAMES = ("not_tried", "solved", "solved_inaccurate", "infeasible", "unbounded", "error",
                "invalid", "unavailable")
ACCEPTED = (SOLVED, INACCURATE)
LEVEL_SOLVED, LEVEL_FALLBACK, LEVEL_HOLD = 0, 1, 2
KINDS = ("utility", "max_sharpe", "cvar", "target_return")
TOL = 1e-6  # bound and budget tolerance of an accepted solution (Clarabel's is ~1e-8)
ROW_INF = 1e6  # an unbounded side of a linear row (weights are fractions of NAV)


@dataclass(frozen=True)
class Problem:
    """B portfolio problems of one kind (see the module docstring).

    Attributes
    ----------
    kind : "utility", "max_sharpe" or "cvar".
    cov : (B, N, N) covariance, annualized, zero in rows and columns of inactive assets.
    mu : (B, N) expected returns (zeros for minimum variance).
    lower, upper : (B, N) bounds (a negative lower bound allows a short); both 0 where an
        asset is inactive.
    budget : (B,) what the weights sum to (``1 - cash_buffer``; the net exposure of a
        long-short book).
    w0 : (B, N) current weights, the anchor of the turnover penalty.
    risk_aversion, turnover, risk_free, alpha : (B,).
    target : (B,) required expected return of ``target_return`` (NaN otherwise).
    scenarios : (B, T, N) scenario returns for ``cvar`` (rows with NaN in an active asset
        are dropped per scenario), else None.
    gross : (B,) limit on ``sum |w|`` (inf: none).
    rows, row_lo, row_hi : (B, m, N) linear rows and their (B, m) bounds, or None.
    """

    kind: str
    cov: np.ndarray
    mu: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    budget: np.ndarray
    w0: np.ndarray
    risk_aversion: np.ndarray
    turnover: np.ndarray
    risk_free: np.ndarray
    alpha: np.ndarray
    scenarios: np.ndarray | None = None
    target: np.ndarray | None = None
    gross: np.ndarray | None = None
    rows: np.ndarray | None = None
    row_lo: np.ndarray | None = None
    row_hi: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(B, N)."""
        return self.lower.shape

    @property
    def active(self) -> np.ndarray:
        """(B, N) bool, the asset may hold weight (long or short)."""
        return (self.upper > 0) | (self.lower < 0)

    @property
    def has_gross(self) -> bool:
        """Some scenario has a finite gross limit."""
        return self.gross is not None and bool(np.isfinite(self.gross).any())

    @property
    def extended(self) -> bool:
        """A long-short problem form: a gross limit, linear rows or a negative budget."""
        return self.has_gross or self.rows is not None or bool((self.budget < 0).any())


def make_problem(
    kind: str,
    active: np.ndarray,
    *,
    cov: np.ndarray | None = None,
    mu: np.ndarray | None = None,
    lower=0.0,
    upper=1.0,
    budget=1.0,
    w0: np.ndarray | None = None,
    risk_aversion=1.0,
    turnover=0.0,
    risk_free=0.0,
    alpha=0.95,
    scenarios: np.ndarray | None = None,
    target=np.nan,
    gross=None,
    rows: np.ndarray | None = None,
    row_lo=None,
    row_hi=None,
) -> Problem:
    """A :class:`Problem` with every input broadcast to (B, ...) and inactive assets pinned to 0.

    An asset with a NaN in its ``mu`` or its covariance row is made inactive; inactive
    assets get zero inputs and zero bounds. Per-asset values
    (``mu``, ``lower``, ``upper``, ``w0``) may be scalars, (N,), (B, 1) or (B, N); the
    others scalars or (B,). ``gross`` None (or inf) sets no gross limit; ``rows`` (m, N) or
    (B, m, N) with ``row_lo``/``row_hi`` (scalars, (m,) or (B, m); default both 0, a
    neutrality row) are zero on inactive assets; an infinite row bound is held at
    ``ROW_INF`` (far beyond any weight of a book).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    active = np.array(active, dtype=bool)
    b, n = active.shape
    cov = np.zeros((b, n, n)) if cov is None else np.broadcast_to(cov, (b, n, n))
    active &= np.isfinite(np.diagonal(cov, axis1=1, axis2=2))
    if mu is not None:
        mu = np.broadcast_to(mu, (b, n))
        active &= np.isfinite(mu)
    cov = np.ascontiguousarray(cov, dtype=np.float64)
    active &= ~bad_rows_nb(cov, active)
    cov = symmetrize_masked_nb(cov, active, np.empty_like(cov))  # 0.5 * (cov + cov^T) on active pairs, 0 elsewhere
    mu = np.zeros((b, n)) if mu is None else np.where(active, mu, 0.0)
    lower = np.where(active, _bn(lower, b, n), 0.0)
    upper = np.where(active, _bn(upper, b, n), 0.0)
    w0 = np.zeros((b, n)) if w0 is None else np.nan_to_num(np.broadcast_to(w0, (b, n)).astype(float))
    extra = {}
    if gross is not None:
        extra["gross"] = _b(gross, b)
    if rows is not None:
        rows = np.broadcast_to(np.asarray(rows, dtype=float), (b,) + np.shape(rows)[-2:])
        m = rows.shape[1]
        extra["rows"] = np.where(active[:, None, :], np.nan_to_num(rows), 0.0)
        for name, value in (("row_lo", row_lo), ("row_hi", row_hi)):
            value = np.broadcast_to(np.asarray(0.0 if value is None else value, dtype=float), (b, m))
            extra[name] = np.clip(value, -ROW_INF, ROW_INF)
    return Problem(kind, cov, mu, lower, upper, _b(budget, b), w0, _b(risk_aversion, b), _b(turnover, b),
                   _b(risk_free, b), _b(alpha, b), scenarios, _b(target, b), **extra)


def _b(value, b: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=float).reshape(-1), (b,)).copy()


def _bn(value, b: int, n: int) -> np.ndarray:
    """A scalar, (N,), (B, 1) or (B, N) value as a float (B, N) array."""
    return np.broadcast_to(np.asarray(value, dtype=float), (b, n)).astype(float)


# --------------------------------------------------------------------------- checks


def bounds_feasible(problem: Problem) -> np.ndarray:
    """(B,) bool: some asset is active and the bounds can sum to the budget.

    With a gross limit also: the positions the bounds force (``max(lower, 0)`` long,
    ``max(-upper, 0)`` short) and the net budget fit under it.
    """
    lo, hi = problem.lower.sum(axis=1), problem.upper.sum(axis=1)
    crossed = (problem.lower > problem.upper + TOL).any(axis=1)
    ok = problem.active.any(axis=1) & ~crossed & (hi >= problem.budget - TOL) & (lo <= problem.budget + TOL)
    if _has_gross(problem):
        forced = np.maximum(problem.lower, 0.0).sum(axis=1) + np.maximum(-problem.upper, 0.0).sum(axis=1)
        ok &= (forced <= problem.gross + TOL) & (np.abs(problem.budget) <= problem.gross + TOL)
    return ok


def _has_gross(problem) -> bool:
    """``problem`` (a :class:`Problem`, or another problem type these checks serve) has a
    finite gross limit."""
    return bool(getattr(problem, "has_gross", False))


def check_weights(w: np.ndarray, problem: Problem, rows: np.ndarray) -> np.ndarray:
    """(len(rows),) bool: finite, within ``[lower, upper]``, summing to the budget, within
    the gross limit and the linear rows (each ± TOL)."""
    lo, hi = problem.lower[rows], problem.upper[rows]
    with np.errstate(invalid="ignore"):
        inside = ((w >= lo - TOL) & (w <= hi + TOL)).all(axis=1)
        budget = np.abs(w.sum(axis=1) - problem.budget[rows]) <= TOL
        if _has_gross(problem):
            inside &= np.abs(w).sum(axis=1) <= problem.gross[rows] + TOL
        if getattr(problem, "rows", None) is not None:
            fw = np.einsum("bmn,bn->bm", problem.rows[rows], np.nan_to_num(w))
            inside &= ((fw >= problem.row_lo[rows] - TOL) & (fw <= problem.row_hi[rows] + TOL)).all(axis=1)
    return np.isfinite(w).all(axis=1) & inside & budget


def _clean(w: np.ndarray, problem: Problem, rows: np.ndarray) -> np.ndarray:
    """Clip an accepted solution onto its bounds (removes solver round-off like -1e-10).

    Where a solution within :data:`TOL` of every bound and of the budget has a clipped sum
    off the budget by more than TOL (a first-order solution at tolerance 1e-7 may sit just
    below zero on hundreds of assets, -5e-6 in all), the clipped row is projected onto the
    bounds and the budget instead (the nearest point: a shift of ~1e-8 per asset), so a
    sound solution is not rejected for its round-off. A solution outside the tolerances is
    left clipped, and rejected.
    """
    lo, hi, budget = problem.lower[rows], problem.upper[rows], problem.budget[rows]
    out = np.clip(w, lo, hi)
    with np.errstate(invalid="ignore"):
        sound = ((w >= lo - TOL) & (w <= hi + TOL)).all(axis=1) & (np.abs(w.sum(axis=1) - budget) <= TOL)
        off = sound & np.isfinite(out).all(axis=1) & (np.abs(out.sum(axis=1) - budget) > TOL)
    for r in np.flatnonzero(off):
        project_box_budget_nb(out[r].copy(), lo[r], hi[r], float(budget[r]), out[r])
    return out


def capped_weights(raw: np.ndarray, upper: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Scale non-negative (B, N) ``raw`` to ``budget`` with each weight at most ``upper`` (B, N).

    Water-filling with per-asset caps: names over their cap are held at it and the rest is
    spread over the others in proportion to ``raw``; what no name can take stays in cash.
    """
    raw = np.where(np.isfinite(raw), np.maximum(raw, 0.0), 0.0)
    upper = np.broadcast_to(upper, raw.shape)
    budget = np.asarray(budget, dtype=float).reshape(-1, 1)
    hit = np.zeros(raw.shape, dtype=bool)
    w = raw
    for _ in range(raw.shape[1] + 1):
        free = np.where(hit, 0.0, raw)
        room = np.maximum(budget - np.where(hit, upper, 0.0).sum(axis=1, keepdims=True), 0.0)
        total = free.sum(axis=1, keepdims=True)
        w = np.where(hit, upper, np.divide(free * room, total, out=np.zeros_like(free), where=total > 0))
        over = (w > upper * (1 + 1e-12)) & ~hit
        if not over.any():
            break
        hit |= over
    return np.minimum(w, upper)


def usable_fallback(problem: Problem, fallback: np.ndarray) -> np.ndarray:
    """The phase-2 ``fallback`` (B, N); for a long-short problem (:attr:`Problem.extended`
    or a short allowed) only its rows that meet every constraint, NaN elsewhere (so the
    chain holds the book rather than trade into a book the problem forbids)."""
    if not (getattr(problem, "extended", False) or (problem.lower < 0).any()):
        return fallback
    ok = check_weights(fallback, problem, np.arange(problem.shape[0]))
    return np.where(ok[:, None], fallback, np.nan)
