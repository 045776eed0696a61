"""Phase-1 (rule-based) allocators: equal weight, top-N equal weight, signal weighted.

Every allocator ignores the weights it is given and returns fresh targets, fully
invested unless a rule sends the rest to cash. Only assets tradeable on the decision day
(a price at t) and, where a signal is used, with a finite signal, can receive weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from simlab.config.registry import register
from simlab.config.universe import asset_flags
from simlab.contract.step import Step, StepContext, per_scenario
from simlab.kernels.weights import cap_and_redistribute, rank_descending, top_ranked


def _equal_over(mask: np.ndarray) -> np.ndarray:
    count = mask.sum(axis=1, keepdims=True)
    return np.divide(mask, count, out=np.zeros(mask.shape), where=count > 0)


def _signal_mask(ctx: StepContext) -> np.ndarray:
    return np.isfinite(ctx.signal) & ctx.tradeable[None, :]


@register("step", "equal_weight")
@dataclass(frozen=True)
class EqualWeight(Step):
    """Equal weight over every asset tradeable on the decision day.

    Requires: prices. Provides: weights.
    """

    def __call__(self, weights, ctx):
        n_scen, count = ctx.n_scenarios, int(np.count_nonzero(ctx.tradeable))
        if not count:
            return np.zeros((n_scen, len(ctx.tradeable))), {"n_selected": np.zeros(n_scen, dtype=np.int64)}
        share = np.true_divide(ctx.tradeable, count)[None, :]  # 1 / count where tradeable, as _equal_over divides
        out = share if n_scen == 1 else np.repeat(share, n_scen, axis=0)
        return out, {"n_selected": np.array([count] * n_scen, dtype=np.int64)}


@register("step", "equal_weight_top_n")
@dataclass(frozen=True)
class EqualWeightTopN(Step):
    """Equal weight over the ``top_n`` assets with the highest signal.

    Assets without a finite signal or a price on the decision day are never chosen; with
    fewer than ``top_n`` eligible, the eligible ones share the whole book. Ties keep the
    asset order of the data.

    Requires: signal. Provides: weights.
    """

    top_n: Annotated[int, Field(ge=1)] = 5
    requires = frozenset({"signal"})

    def __call__(self, weights, ctx):
        valid = _signal_mask(ctx)
        chosen = top_ranked(ctx.signal, valid, per_scenario(self.top_n, ctx.n_scenarios))
        return _equal_over(chosen), {"n_selected": chosen.sum(axis=1), "n_eligible": valid.sum(axis=1)}


@register("step", "equal_weight_above")
@dataclass(frozen=True)
class EqualWeightAbove(Step):
    """Equal weight over every asset whose signal is strictly above ``threshold``.

    The design documents' rule, "equal weight over signals above a threshold". With no
    signal above it the whole book is cash (``all_cash`` says so). Unlike
    ``equal_weight_top_n``, the number of names follows the signal: a threshold of 0 on a
    z-score holds about half the universe in a calm cross-section and a handful in a
    skewed one, so the position size is not fixed; ``max_names`` (0: no limit) keeps the
    highest signals when more pass.

    Requires: signal. Provides: weights.
    """

    threshold: float = 0.0
    max_names: Annotated[int, Field(ge=0)] = 0
    requires = frozenset({"signal"})

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        valid = _signal_mask(ctx) & (ctx.signal > per_scenario(self.threshold, b))
        limit = per_scenario(self.max_names, b)
        chosen = valid & ((limit == 0) | (rank_descending(ctx.signal, valid) < limit))
        return _equal_over(chosen), {"n_selected": chosen.sum(axis=1), "n_above": valid.sum(axis=1),
                                     "all_cash": ~chosen.any(axis=1)}


@register("step", "signal_weighted")
@dataclass(frozen=True)
class SignalWeighted(Step):
    """Weights proportional to the signal, after a threshold and a top-N filter.

    The rules, in order: keep assets whose signal is above ``threshold`` (all below means
    all cash); keep the ``top_n`` highest (0 keeps all); weight them in proportion to the
    signal so they sum to ``1 - cash_buffer``; cap each at ``max_weight`` and hand the excess
    to the uncapped names pro rata, so the cap still holds; what cannot be placed stays in
    cash.

    Requires: signal. Provides: weights.
    """

    threshold: Annotated[float, Field(ge=0)] = 0.0
    top_n: Annotated[int, Field(ge=0)] = 0
    cash_buffer: Annotated[float, Field(ge=0, lt=1)] = 0.0
    max_weight: Annotated[float, Field(gt=0, le=1)] = 1.0
    requires = frozenset({"signal"})

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        valid = _signal_mask(ctx) & (ctx.signal > per_scenario(self.threshold, b))
        top_n = per_scenario(self.top_n, b)
        ranks = rank_descending(ctx.signal, valid)
        chosen = valid & ((top_n == 0) | (ranks < top_n))
        raw = np.where(chosen, ctx.signal, 0.0)
        budget = 1.0 - per_scenario(self.cash_buffer, b)[:, 0]
        capped, hit = cap_and_redistribute(raw, per_scenario(self.max_weight, b), budget)
        diag = {
            "n_selected": chosen.sum(axis=1),
            "n_capped": hit.sum(axis=1),
            "cash": 1.0 - capped.sum(axis=1),
        }
        return capped, diag


@register("step", "long_short_top_n")
@dataclass(frozen=True)
class LongShortTopN(Step):
    """A long-short book from signal ranks: the ``top_n`` highest long, the ``bottom_n`` lowest short.

    Each leg is equally weighted: the longs share ``long`` of NAV and the shorts ``short``
    (``long: 1, short: 1`` is a dollar-neutral 100/100 book, net 0 and gross 2;
    ``long: 1.3, short: 0.3`` a 130/30 book). ``bottom_n`` 0 takes ``top_n``. A name is in
    one leg only (longs are chosen first). A name the universe marks ``restricted`` is never
    shorted (no new shorts; an existing short in it is covered), and with
    ``short_hard_to_borrow: false`` neither is a ``hard_to_borrow`` one. With fewer
    eligible names than asked, a leg shares its whole size among those it has; with none,
    that leg is empty and the diagnostics (``n_long``, ``n_short``, ``net``, ``gross``) show
    the book is no longer neutral.

    Requires: signal. Provides: weights.
    """

    top_n: Annotated[int, Field(ge=1)] = 5
    bottom_n: Annotated[int, Field(ge=0)] = 0
    long: Annotated[float, Field(ge=0)] = 1.0
    short: Annotated[float, Field(ge=0)] = 1.0
    short_hard_to_borrow: bool = True
    requires = frozenset({"signal"})

    def __call__(self, weights, ctx):
        b = ctx.n_scenarios
        valid = _signal_mask(ctx)
        top_n = per_scenario(self.top_n, b)
        bottom_n = np.where(per_scenario(self.bottom_n, b) > 0, per_scenario(self.bottom_n, b), top_n)
        longs = valid & (rank_descending(ctx.signal, valid) < top_n)
        no_short = asset_flags(ctx.meta, "restricted", ctx.assets)
        if not self.short_hard_to_borrow:
            no_short = no_short | asset_flags(ctx.meta, "hard_to_borrow", ctx.assets)
        shortable = valid & ~longs & ~no_short[None, :]
        shorts = shortable & (rank_descending(-np.where(shortable, ctx.signal, 0.0), shortable) < bottom_n)
        w = per_scenario(self.long, b) * _equal_over(longs) - per_scenario(self.short, b) * _equal_over(shorts)
        return w, {"n_long": longs.sum(axis=1), "n_short": shorts.sum(axis=1), "net": w.sum(axis=1),
                   "gross": np.abs(w).sum(axis=1), "n_not_shortable": (valid & no_short[None, :]).sum(axis=1)}
