"""Claims on trial: does the backtest bear out what its experiment claims?

An experiment may state claims about the metrics its run reports (fractions, as
:func:`simlab.analysis.metrics.summary` gives them)::

    claims:
      sharpe: {min: 2.85}
      active_return: {min: 1.06}      # +106% total return over the benchmark's
      max_drawdown: {max: 0.20}

:func:`claims_table` judges each claim on each scenario (or on the one its ``scenario``
names). A row holds:

estimate
    The metric of the run, as :meth:`Result.metrics` reports it.
interval
    A ``confidence`` (95%) percentile interval from a stationary block bootstrap of the
    scenario's daily path (its returns, and the benchmark's on the same days, resampled
    together; turnover and costs as fractions of NAV likewise), ``draws`` resamples
    seeded from the experiment's ``seed`` and the scenario's name, mean block length
    from the data (:func:`simlab.analysis.statistics.path_block_length`). Resampled
    paths have the run's length, so total and active returns compare with the claim.
    ``total_costs`` (money) has no interval.
PSR, MinTRL
    For Sharpe claims: the probability that the true Sharpe ratio meets the claim, and
    the track record (years) needed before a PSR against the claimed minimum would reach
    ``confidence`` (``inf`` when the observed Sharpe ratio is not above it).
DSR
    The deflated Sharpe ratio of the scenario: its PSR against the claimed minimum Sharpe
    ratio (0 for claims on other metrics, as in Bailey and Lopez de Prado) raised by the
    Sharpe ratio the best of ``N`` trials would show by luck, ``N`` the scenarios (times
    the variants of a ``sweep:`` block) or the claim's ``trials``, the larger; their
    spread that of the scenarios' Sharpe ratios (with one scenario, that of chance
    alone). With one trial it is the PSR. The claims are judged on the experiment's own
    run; a sweep's variants only count as trials.
    Formulas and references: :mod:`simlab.analysis.statistics`.
walk-forward
    On expanding in-sample windows (the first ``train_days`` long) the best scenario for
    the claim is picked and held over the next ``test_days``; the out-of-sample pieces,
    stitched, give the walk-forward estimate, and ``wf_met`` counts the windows that bear
    the claim out on their own. Total and active returns are carried to the run's length
    at their out-of-sample pace, so that they compare with the claimed bound.

Verdicts
--------
- FAIL: the estimate itself misses the bound.
- PASS: the estimate meets it, and so do the whole interval and the walk-forward
  estimate; for a Sharpe claim, PSR >= ``confidence`` too and, for a claimed minimum
  when more than one trial was run, DSR >= ``confidence``.
- INCONCLUSIVE: the estimate meets the bound but a check above does not (the reason
  says which), or the metric is undefined on the run.

A claim's verdict is the worst of its rows (:func:`worst_verdict`). With several scenarios,
:func:`equal_sharpe_table` also tests each pair for equal Sharpe ratios. This module judges
a finished run; :mod:`simlab.lab.validate` runs the experiment and prints the verdicts
(``simlab validate``, which exits 1 when a claim fails).
"""

from __future__ import annotations

import functools
import itertools
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.analysis import metrics
from simlab.analysis import statistics as st
from simlab.analysis.metrics import drop_start_day, start_day_shares
from simlab.analysis.run_series import periods_of
from simlab.analysis.tables import PERCENT, format_estimate
from simlab.errors import ConfigError

__all__ = ["Claim", "claims_of", "claims_table", "equal_sharpe_table", "metric_interval", "walk_forward",
           "worst_verdict"]

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
BENCHMARK_METRICS = {"active_return", "annual_active_return", "tracking_error", "information_ratio", "beta"}
SPAN_METRICS = {"total_return", "active_return"}
POINT_ONLY = {"total_costs", "effective_assets", "diversification_ratio", "position_hit_rate"}
COLUMNS = ["claim", "metric", "min", "max", "scenario", "estimate", "ci_low", "ci_high", "block_length",
           "psr", "dsr", "trials", "min_trl_years", "years", "wf_estimate", "wf_met", "wf_windows",
           "verdict", "reason"]
PERIODS = 252
"""Daily returns a year on the default calendar; a run's own year is :func:`~simlab.analysis.run_series.periods_of`."""
_CHUNK = 250  # resamples computed at once
VERDICT_RANK = {PASS: 0, INCONCLUSIVE: 1, FAIL: 2}
"""Verdicts from best to worst."""


# ----------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A bound on one metric: ``min <= value`` and/or ``value <= max``."""

    metric: str
    min: float | None = None
    max: float | None = None
    scenario: str | None = None
    trials: int | None = None

    @property
    def label(self) -> str:
        """``sharpe >= 2.85``, ``max_drawdown <= 20%``, ``0.5 <= beta <= 0.9``."""
        lo, hi = (None if b is None else _bound(self.metric, b) for b in (self.min, self.max))
        if lo is not None and hi is not None:
            return f"{lo} <= {self.metric} <= {hi}"
        return f"{self.metric} >= {lo}" if lo is not None else f"{self.metric} <= {hi}"

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds (never for NaN)."""
        return bool(np.isfinite(value) and (self.min is None or value >= self.min)
                    and (self.max is None or value <= self.max))

    def score(self, values: np.ndarray) -> np.ndarray:
        """Larger is better for the claim: the value, minus the value, or minus the miss."""
        values = np.asarray(values, dtype="float64")
        if self.max is None:
            out = values
        elif self.min is None:
            out = -values
        else:
            out = -(np.maximum(self.min - values, 0) + np.maximum(values - self.max, 0))
        return np.where(np.isfinite(out), out, -np.inf)

    def miss(self, value: float) -> str:
        """How ``value`` misses the claim, in words."""
        if self.min is not None and value < self.min:
            return f"below the claimed minimum {_bound(self.metric, self.min)}"
        return f"above the claimed maximum {_bound(self.metric, self.max)}"


def claims_of(config) -> list[Claim]:
    """The claims of an experiment's config, in the order of the metrics."""
    return [Claim(metric, spec.min, spec.max, spec.scenario, spec.trials)
            for metric, spec in config.experiment.claims.items()]


def _bound(metric: str, value: float) -> str:
    return f"{value * 100:g}%" if metric in PERCENT else f"{value:g}"


def worst_verdict(verdicts, default: str = PASS) -> str:
    """The worst of ``verdicts`` (FAIL, then INCONCLUSIVE, then PASS); ``default`` when there is none."""
    return max(verdicts, key=VERDICT_RANK.__getitem__, default=default)


# ----------------------------------------------------------------------------
# Metrics on (T, K) panels of daily series
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Panel:
    """Daily series a metric needs, (T, K): K scenarios, or K resamples of one.

    ``benchmark`` has one column, shared by all; ``turnover`` and ``costs`` are traded
    value and costs over the NAV at the previous close.
    """

    returns: np.ndarray
    benchmark: np.ndarray | None = None
    turnover: np.ndarray | None = None
    costs: np.ndarray | None = None

    def take(self, rows: np.ndarray, cols) -> _Panel:
        """Rows (T',) of columns ``cols``; or, with rows (T', K'), element-wise picks."""
        def pick(a, c):
            return None if a is None else a[rows, c] if np.ndim(rows) == 2 else a[rows][:, c]
        first = 0 if np.ndim(rows) == 2 else [0]
        return _Panel(pick(self.returns, cols), pick(self.benchmark, first), pick(self.turnover, cols),
                      pick(self.costs, cols))


def _metric(metric: str, p: _Panel, risk_free: float, periods: float = PERIODS) -> np.ndarray:
    """(K,) ``metric`` of each column, through :mod:`simlab.analysis.metrics`."""
    r = pd.DataFrame(p.returns)
    if metric in BENCHMARK_METRICS:
        b = pd.DataFrame(np.broadcast_to(p.benchmark, p.returns.shape))
        args = (periods,) if metric in {"annual_active_return", "tracking_error", "information_ratio"} else ()
        return getattr(metrics, metric)(r, b, *args).to_numpy()
    if metric in {"annual_turnover", "cost_drag"}:
        share = pd.DataFrame(p.turnover if metric == "annual_turnover" else p.costs)
        return getattr(metrics, metric)(share, pd.DataFrame(1.0, share.index, share.columns).where(
            share.notna().cummax()), periods).to_numpy()
    calls = {"sharpe": (risk_free, periods), "sortino": (0.0, periods), "cagr": (periods,),
             "annual_volatility": (periods,), "calmar": (periods,)}
    if metric in POINT_ONLY:
        return np.full(r.shape[1], np.nan)
    return getattr(metrics, metric)(r, *calls.get(metric, ())).to_numpy()


def _panel(result, names: list[str], needs: set[str]) -> _Panel:
    """The run's daily series for the scenarios ``names``."""
    nav = result.nav[names]
    bench = result.benchmark_returns
    returns = drop_start_day(result.returns[names])
    return _Panel(
        returns.to_numpy(dtype="float64"),
        None if bench is None else bench.iloc[1:].to_numpy(dtype="float64")[:, None],
        start_day_shares(result.daily_traded_value()[names], nav, returns).to_numpy() if "annual_turnover" in needs
        else None,
        start_day_shares(result.daily_costs()[names], nav, returns).to_numpy() if "cost_drag" in needs else None,
    )


# ----------------------------------------------------------------------------
# Bootstrap intervals
# ----------------------------------------------------------------------------


def _seed(seed: int, *names: str) -> np.random.SeedSequence:
    """A seed from the experiment's and the names (scenario, pair), independent of order."""
    return np.random.SeedSequence([int(seed) % (1 << 63), *(zlib.crc32(n.encode()) for n in names)])


def _bootstrap(panel: _Panel, wanted: list[str], block: float, draws: int, seed, risk_free: float,
               periods: float = PERIODS) -> dict:
    """metric -> (draws,) values on stationary-bootstrap resamples of a one-column panel."""
    rng = np.random.default_rng(seed)
    n = panel.returns.shape[0]
    parts: dict[str, list] = {m: [] for m in wanted}
    for start in range(0, draws, _CHUNK):
        idx = st.stationary_bootstrap_indices(n, block, min(_CHUNK, draws - start), rng).T
        resampled = panel.take(idx, 0)
        for m in wanted:
            parts[m].append(_metric(m, resampled, risk_free, periods))
    return {m: np.concatenate(v) for m, v in parts.items()}


def metric_interval(
    metric: str,
    returns: pd.Series,
    benchmark_returns: pd.Series | None = None,
    *,
    draws: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    risk_free: float = 0.0,
    periods: float = PERIODS,
) -> tuple[float, float, float]:
    """``(low, high, block_length)``: percentile interval of a return-based metric.

    The stationary block bootstrap of :func:`claims_table`, on one daily return series
    (and the benchmark's on the same days), seeded by ``seed``; annualised over ``periods``
    daily returns a year.
    """
    r = np.asarray(returns, dtype="float64")
    b = None if benchmark_returns is None else np.asarray(benchmark_returns, dtype="float64")
    block = st.path_block_length(r, b)
    panel = _Panel(r[:, None], None if b is None else b[:, None])
    values = _bootstrap(panel, [metric], block, draws, _seed(seed), risk_free, periods)[metric]
    return (*st.percentile_interval(values, confidence), block)


# ----------------------------------------------------------------------------
# Walk-forward
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkForward:
    """The claim judged out of sample on the best scenario picked in sample."""

    estimate: float
    met: int
    windows: int


def _windows(n: int, train: int, test: int, shortest: int = 21) -> list[tuple[int, int]]:
    """Out-of-sample (start, end) rows after an expanding in-sample window of ``train`` rows."""
    train = min(train, n // 2)
    if n - train < shortest:
        return []
    bounds = [*range(train, n, test), n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < shortest:
        del bounds[-2]
    return list(itertools.pairwise(bounds))


def _to_span(metric: str, value: float, part: _Panel, n_total: int, bench_total: float) -> float:
    """Carry a metric that grows with the span from ``part``'s days to ``n_total`` at its pace."""
    if metric not in SPAN_METRICS or not np.isfinite(value):
        return value
    f = n_total / part.returns.shape[0]
    if metric == "total_return":
        return float((1 + value) ** f - 1)
    rb = float(np.prod(1 + np.nan_to_num(part.benchmark[:, 0])) - 1)
    return float((1 + bench_total) * (((1 + value + rb) / (1 + rb)) ** f - 1))


def walk_forward(claim: Claim, panel: _Panel, *, train_days: int = 756, test_days: int = 252,
                 risk_free: float = 0.0, periods: float = PERIODS) -> WalkForward | None:
    """Pick the best scenario on each expanding window, judge it on the next one.

    None when the run is too short for one out-of-sample window of 21 days, or the
    metric has no daily form (``total_costs``).
    """
    n = panel.returns.shape[0]
    windows = _windows(n, train_days, test_days)
    if not windows or claim.metric in POINT_ONLY:
        return None
    bench_total = np.nan if panel.benchmark is None else float(np.prod(1 + np.nan_to_num(panel.benchmark)) - 1)
    rows, cols, met = [], [], 0
    for start, end in windows:
        past = _metric(claim.metric, panel.take(np.arange(start), slice(None)), risk_free, periods)
        pick = int(np.argmax(claim.score(past)))
        piece = panel.take(np.arange(start, end), [pick])
        value = _metric(claim.metric, piece, risk_free, periods)[0]
        met += claim.holds(_to_span(claim.metric, value, piece, n, bench_total))
        rows.append(np.arange(start, end))
        cols.append(np.full(end - start, pick))
    stitched = panel.take(np.concatenate(rows)[:, None], np.concatenate(cols)[:, None])
    value = _metric(claim.metric, stitched, risk_free, periods)[0]
    return WalkForward(_to_span(claim.metric, value, stitched, n, bench_total), met, len(windows))


# ----------------------------------------------------------------------------
# The claims table
# ----------------------------------------------------------------------------


def _check(claims: list[Claim], result) -> None:
    names = list(result.scenarios)
    for claim in claims:
        where = f"claims.{claim.metric}"
        if claim.scenario is not None and claim.scenario not in names:
            raise ConfigError(f"{where}.scenario: {claim.scenario!r} is not a scenario of {result.config.name} "
                              f"(it has: {', '.join(names)})")
        if claim.metric in BENCHMARK_METRICS and result.benchmark_returns is None:
            raise ConfigError(f"{where}: {claim.metric} is measured against a benchmark, and data.benchmark is "
                              "null; give one (e.g. builtin:sp500_index)")


def _sweep_variants(config) -> int:
    """How many variants the experiment's ``sweep:`` block makes (1 without one)."""
    sweep = getattr(config.experiment, "sweep", None) or {}
    return int(np.prod([len(values) for values in sweep.values()])) if sweep else 1


def _sharpe_columns(claim: Claim, r: np.ndarray, sharpes: np.ndarray, variants: int, confidence: float,
                    rf: float, periods: float = PERIODS) -> dict:
    """PSR (probability the claim holds), MinTRL (years), DSR and its trial count."""
    sharpes = sharpes[np.isfinite(sharpes)]
    trials = max(len(sharpes) * variants, claim.trials or 1)
    spread = float(np.std(sharpes, ddof=1)) if len(sharpes) > 1 else None
    floor = claim.min if claim.metric == "sharpe" and claim.min is not None else 0.0
    out = {"psr": np.nan, "min_trl_years": np.nan, "trials": trials,
           "dsr": st.deflated_sharpe_ratio(r, trials, spread, benchmark=floor, risk_free=rf, periods=periods)}
    if claim.metric != "sharpe":
        return out
    above = 1.0 if claim.min is None else st.probabilistic_sharpe_ratio(r, claim.min, risk_free=rf, periods=periods)
    below = 0.0 if claim.max is None else st.probabilistic_sharpe_ratio(r, claim.max, risk_free=rf, periods=periods)
    out["psr"] = above - below
    if claim.min is not None:
        trl = st.min_track_record_length(r, claim.min, confidence=confidence, risk_free=rf, periods=periods)
        out["min_trl_years"] = trl / periods
    return out


def claims_table(
    result,
    claims: list[Claim] | None = None,
    *,
    draws: int = 1000,
    seed: int | None = None,
    confidence: float = 0.95,
    trial_sharpes: np.ndarray | None = None,
    train_days: int | None = None,
    test_days: int | None = None,
) -> pd.DataFrame:
    """One row per claim and scenario judged: estimate, interval, PSR, DSR, MinTRL, walk-forward, verdict.

    Parameters
    ----------
    result : Result
        A finished run.
    claims : list of Claim, optional
        Default: the claims of the run's config.
    draws : int
        Bootstrap resamples per scenario.
    seed : int, optional
        Default: the experiment's ``seed``.
    confidence : float
        Interval coverage, and the PSR and DSR a PASS needs.
    trial_sharpes : array, optional
        Annualized Sharpe ratios of every variant tried (a sweep's); default the
        scenarios', counted once for each variant of the experiment's ``sweep:`` block.
        Their count and spread set the DSR's benchmark.
    train_days, test_days : int, optional
        First in-sample window and out-of-sample step of the walk-forward check; default three
        years and one of the run's calendar (756 and 252 rows; 1,095 and 365 on
        ``data.calendar: every_day``).

    Every annualised number (estimate, interval, PSR, DSR, MinTRL in years, walk-forward)
    uses the run's year: 252 daily returns, or 365 on ``data.calendar: every_day``.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS` (module docstring); empty without claims.
    """
    claims = claims_of(result.config) if claims is None else list(claims)
    _check(claims, result)
    if not claims:
        return pd.DataFrame(columns=COLUMNS)
    names, rf, year = list(result.scenarios), result.config.experiment.risk_free, periods_of(result)
    train_days = 3 * year if train_days is None else train_days
    test_days = year if test_days is None else test_days
    seed = result.config.experiment.seed if seed is None else seed
    panel = _panel(result, names, {c.metric for c in claims})
    point = result.metrics()
    sharpes = np.asarray(point["sharpe"] if trial_sharpes is None else trial_sharpes, dtype="float64")
    variants = _sweep_variants(result.config) if trial_sharpes is None else 1
    wanted = sorted({c.metric for c in claims} - POINT_ONLY)
    boots: dict[str, tuple[float, dict]] = {}
    rows = []
    for claim in claims:
        walk = walk_forward(claim, panel, train_days=train_days, test_days=test_days, risk_free=rf, periods=year)
        for j, name in enumerate(names):
            if claim.scenario not in (None, name):
                continue
            one = panel.take(np.arange(len(panel.returns)), [j])
            if name not in boots:
                block = st.path_block_length(one.returns[:, 0], None if one.benchmark is None else one.benchmark[:, 0])
                boots[name] = (block, _bootstrap(one, wanted, block, draws, _seed(seed, name), rf, year))
            block, dist = boots[name]
            lo, hi = st.percentile_interval(dist[claim.metric], confidence) if claim.metric in dist else (np.nan,) * 2
            row = {"claim": claim.label, "metric": claim.metric, "min": claim.min, "max": claim.max,
                   "scenario": name, "estimate": float(point.loc[name, claim.metric]), "ci_low": lo, "ci_high": hi,
                   "block_length": block, "years": len(one.returns) / year,
                   "wf_estimate": np.nan if walk is None else walk.estimate,
                   "wf_met": 0 if walk is None else walk.met, "wf_windows": 0 if walk is None else walk.windows,
                   **_sharpe_columns(claim, one.returns[:, 0], sharpes, variants, confidence, rf, year)}
            row["verdict"], row["reason"] = _verdict(claim, row, confidence)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _verdict(claim: Claim, row: dict, confidence: float) -> tuple[str, str]:
    """PASS, FAIL or INCONCLUSIVE, and why (module docstring)."""
    m, est, lo, hi, wf = claim.metric, row["estimate"], row["ci_low"], row["ci_high"], row["wf_estimate"]
    if not np.isfinite(est):
        return INCONCLUSIVE, f"{m} is undefined on this run"
    shown = functools.partial(format_estimate, m)
    interval = f"the {confidence:.0%} interval [{shown(lo)}, {shown(hi)}]"
    has_interval = bool(np.isfinite(lo) and np.isfinite(hi))
    sharpe, deflate = m == "sharpe", m == "sharpe" and claim.min is not None and row["trials"] > 1
    if not claim.holds(est):
        text = f"the estimate {shown(est)} is {claim.miss(est)}"
        if has_interval:
            apart = (claim.min is not None and hi < claim.min) or (claim.max is not None and lo > claim.max)
            text += f"; {interval} {'excludes' if apart else 'reaches'} the claim"
        return FAIL, text + (f" (PSR {row['psr']:.3f})" if sharpe else "")
    doubts = []
    if has_interval and not (claim.holds(lo) and claim.holds(hi)):
        doubts.append(f"{interval} reaches past the bound")
    elif not has_interval and m not in POINT_ONLY:
        doubts.append("no bootstrap interval could be computed")
    if sharpe and not row["psr"] >= confidence:
        doubts.append(f"PSR {row['psr']:.3f} < {confidence:g}: {row['years']:.1f} years of returns, short of the "
                      f"minimum track record of {row['min_trl_years']:.1f}")
    if deflate and not row["dsr"] >= confidence:
        doubts.append(f"DSR {row['dsr']:.3f} < {confidence:g}: the best of {row['trials']} trials could show "
                      "this Sharpe ratio by luck")
    if np.isfinite(wf) and not claim.holds(wf):
        doubts.append(f"walk-forward out of sample gives {shown(wf)}, {claim.miss(wf)}")
    if doubts:
        return INCONCLUSIVE, "; ".join(doubts)
    said = [f"the estimate {shown(est)}" + (f" and {interval} meet the bound" if has_interval else " meets it "
                                            "(point estimate only: no interval for this metric)")]
    if sharpe:
        said.append(f"PSR {row['psr']:.3f}" + (f" and DSR {row['dsr']:.3f}" if deflate else "")
                    + f" reach {confidence:g}")
    if np.isfinite(wf):
        said.append(f"walk-forward {shown(wf)} meets it too")
    return PASS, "; ".join(said)


# ----------------------------------------------------------------------------
# Equal Sharpe ratios, pair by pair
# ----------------------------------------------------------------------------


def equal_sharpe_table(result, *, draws: int = 999, seed: int | None = None) -> pd.DataFrame:
    """Ledoit-Wolf test of equal Sharpe ratios for each pair of scenarios.

    Returns
    -------
    DataFrame
        One row per pair: ``scenario_a, scenario_b, sharpe_a, sharpe_b, difference, se``
        (annualized), ``p_value_hac`` (normal test with the HAC error), ``p_value``
        (studentized circular block bootstrap, ``draws`` resamples seeded from ``seed``
        and the pair's names), ``p_holm`` (Holm's adjustment of ``p_value`` over the
        pairs), ``block_length``, ``draws``. Empty with fewer than two scenarios. Each pair is
        measured on the days both scenarios are invested (after their start days,
        :func:`~simlab.analysis.metrics.drop_start_day`).
    """
    seed = result.config.experiment.seed if seed is None else seed
    names, returns, rf = list(result.scenarios), drop_start_day(result.returns), result.config.experiment.risk_free
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = returns[[a, b]].dropna()  # the days both scenarios are invested
            test = st.sharpe_difference_test(both[a], both[b], draws=draws, seed=_seed(seed, a, b), risk_free=rf,
                                             periods=periods_of(result))
            rows.append({"scenario_a": a, "scenario_b": b, **vars(test)})
    table = pd.DataFrame(rows, columns=["scenario_a", "scenario_b", "sharpe_a", "sharpe_b", "difference", "se",
                                        "p_value_hac", "p_value", "block_length", "draws"])
    table.insert(8, "p_holm", st.holm(table["p_value"].to_numpy(dtype="float64")))
    return table
