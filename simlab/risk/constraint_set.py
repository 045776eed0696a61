"""The constraints of one decision on (B, N) weights: check, back off, restore, project.

The arithmetic the ``regime_constraints`` Step (:mod:`simlab.risk.constraints`) runs at
one decision, for B scenarios at once: each risk constraint's utilization and drivers
(:class:`Check`), the backoff factors of the curve (:mod:`simlab.risk.backoff`), the exact
*restore* of a violated constraint by scaling its drivers down, repeated in rounds
(:meth:`ConstraintSet.project`) until no constraint is violated; and the turnover move
toward a target within a budget (:func:`turnover_move`).

``Limits`` holds the effective limits, ``RiskModel`` what the checks read besides the
weights (sectors, correlations and their clusters, betas, covariance).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from simlab.risk.backoff import BackoffCurve, driver_factor, group_factor

TOL = 1e-9  # a utilization up to 1 + TOL passes
PROJECTION_ORDER = ("beta", "volatility", "correlation", "sector", "single_name", "gross")
BANDS = ("beta", "volatility")
CAPS = ("correlation", "sector", "single_name", "gross")


# ---------------------------------------------------------------------------- limits and the risk model


@dataclass(frozen=True)
class Limits:
    """Effective limits at one decision, each (B,); bands (B, 2) low/high, NaN when off."""

    single_name: np.ndarray
    sector: np.ndarray
    correlation: np.ndarray
    cluster: np.ndarray
    gross: np.ndarray
    turnover: np.ndarray
    beta: np.ndarray
    volatility: np.ndarray


@dataclass(frozen=True)
class RiskModel:
    """What the checks read besides weights (daily units).

    Arrays are shared by all scenarios ((N,), (N, N), a float) or one per scenario
    ((B, N), (B, N, N), (B,)) when the scenarios use different estimation windows.
    """

    assets: tuple[str, ...]
    sector: np.ndarray  # (N,) group index, -1 without a sector
    sector_names: tuple[str, ...]
    correlation: np.ndarray  # (N, N) or (B, N, N), NaN where unknown
    beta: np.ndarray  # (N,) or (B, N) regression beta on the benchmark, NaN where unknown
    covariance: np.ndarray  # (N, N) or (B, N, N), NaN where unknown
    benchmark_vol: float | np.ndarray  # daily volatility of the benchmark, NaN when unknown
    linkage: str = "average"

    def filled_beta(self) -> np.ndarray:
        """Betas with unknown ones taken as 1 (the market's)."""
        return np.where(np.isfinite(self.beta), self.beta, 1.0)

    def filled_covariance(self) -> np.ndarray:
        """Covariance with an unknown variance as the median known one, unknown covariances 0."""
        cov = np.array(self.covariance, dtype=float)
        diag = np.diagonal(cov, axis1=-2, axis2=-1)
        known = np.isfinite(diag)
        with warnings.catch_warnings():  # a row without any known variance is all NaN: fine
            warnings.simplefilter("ignore", RuntimeWarning)
            fill = np.nanmedian(np.where(known, diag, np.nan), axis=-1, keepdims=True)
        diag = np.where(known, diag, fill)
        cov = np.where(np.isfinite(cov), cov, 0.0)
        n = cov.shape[-1]
        cov[..., np.arange(n), np.arange(n)] = diag
        return cov

    def clusters(self, limits: np.ndarray) -> tuple[np.ndarray, int]:
        """(B, N) cluster index of each asset for correlation limits (B,), -1 alone; and C."""
        out = np.full((len(limits), len(self.assets)), -1, dtype=np.int64)
        shared = self.correlation.ndim == 2
        keys = [(float(v), -1) for v in np.unique(limits)] if shared else [(float(v), b) for b, v in enumerate(limits)]
        for value, b in keys:
            ids = correlation_clusters(self.correlation if shared else self.correlation[b], value, self.linkage)
            out[(limits == value) if shared else b] = ids
        return out, int(out.max()) + 1


def correlation_clusters(corr: np.ndarray, limit: float, method: str = "average") -> np.ndarray:
    """(N,) cluster index per asset (-1 for an asset alone) for correlation >= ``limit``.

    Hierarchical clustering on the distance ``1 - correlation`` cut at ``1 - limit``:
    ``single`` joins any two assets at or above the limit (connected components),
    ``average`` needs the average correlation between two clusters to be, ``complete``
    every pair. Assets with an unknown correlation stay alone.
    """
    n = corr.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    known = np.isfinite(np.diag(corr))
    idx = np.flatnonzero(known)
    if len(idx) < 2:
        return out
    c = np.clip(np.nan_to_num(corr[np.ix_(idx, idx)], nan=0.0), -1.0, 1.0)
    dist = 1.0 - (c + c.T) / 2
    condensed = dist[np.triu_indices(len(idx), 1)]
    labels = fcluster(linkage(condensed, method=method), t=1.0 - limit + 1e-12, criterion="distance")
    sizes = np.bincount(labels)
    grouped = sizes[labels] > 1
    _, dense = np.unique(labels[grouped], return_inverse=True)
    out[idx[grouped]] = dense
    return out


# ---------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    """One constraint on B portfolios: utilization, pass, reason and backoff factors.

    ``utilization`` (B,) is the worst over the constraint's groups (NaN: not defined, for
    example nothing held); ``factor`` (B, N) the backoff factor for each position (1 where
    it does not drive the constraint); ``measure``/``limit`` describe the worst group,
    named ``groups[worst]``.
    """

    name: str
    utilization: np.ndarray
    factor: np.ndarray
    measure: np.ndarray
    limit: np.ndarray
    worst: np.ndarray
    groups: tuple[str, ...] = ()

    @property
    def passed(self) -> np.ndarray:
        """(B,) bool: utilization <= 1 (an undefined one passes)."""
        return ~(self.utilization > 1.0 + TOL)

    def reason(self, b: int) -> str:
        """Why scenario ``b`` passes or fails, in words."""
        u = self.utilization[b]
        if not np.isfinite(u):
            return f"{self.name}: not measured (nothing held or no data)"
        what = self.groups[self.worst[b]] if self.groups else self.name
        limit = self.limit[b]
        bound = f"[{limit[0]:.3g}, {limit[1]:.3g}]" if np.ndim(limit) else f"{limit:.4g}"
        verdict = "violated" if u > 1 + TOL else "within"
        return f"{self.name}: {what} at {self.measure[b]:.4g} against {bound}, utilization {u:.3f} ({verdict})"


class ConstraintSet:
    """The constraints at one decision for B scenarios: check, back off, project.

    Parameters
    ----------
    limits : Limits, the effective limits (B,).
    model : RiskModel, sectors, correlations, betas and covariance.
    curve : BackoffCurve.
    unreachable : what :meth:`project` does with a beta or volatility band that scaling
        the held positions down cannot reach (every held name on the wrong side of it):
        ``keep`` leaves the band violated and says so, ``cash`` empties the book.
    correlation : ``cluster`` caps the total weight of each correlated cluster;
        ``pairwise`` is the rule "applied element-wise: if any pair exceeds limit, fail
        check": a position's utilization is its highest correlation with another held
        position over the limit, and a violated check is restored by dropping the smaller
        position of the most correlated held pair, pair after pair (scaling cannot lower a
        correlation).
    """

    def __init__(self, limits: Limits, model: RiskModel, curve: BackoffCurve, unreachable: str = "keep",
                 correlation: str = "cluster"):
        if unreachable not in ("keep", "cash"):
            raise ValueError(f"unreachable must be 'keep' or 'cash'; got {unreachable!r}")
        if correlation not in ("cluster", "pairwise"):
            raise ValueError(f"correlation must be 'cluster' or 'pairwise'; got {correlation!r}")
        self.limits, self.model, self.curve, self.unreachable = limits, model, curve, unreachable
        self.correlation_mode = correlation
        self._factors = True
        self.cluster_ids, self.n_clusters = model.clusters(limits.correlation)
        self.beta = model.filled_beta()
        self.cov = model.filled_covariance()

    # -- evaluation

    def check(self, w: np.ndarray, names=PROJECTION_ORDER, factors: bool = True) -> dict[str, Check]:
        """Every risk constraint (all but turnover) on weights (B, N).

        With ``factors=False`` the backoff factors are left out (all ones), which is all a
        pass/fail test needs.
        """
        self._factors = factors
        try:
            return {name: getattr(self, f"_check_{name}")(w) for name in names}
        finally:
            self._factors = True

    def _groups(self, name, w, ids, n_groups, cap, labels) -> Check:
        b = w.shape[0]
        if n_groups == 0:
            nan = np.full(b, np.nan)
            return Check(name, nan, np.ones_like(w), nan, cap, np.zeros(b, dtype=np.int64), labels)
        ids = np.broadcast_to(ids, w.shape)
        util = group_sums(np.abs(w), ids, n_groups) / cap[:, None]
        worst = util.argmax(axis=1)
        factor = np.where(w != 0, group_factor(self.curve, util, ids), 1.0) if self._factors else 1.0
        grouped = (ids >= 0).any(axis=1)  # a scenario without groups: undefined, as when alone
        measure = np.where(grouped, util[np.arange(b), worst] * cap, np.nan)
        return Check(name, np.where(grouped, util.max(axis=1), np.nan), factor, measure, cap, worst, labels)

    def _check_single_name(self, w):
        n = w.shape[1]
        return self._groups("single_name", w, np.arange(n), n, self.limits.single_name, self.model.assets)

    def _check_sector(self, w):
        m = self.model
        return self._groups("sector", w, m.sector, len(m.sector_names), self.limits.sector, m.sector_names)

    def _check_correlation(self, w):
        if self.correlation_mode == "pairwise":
            return self._check_pairwise(w)
        labels = tuple(f"cluster {i}" for i in range(self.n_clusters))
        return self._groups("correlation", w, self.cluster_ids, self.n_clusters, self.limits.cluster, labels)

    def pair_correlation(self, w: np.ndarray) -> np.ndarray:
        """(B, N) each held position's highest correlation with another held one (NaN: none known)."""
        corr = np.broadcast_to(self.model.correlation, (len(w),) + self.model.correlation.shape[-2:])
        held = w != 0
        n = w.shape[1]
        pair = held[:, :, None] & held[:, None, :] & ~np.eye(n, dtype=bool)[None] & np.isfinite(corr)
        best = np.where(pair, corr, -np.inf).max(axis=2)
        return np.where(np.isfinite(best), best, np.nan)

    def _check_pairwise(self, w):
        b = len(w)
        cap = self.limits.correlation
        best = self.pair_correlation(w)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_asset = np.maximum(best, 0.0) / cap[:, None]
        known = np.isfinite(per_asset).any(axis=1)
        worst = np.where(known, np.nanargmax(np.where(np.isfinite(per_asset), per_asset, -np.inf), axis=1), 0)
        util = np.where(known, per_asset[np.arange(b), worst], np.nan)
        factor = np.where(w != 0, self.curve(per_asset), 1.0) if self._factors else 1.0
        measure = np.where(known, best[np.arange(b), worst], np.nan)
        return Check("correlation", util, factor, measure, cap, worst, self.model.assets)

    def _check_gross(self, w):
        gross = np.abs(w).sum(axis=1)
        util = gross / self.limits.gross
        factor = driver_factor(self.curve, util, w != 0) if self._factors else 1.0
        return Check("gross", util, factor, gross, self.limits.gross, np.zeros(len(w), dtype=np.int64))

    def _band(self, name, w, x, lean, band) -> Check:
        """Band check on exposure x (B,); the drivers are the positions whose lean (B, N)
        lies beyond x on the side x leans to: scaling them down moves x back to the middle."""
        mid, half = band.mean(axis=1), (band[:, 1] - band[:, 0]) / 2
        with np.errstate(invalid="ignore"):
            util = np.abs(x - mid) / half
            drivers = (w != 0) & np.where((x > mid)[:, None], lean > x[:, None], lean < x[:, None])
        factor = driver_factor(self.curve, util, drivers) if self._factors else 1.0
        return Check(name, util, factor, x, band, np.zeros(len(w), dtype=np.int64))

    def _check_beta(self, w):
        x, contrib = self.beta_exposure(w)
        return self._band("beta", w, x, contrib, self.limits.beta)

    def _check_volatility(self, w):
        x, lean = self.volatility_exposure(w)
        return self._band("volatility", w, x, lean, self.limits.volatility)

    def beta_exposure(self, w):
        """Sleeve beta (B,) and each position's signed beta (B, N)."""
        gross = np.abs(w).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w * self.beta).sum(axis=1) / gross, self.beta * np.sign(w)

    def volatility_exposure(self, w):
        """Sleeve volatility over the benchmark's (B,), and each position's lean (B, N).

        A position leans up when its marginal variance contribution exceeds the sleeve's
        variance, so scaling it down lowers the ratio; the lean is expressed on the ratio's
        scale (x times marginal over variance) so that it compares with the band's middle.
        """
        gross = np.abs(w).sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = w / gross
            marginal = np.matmul(v[:, None, :], self.cov)[:, 0, :]
            var = (marginal * v).sum(axis=1)
            x = np.sqrt(var) / self.model.benchmark_vol
            lean = x[:, None] * marginal * np.sign(w) / var[:, None]
        return x, lean

    # -- restoring a violated constraint exactly

    def restore(self, name: str, w: np.ndarray) -> np.ndarray:
        """Scale the drivers of ``name`` down just enough for it to hold again.

        A band that no scaling reaches is left as it is (see :meth:`restore_band`).
        """
        if name in BANDS:
            return self.restore_band(name, w, np.zeros(len(w), dtype=bool))[0]
        return getattr(self, f"_restore_{name}")(w)

    def restore_band(self, name: str, w: np.ndarray, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Restore band ``name`` except where ``skip`` (B,); also (B,) where it is unreachable."""
        return getattr(self, f"_restore_{name}")(w, skip)

    def _restore_groups(self, w, ids, n_groups, cap) -> np.ndarray:
        """Scale each group over its cap down to the cap."""
        if n_groups == 0:
            return w
        ids = np.broadcast_to(ids, w.shape)
        util = group_sums(np.abs(w), ids, n_groups) / cap[:, None]
        member = np.where(ids >= 0, np.take_along_axis(util, np.clip(ids, 0, None), axis=1), 0.0)
        return np.where(member > 1.0, w / np.maximum(member, 1.0), w)

    def _restore_single_name(self, w):
        return self._restore_groups(w, np.arange(w.shape[1]), w.shape[1], self.limits.single_name)

    def _restore_sector(self, w):
        return self._restore_groups(w, self.model.sector, len(self.model.sector_names), self.limits.sector)

    def _restore_correlation(self, w):
        if self.correlation_mode == "pairwise":
            return self._restore_pairwise(w)
        return self._restore_groups(w, self.cluster_ids, self.n_clusters, self.limits.cluster)

    def _restore_pairwise(self, w):
        """Drop the smaller position of the most correlated held pair over the limit, until none is."""
        out = w.copy()
        corr = np.broadcast_to(self.model.correlation, (len(w),) + self.model.correlation.shape[-2:])
        n = w.shape[1]
        for b in range(len(w)):
            while True:
                held = out[b] != 0
                c = np.where(held[:, None] & held[None, :] & ~np.eye(n, dtype=bool) & np.isfinite(corr[b]),
                             corr[b], -np.inf)
                i, j = np.unravel_index(np.argmax(c), c.shape)
                if not c[i, j] > self.limits.correlation[b] * (1 + TOL):
                    break
                out[b, j if abs(out[b, j]) < abs(out[b, i]) or (abs(out[b, j]) == abs(out[b, i]) and j > i) else i] = 0.0
        return out

    def _restore_gross(self, w):
        util = np.abs(w).sum(axis=1) / self.limits.gross
        return np.where((util > 1.0)[:, None], w / np.maximum(util, 1.0)[:, None], w)

    def _restore_beta(self, w, skip):
        x, c = self.beta_exposure(w)
        out, unreachable = w.copy(), np.zeros(len(w), dtype=bool)
        a = np.abs(w)
        over = _beyond(x, self.limits.beta) & ~skip
        for side, bound in ((1, self.limits.beta[:, 1]), (-1, self.limits.beta[:, 0])):
            with np.errstate(invalid="ignore"):
                bad = over & (side * (x - bound) > 0)
                drivers = (w != 0) & (side * (c - bound[:, None]) > 0)
            excess = np.where(drivers, side * (c - bound[:, None]) * a, 0.0).sum(axis=1)
            room = np.where(~drivers, -side * (c - bound[:, None]) * a, 0.0).sum(axis=1)
            unreachable |= bad & ~(room > 0)
            fix = bad & (room > 0) & (excess > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                s = np.clip(room / excess, 0.0, 1.0)
            out = out * np.where(fix[:, None] & drivers, s[:, None], 1.0)
        return out, unreachable

    def _restore_volatility(self, w, skip):
        x, lean = self.volatility_exposure(w)
        lo, hi = self.limits.volatility[:, 0], self.limits.volatility[:, 1]
        over = _beyond(x, self.limits.volatility) & ~skip
        with np.errstate(invalid="ignore"):
            up, down = over & (x > hi), over & (x < lo)
        if not (up | down).any():
            return w, np.zeros(len(w), dtype=bool)
        drivers = (w != 0) & np.where(up[:, None], lean > x[:, None], lean < x[:, None]) & (up | down)[:, None]
        s, found = self._volatility_scale(w, drivers, np.where(up, hi, lo), np.where(up, 1.0, -1.0))
        unreachable = (up | down) & ~found
        return np.where(drivers & found[:, None], w * s[:, None], w), unreachable

    def _volatility_scale(self, w, drivers, target, side) -> np.ndarray:
        """(B,) the largest s in [0, 1] with the drivers times s putting the ratio at ``target``,
        and (B,) whether there is one.

        With d the drivers and o the rest, the sleeve ratio at scale s is on the target where
        ``(s d + o)' C (s d + o) = (target * vol_b)^2 (s |d| + |o|)^2``: a quadratic in s.
        ``side`` +1 wants the ratio down to the target, -1 up to it; without a root in
        [0, 1] the band cannot be reached by these drivers.
        """
        d, o = np.where(drivers, w, 0.0), np.where(drivers, 0.0, w)
        cd, co = (np.matmul(v[:, None, :], self.cov)[:, 0, :] for v in (d, o))
        gd, go = np.abs(d).sum(axis=1), np.abs(o).sum(axis=1)
        t2 = (target * self.model.benchmark_vol) ** 2
        a = side * ((cd * d).sum(axis=1) - t2 * gd * gd)
        b = side * 2 * ((cd * o).sum(axis=1) - t2 * gd * go)
        c = side * ((co * o).sum(axis=1) - t2 * go * go)
        with np.errstate(invalid="ignore", divide="ignore"):
            root = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
            quad = np.stack([(-b + root) / (2 * a), (-b - root) / (2 * a)], axis=1)
            lin = np.where(b != 0, -c / b, np.nan)[:, None]
        roots = np.where((np.abs(a) > 1e-300)[:, None], quad, lin)
        roots = np.where((roots >= 0) & (roots <= 1) & (b * b - 4 * a * c >= 0)[:, None], roots, np.nan)
        found = np.isfinite(roots).any(axis=1) & drivers.any(axis=1)
        s = np.where(found, np.max(np.where(np.isfinite(roots), roots, -1.0), axis=1), 1.0)
        return np.clip(s, 0.0, 1.0), found

    # -- the whole procedure

    def back_off(self, w: np.ndarray, checks: dict[str, Check], names=PROJECTION_ORDER) -> np.ndarray:
        """Weights times the backoff factors of the constraints ``names`` (they multiply)."""
        scale = np.ones_like(w)
        for name in names:
            if name in checks:
                scale = scale * checks[name].factor
        return w * scale

    def project(self, w: np.ndarray, max_rounds: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Restore violated constraints in rounds until all hold.

        Each round restores every violated constraint in ``PROJECTION_ORDER``; a band that
        its drivers cannot reach is set aside for that scenario. The beta and volatility
        bands both describe the sleeve, not its size, so two of them pulling against each
        other would only grind the book down round after round: a scenario still failing
        after ``max_rounds`` goes back to its weights with the caps alone restored, its
        bands left as they were. Every cap holds at the end (a cap only scales positions
        down, so none undoes another). Returns the weights, the rounds used (B,) and (B,)
        the scenarios left with a band violated: kept as they are, or emptied to cash when
        ``unreachable`` is ``cash``.
        """
        b = len(w)
        caps_only = self._restore_caps(w)
        rounds = np.zeros(b, dtype=np.int64)
        stuck = {name: np.zeros(b, dtype=bool) for name in BANDS}
        failing = ~self.all_pass(w, excused=stuck)
        for _ in range(max_rounds):
            if not failing.any():
                break
            rounds += failing
            for name in PROJECTION_ORDER:
                if name in BANDS:
                    w, gave_up = self.restore_band(name, w, stuck[name])
                    stuck[name] |= gave_up
                else:
                    w = self.restore(name, w)
            failing = ~self.all_pass(w, excused=stuck)
        w = self._restore_caps(np.where(failing[:, None], caps_only, w))
        left = ~self.all_pass(w, names=BANDS)
        if self.unreachable == "cash":
            w = np.where(left[:, None], 0.0, w)
        return w, rounds, left

    def _restore_caps(self, w: np.ndarray) -> np.ndarray:
        for name in CAPS:
            w = self.restore(name, w)
        return w

    def all_pass(self, w: np.ndarray, names=PROJECTION_ORDER, excused=None) -> np.ndarray:
        """(B,) every risk constraint in ``names`` holds, bar those ``excused`` {name: (B,)}."""
        ok = np.ones(len(w), dtype=bool)
        for name, check in self.check(w, names, factors=False).items():
            ok &= check.passed | (excused[name] if excused and name in excused else False)
        return ok


def _beyond(x: np.ndarray, band: np.ndarray) -> np.ndarray:
    """(B,) exposure x outside its band (B, 2) by more than the pass tolerance."""
    mid, half = band.mean(axis=1), (band[:, 1] - band[:, 0]) / 2
    with np.errstate(invalid="ignore"):
        return np.abs(x - mid) / half > 1.0 + TOL


def group_sums(a: np.ndarray, ids: np.ndarray, n_groups: int) -> np.ndarray:
    """(B, G) sums of ``a`` (B, N) over each row's groups ``ids`` (B, N), -1 in none."""
    b = a.shape[0]
    member = ids >= 0
    flat = (np.arange(b)[:, None] * n_groups + ids)[member]
    return np.bincount(flat, weights=a[member], minlength=b * n_groups).reshape(b, n_groups)


def one_way(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B,) one-way turnover between weights a and b: sum |b - a| / 2."""
    return np.abs(b - a).sum(axis=1) / 2


def turnover_move(target, anchor, budget, curve: BackoffCurve, exempt):
    """Move from ``anchor`` toward ``target`` (B, N) within the per-rebalance ``budget`` (B,).

    The trade is scaled by the backoff factor of its utilization and, if still over
    budget, cut to the budget. Returns the weights, the utilization (B,), the backoff
    factor (B,) and the fraction of the trade done (B,).
    """
    traded = one_way(anchor, target)
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(traded > 0, traded / budget, 0.0)
        cut = np.where(traded > 0, budget / traded, 1.0)
    factor = curve(util)
    fraction = np.where(exempt, 1.0, np.minimum(factor, cut))
    return anchor + fraction[:, None] * (target - anchor), util, np.where(exempt, 1.0, factor), fraction
