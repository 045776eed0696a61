"""Projections and proximal maps onto the simple sets of portfolio problems.

Each map is the exact Euclidean projection (or proximal operator) of one small convex set
or function, written for one vector; the QP solver (:mod:`simlab.kernels.qp`) calls the
scalar ones inside its ADMM loop and Steps may call the vector ones directly.

- ``clip_nb``: the interval ``[lo, hi]``; equals ``np.clip(v, lo, hi)``.
- ``prox_box_l1_nb``: ``argmin_x t |x - c| + 1/2 (x - v)^2`` over ``lo <= x <= hi``; in one
  dimension this is the soft threshold of ``v`` around ``c``, then clipped (the prox of a
  convex 1-D function plus an interval is the clip of its unconstrained prox).
- ``project_box_budget_nb``: ``{lo <= w <= hi, sum(w) = budget}`` (the capped simplex),
  by bisection on the shift ``tau`` of ``clip(v - tau, lo, hi)``.
- ``project_l1_ball_nb``: ``{||w - c||_1 <= radius}`` (a turnover budget), by sorting
  (Duchi et al., 2008).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def clip_nb(v, lo, hi):
    """``min(max(v, lo), hi)`` for scalars; ``np.clip`` with ``lo <= hi``."""
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@njit(cache=True)
def prox_box_l1_nb(v, center, lo, hi, t):
    """Prox of ``t |x - center|`` plus the indicator of ``[lo, hi]``, at ``v``.

    Equals ``np.clip(center + np.sign(v - center) * max(|v - center| - t, 0), lo, hi)``;
    with ``t == 0`` it is ``np.clip(v, lo, hi)`` exactly.
    """
    if t > 0.0:
        d = v - center
        if d > t:
            v = center + (d - t)
        elif d < -t:
            v = center + (d + t)
        else:
            v = center
    return clip_nb(v, lo, hi)


@njit(cache=True)
def project_box_budget_nb(v, lo, hi, budget, out, tol=1e-13, max_iter=200):
    """Project ``v`` (N,) onto ``{lo <= w <= hi, sum(w) = budget}``; returns feasibility.

    Equals ``argmin ||w - v||^2`` over that set, i.e. ``clip(v - tau, lo, hi)`` with
    ``tau`` the root of ``sum(clip(v - tau, lo, hi)) = budget`` (found by bisection). Where
    the set is empty (``sum(lo) > budget`` or ``sum(hi) < budget``) or a bound is infinite
    on the side the root needs, ``out`` is ``clip(v, lo, hi)`` and False is returned.
    Writes ``out`` (N,).
    """
    n = v.shape[0]
    span_lo, span_hi = np.inf, -np.inf  # range of tau over which the sum moves
    for i in range(n):
        span_lo = min(span_lo, v[i] - hi[i])
        span_hi = max(span_hi, v[i] - lo[i])
        out[i] = clip_nb(v[i], lo[i], hi[i])
    if not (np.isfinite(span_lo) and np.isfinite(span_hi)):
        return False
    if _clipped_sum(v, lo, hi, span_lo) < budget or _clipped_sum(v, lo, hi, span_hi) > budget:
        return False
    a, b = span_lo, span_hi  # sum(a) >= budget >= sum(b), decreasing in tau
    for _ in range(max_iter):
        mid = 0.5 * (a + b)
        if _clipped_sum(v, lo, hi, mid) >= budget:
            a = mid
        else:
            b = mid
        if b - a <= tol * (1.0 + abs(a)):
            break
    tau = 0.5 * (a + b)
    for i in range(n):
        out[i] = clip_nb(v[i] - tau, lo[i], hi[i])
    return True


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _clipped_sum(v, lo, hi, tau):
    s = 0.0
    for i in range(v.shape[0]):
        s += clip_nb(v[i] - tau, lo[i], hi[i])
    return s


@njit(cache=True)
def project_l1_ball_nb(v, center, radius, out):
    """Project ``v`` (N,) onto ``{w : ||w - center||_1 <= radius}``; writes ``out`` (N,).

    Equals ``center + sign(d) * max(|d| - theta, 0)`` with ``d = v - center`` and the
    smallest ``theta >= 0`` that meets the radius (Duchi et al., 2008, by sorting).
    """
    n = v.shape[0]
    d = v - center
    mag = np.abs(d)
    if mag.sum() <= radius:
        out[:] = v
        return
    s = np.sort(mag)[::-1]
    cum = 0.0
    theta = 0.0
    for j in range(n):
        cum += s[j]
        candidate = (cum - radius) / (j + 1)
        if s[j] - candidate >= 0.0:
            theta = candidate
    for i in range(n):
        out[i] = center[i] + np.sign(d[i]) * max(mag[i] - theta, 0.0)
