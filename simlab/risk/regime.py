"""Market regimes, point in time: one label per trading day and which labels mean stress.

A detector turns market data into a label per day, an integer ``0 .. K-1`` (K at most 4)
that counts how many configured levels the day's statistic is beyond, and a mapping to
*normal* / *stress*: labels ``>= stress_from`` are stress. Every label at day t uses data
at or before t only.

Detectors are the ``detector`` kind of the component registry, each a frozen pydantic
model; the key is the ``type`` of a ``regime:`` entry:

``vix_threshold``
    VIX above ``levels`` (default 20, 30, 40; stress from 30). Where the VIX series is
    missing (the built-in one covers 2014-2019 only) the day uses a proxy: the annualized
    realized volatility of the benchmark index over the trailing ``proxy_window`` days
    (21), in VIX points, times ``proxy_scale`` (1.3). The scale stands for the variance
    risk premium: over the 2014-2018 overlap of the built-in data the median ratio of VIX
    to 21-day realized volatility is 1.37 and the ratio of their means 1.27. It is a fixed
    constant, so no later information reaches earlier days. Days that used the proxy are
    flagged (``proxy``) and reach the diagnostics. A VIX value is carried over at most
    ``max_stale`` days of the data's calendar (exchange holidays of one series).
``realized_vol_percentile``
    The benchmark's ``window``-day realized volatility ranked against its own trailing
    ``lookback`` days (percentile of days at or below today's), above ``levels``.
``trend``
    The benchmark against its ``window``-day moving average: the deviation
    ``level / average - 1`` below each of ``levels`` (strictly decreasing; default 0 and
    -5%: below the average, and more than 5% below it).
``hmm``
    A two-state Gaussian hidden Markov model of the benchmark's daily log returns, fitted
    by Baum-Welch (EM) on an expanding window, refitted on the first trading day of each
    ``refit`` period once ``min_history`` returns exist (each fit warm-started from the
    previous one; the first from a start seeded by ``seed``). The label is 1 where the
    *filtered* probability of the high-variance state, from the forward algorithm with the
    latest parameters (data up to t only, never smoothed), is above ``threshold``. The
    filter and the fit are the kernels of :mod:`simlab.kernels.hmm`.

A statistic exactly at a level is not beyond it: VIX 30 with a level of 30 is label 1,
not 2. Days before a detector has enough history are label 0 (normal) with
``known = False``. ``force_stress`` lists ``[start, end]`` date windows (inclusive) in
which every day is at least the first stress label: stress replay uses it to re-run an
experiment with the stress regime forced on.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from simlab.config import registry
from simlab.config.schema import StrictModel
from simlab.errors import DataError
from simlab.features.base import Feature, FeatureInputs
from simlab.kernels.hmm import fit_hmm, forward_nb, log_density

TRADING_DAYS = 252
MAX_LABELS = 4
SNAP = 1e-4  # a smoothed value this close to its target takes it
REGIME_COLUMNS = ("label", "stress", "score", "proxy", "known", "proxy_days")
DateWindow = tuple[dt.date, dt.date]
_PATHS: dict = {}  # (detector, id(inputs)) -> (weakref to inputs, RegimePath); see Detector.path


@dataclass(frozen=True)
class RegimePath:
    """A detector's daily output, each array (T,) on the data's calendar."""

    label: np.ndarray  # int, 0 .. K-1 (0 where not known)
    stress: np.ndarray  # bool, label >= stress_from
    score: np.ndarray  # float, the statistic compared with the levels (NaN where unknown)
    proxy: np.ndarray  # bool, the day's statistic came from a proxy (VIX missing)
    known: np.ndarray  # bool, enough history for a label
    forced: np.ndarray  # bool, inside a force_stress window

    def frame(self, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """The path as a DataFrame indexed by date."""
        return pd.DataFrame({
            "label": self.label, "stress": self.stress, "score": self.score,
            "proxy": self.proxy, "known": self.known, "forced": self.forced,
        }, index=dates)


class Detector(StrictModel):
    """Fields every detector shares (see the module docstring)."""

    key: ClassVar[str]  # the registry key, set by ``register``
    stress_from: Annotated[int, Field(ge=1, le=MAX_LABELS - 1)] = 1
    force_stress: tuple[DateWindow, ...] = ()

    @property
    def type(self) -> str:
        """The detector's key in the ``detector`` registry (its config ``type``)."""
        return self.key

    @property
    def n_labels(self) -> int:
        """K, the number of labels this detector can give."""
        raise NotImplementedError

    def statistic(self, inputs: FeatureInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label, score, proxy) per day, label -1 where unknown."""
        raise NotImplementedError

    def path(self, inputs: FeatureInputs) -> RegimePath:
        """The daily regime path over all T days of ``inputs`` (read-only arrays).

        Several Features read the same path (the limits, the conditional covariance's
        labels); it is computed once per detector and ``inputs`` object and remembered
        while that object lives (a pure function's memo, keyed by identity).
        """
        key = (self, id(inputs))
        hit = _PATHS.get(key)
        if hit is not None and hit[0]() is inputs:
            return hit[1]
        path = self._compute_path(inputs)
        for arr in vars(path).values():
            arr.flags.writeable = False
        _PATHS[key] = (weakref.ref(inputs), path)
        while len(_PATHS) > 16:
            _PATHS.pop(next(iter(_PATHS)))
        return path

    def _compute_path(self, inputs: FeatureInputs) -> RegimePath:
        label, score, proxy = self.statistic(inputs)
        known = label >= 0
        label = np.where(known, label, 0).astype(np.int64)
        forced = _in_windows(inputs.dates, self.force_stress)
        label = np.where(forced, np.maximum(label, self.stress_from), label)
        return RegimePath(label, label >= self.stress_from, score, proxy & known, known, forced)

    @model_validator(mode="after")
    def _check_shared(self):
        if self.stress_from > self.n_labels - 1:
            raise ValueError(
                f"stress_from {self.stress_from} is beyond the last label {self.n_labels - 1} "
                f"this {self.type} detector can give"
            )
        for start, end in self.force_stress:
            if start > end:
                raise ValueError(f"force_stress window {start} .. {end} ends before it starts")
        return self


def _check_levels(levels: tuple[float, ...], increasing: bool, what: str) -> None:
    if not 1 <= len(levels) <= MAX_LABELS - 1:
        raise ValueError(f"levels needs 1 to {MAX_LABELS - 1} {what} (labels 0..{MAX_LABELS - 1}); got {list(levels)}")
    for a, b in zip(levels, levels[1:]):
        if (b <= a) if increasing else (b >= a):
            order = "increasing" if increasing else "decreasing"
            raise ValueError(f"levels must be strictly {order}; got {a} then {b} in {list(levels)}")


def _count_beyond(x: np.ndarray, levels, above: bool) -> np.ndarray:
    """Number of levels strictly beyond which each x lies; -1 where x is NaN."""
    lv = np.asarray(levels, dtype=float)[None, :]
    with np.errstate(invalid="ignore"):
        n = (x[:, None] > lv) if above else (x[:, None] < lv)
    return np.where(np.isfinite(x), n.sum(axis=1), -1)


@registry.register("detector", "vix_threshold")
class VixThreshold(Detector):
    """VIX above levels, with the scaled realized-volatility proxy where VIX is missing."""

    levels: tuple[float, ...] = (20.0, 30.0, 40.0)
    stress_from: Annotated[int, Field(ge=1, le=MAX_LABELS - 1)] = 2
    series: str = "vix"
    proxy_window: Annotated[int, Field(ge=2)] = 21
    proxy_scale: Annotated[float, Field(gt=0)] = 1.3
    max_stale: Annotated[int, Field(ge=0)] = 5

    @model_validator(mode="after")
    def _check(self):
        _check_levels(self.levels, True, "VIX levels")
        if min(self.levels) <= 0:
            raise ValueError(f"levels are VIX points and must be > 0; got {list(self.levels)}")
        return self

    @property
    def n_labels(self) -> int:
        return len(self.levels) + 1

    def statistic(self, inputs):
        vix = inputs.macro.get(self.series)
        level = np.full(len(inputs.dates), np.nan) if vix is None else np.asarray(vix, dtype=float)
        if self.max_stale:
            level = pd.Series(level).ffill(limit=self.max_stale).to_numpy()
        use_proxy = ~np.isfinite(level)
        if use_proxy.any():
            if inputs.benchmark is None:
                raise DataError(
                    f"regime vix_threshold: macro series {self.series!r} is missing on "
                    f"{int(use_proxy.sum())} days and there is no benchmark for the realized-volatility "
                    "proxy; add data.macro.vix or data.benchmark")
            proxy = realized_volatility(inputs.benchmark, self.proxy_window) * 100.0 * self.proxy_scale
            level = np.where(use_proxy, proxy, level)
        return _count_beyond(level, self.levels, above=True), level, use_proxy


@registry.register("detector", "realized_vol_percentile")
class RealizedVolPercentile(Detector):
    """The benchmark's realized volatility ranked against its trailing history."""

    levels: tuple[float, ...] = (0.80, 0.95)
    stress_from: Annotated[int, Field(ge=1, le=MAX_LABELS - 1)] = 2
    window: Annotated[int, Field(ge=2)] = 21
    lookback: Annotated[int, Field(ge=2)] = 5 * TRADING_DAYS
    min_history: Annotated[int, Field(ge=1)] = TRADING_DAYS

    @model_validator(mode="after")
    def _check(self):
        _check_levels(self.levels, True, "percentile levels")
        if not all(0.0 < v < 1.0 for v in self.levels):
            raise ValueError(f"levels are percentiles and must be in (0, 1); got {list(self.levels)}")
        if self.min_history > self.lookback:
            raise ValueError(f"min_history {self.min_history} is longer than lookback {self.lookback}")
        return self

    @property
    def n_labels(self) -> int:
        return len(self.levels) + 1

    def statistic(self, inputs):
        vol = realized_volatility(_need_benchmark(inputs, self.type), self.window)
        pct = trailing_percentile(vol, self.lookback, self.min_history)
        return _count_beyond(pct, self.levels, above=True), pct, np.zeros(len(vol), dtype=bool)


@registry.register("detector", "trend")
class Trend(Detector):
    """The benchmark below its moving average by more than each level."""

    levels: tuple[float, ...] = (0.0, -0.05)
    stress_from: Annotated[int, Field(ge=1, le=MAX_LABELS - 1)] = 2
    window: Annotated[int, Field(ge=2)] = 200

    @model_validator(mode="after")
    def _check(self):
        _check_levels(self.levels, False, "deviations from the moving average")
        return self

    @property
    def n_labels(self) -> int:
        return len(self.levels) + 1

    def statistic(self, inputs):
        level = pd.Series(_need_benchmark(inputs, self.type), dtype=float)
        average = level.rolling(self.window, min_periods=self.window).mean()
        deviation = (level / average - 1.0).to_numpy()
        return _count_beyond(deviation, self.levels, above=False), deviation, np.zeros(len(level), dtype=bool)


@registry.register("detector", "hmm")
class HiddenMarkov(Detector):
    """Two-state Gaussian HMM, filtered probability of the high-variance state."""

    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    refit: Literal["monthly", "quarterly", "yearly"] = "monthly"
    min_history: Annotated[int, Field(ge=50)] = 2 * TRADING_DAYS
    max_iter: Annotated[int, Field(ge=1)] = 25
    tol: Annotated[float, Field(gt=0)] = 1e-6
    seed: int = 0

    @property
    def n_labels(self) -> int:
        return 2

    def statistic(self, inputs):
        x = np.log(pd.Series(_need_benchmark(inputs, self.type), dtype=float)).diff().to_numpy()
        prob = self.filtered_probability(x, inputs.dates)
        with np.errstate(invalid="ignore"):
            label = np.where(np.isfinite(prob), (prob > self.threshold).astype(np.int64), -1)
        return label, prob, np.zeros(len(x), dtype=bool)

    def filtered_probability(self, x: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
        """(T,) P(high-variance state at t | returns up to t), NaN before the first fit."""
        out = np.full(len(x), np.nan)
        refits = self.refit_rows(x, dates)
        params = None
        for k, start in enumerate(refits):
            stop = refits[k + 1] if k + 1 < len(refits) else len(x)
            params = fit_hmm(x[: start + 1], params, self.max_iter, self.tol, self.seed)
            alpha, _ = forward_nb(log_density(x[:stop], params), params.pi, params.transition)
            out[start:stop] = alpha[start:stop, 1]
        return out

    def refit_rows(self, x: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
        """Rows of the refits: first day of each period with ``min_history`` returns behind it."""
        period = {"monthly": "M", "quarterly": "Q", "yearly": "Y"}[self.refit]
        stamp = pd.DatetimeIndex(dates).to_period(period).asi8
        first = np.r_[True, stamp[1:] != stamp[:-1]]
        enough = np.cumsum(np.isfinite(x)) >= self.min_history
        return np.flatnonzero(first & enough)


def parse_detector(spec, where: str = "regime") -> Detector:
    """A detector from a mapping such as ``{type: vix_threshold, levels: [20, 30]}``.

    The ``type`` is a key of the ``detector`` registry; the mapping is validated there,
    like a Step's entry.

    Raises
    ------
    ConfigError
        Naming the key under ``where`` and what was expected: an unknown type with the
        valid ones, an unknown key with the detector's keys, a value out of range.
    """
    if isinstance(spec, Detector):
        return spec
    return registry.build("detector", registry.resolve("detector", spec, where))


def detector_config(spec, where: str = "regime") -> dict:
    """A detector mapping validated and with every default filled, as plain YAML data."""
    detector = parse_detector(spec, where)
    return {"type": detector.type, **detector.model_dump(mode="json")}


@dataclass(frozen=True)
class RegimeLabels(Feature):
    """(R, 5) per decision row: label, stress, score, proxy, known (floats)."""

    detector: Detector

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        p = self.detector.path(inputs)
        table = np.column_stack([p.label, p.stress, p.score, p.proxy, p.known]).astype(float)
        return table[np.asarray(rows, dtype=np.int64)]


@dataclass(frozen=True)
class RegimeState(Feature):
    """(R,) int per row: 1 stress, 0 normal, -1 before the detector has enough history.

    The labels a regime-conditional covariance (``Covariance(regime=RegimeState(...))``)
    conditions on: two states keep enough days in each for an estimate.
    """

    detector: Detector

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        p = self.detector.path(inputs)
        state = np.where(p.known | p.forced, p.stress.astype(np.int64), -1)
        return state[np.asarray(rows, dtype=np.int64)]


def smooth(targets: np.ndarray, alpha: float, snap: float = SNAP) -> np.ndarray:
    """(T, P) exponential smoothing along time: ``m[t] = m[t-1] + alpha * (x[t] - m[t-1])``.

    Starts at ``m[0] = x[0]``; ``alpha = 1`` returns ``x``. A value within ``snap`` of its
    target takes the target (otherwise a limit would approach it forever and a book sitting
    at the limit would be trimmed by millionths for weeks). Up to the snap it equals
    ``pd.DataFrame(x).ewm(alpha=alpha, adjust=False).mean()``. NaN targets (a band switched
    off) stay NaN.
    """
    x = np.asarray(targets, dtype=float)
    out = x.copy()
    if alpha >= 1.0 or len(x) == 0:
        return out
    m = x[0].copy()
    for t in range(1, len(x)):
        m = m + alpha * (x[t] - m)
        m = np.where(np.abs(x[t] - m) <= snap, x[t], m)
        out[t] = m
    return out


@dataclass(frozen=True)
class RegimeLimits(Feature):
    """(R, 6 + P) per row: the regime (``REGIME_COLUMNS``) and the smoothed limit path.

    ``table`` (K, P) holds, per label, P values that depend on the regime (a constraint
    Step's multipliers and band edges); every day takes its label's row and the daily path
    is smoothed with ``smoothing``, then read at the rows, so the smoothing sees every day
    between two decisions. ``proxy_days`` counts the days among the 21 ending at t whose
    label used a proxy.
    """

    detector: Detector
    table: tuple[tuple[float, ...], ...]
    smoothing: float

    def compute(self, inputs: FeatureInputs, rows: np.ndarray) -> np.ndarray:
        path = self.detector.path(inputs)
        smoothed = smooth(np.asarray(self.table, dtype=float)[path.label], float(self.smoothing))
        proxy_days = np.convolve(path.proxy.astype(float), np.ones(21))[: len(path.proxy)]
        regime = np.column_stack([path.label, path.stress, path.score, path.proxy, path.known, proxy_days])
        return np.hstack([regime.astype(float), smoothed])[np.asarray(rows, dtype=np.int64)]


def regime_path(spec, md) -> pd.DataFrame:
    """The daily regime path of ``spec`` (a mapping or Detector) on MarketData ``md``."""
    inputs = feature_inputs(md)
    return parse_detector(spec).path(inputs).frame(inputs.dates)


def feature_inputs(md) -> FeatureInputs:
    """FeatureInputs for MarketData ``md`` (what the engine hands Features)."""
    close = md.close.to_numpy(dtype=np.float64)
    return FeatureInputs(
        dates=md.dates, assets=tuple(md.assets), close=close,
        returns=md.returns().to_numpy(dtype=np.float64),
        volume=None if md.volume is None else md.volume.to_numpy(dtype=np.float64),
        benchmark=None if md.benchmark is None else md.benchmark.to_numpy(dtype=np.float64),
        macro={} if md.macro is None else {c: md.macro[c].to_numpy(dtype=np.float64) for c in md.macro},
        meta=md.meta,
    )


# ---------------------------------------------------------------------------- statistics


def realized_volatility(level: np.ndarray, window: int) -> np.ndarray:
    """(T,) annualized volatility of daily log returns of ``level`` over ``window`` days.

    Equals ``np.log(s).diff().rolling(window).std() * sqrt(252)``: NaN until ``window``
    returns exist and wherever one of them is missing.
    """
    logret = np.log(pd.Series(np.asarray(level, dtype=float))).diff()
    return (logret.rolling(window, min_periods=window).std() * np.sqrt(TRADING_DAYS)).to_numpy()


def trailing_percentile(x: np.ndarray, lookback: int, min_history: int) -> np.ndarray:
    """(T,) share of the finite values among the trailing ``lookback`` (t included) <= x[t].

    NaN where x[t] is NaN or fewer than ``min_history`` finite values are in the window.
    """
    x = np.asarray(x, dtype=float)
    padded = np.r_[np.full(lookback - 1, np.nan), x]
    win = np.lib.stride_tricks.sliding_window_view(padded, lookback)
    finite = np.isfinite(win)
    with np.errstate(invalid="ignore"):
        below = (win <= x[:, None]) & finite
    count = finite.sum(axis=1)
    pct = below.sum(axis=1) / np.maximum(count, 1)
    return np.where(np.isfinite(x) & (count >= min_history), pct, np.nan)


def _need_benchmark(inputs: FeatureInputs, kind: str) -> np.ndarray:
    if inputs.benchmark is None:
        raise DataError(f"regime {kind} reads the benchmark index, and this experiment has none; set data.benchmark")
    return inputs.benchmark


def _in_windows(dates: pd.DatetimeIndex, windows) -> np.ndarray:
    out = np.zeros(len(dates), dtype=bool)
    values = pd.DatetimeIndex(dates)
    for start, end in windows:
        out |= (values >= pd.Timestamp(start)) & (values <= pd.Timestamp(end))
    return out
