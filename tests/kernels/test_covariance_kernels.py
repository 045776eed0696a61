"""Covariance kernels against plain-numpy references, and the numba kernels against their xp twins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.kernels import covariance as nb
from simlab.kernels import covariance_xp as xpk
from simlab.kernels import nearest_psd, shrinkage

RTOL = 1e-10
FAST = settings(max_examples=25, deadline=None)


# --------------------------------------------------------------------------- references


def weighted_cov_reference(x, w, ddof):
    """The docstring of ``window_cov_nb`` (full mode) for one window."""
    s0, s0b = w.sum(), (w * w).sum()
    m = w @ x / s0
    xc = x - m
    return (xc * w[:, None]).T @ xc / s0 * (s0 * s0 / (s0 * s0 - ddof * s0b))


def lw_identity_reference(x):
    """scikit-learn's ``ledoit_wolf`` written out (assume_centered=False)."""
    n, p = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / n
    mu = np.trace(s) / p
    x2 = xc**2
    delta_ = ((xc.T @ xc) ** 2).sum() / n**2
    beta_ = (x2.T @ x2).sum()
    beta = (beta_ / n - delta_) / (p * n)
    delta = (delta_ - 2 * mu * x2.sum(axis=0).sum() / n + p * mu**2) / p
    shrink = 0.0 if min(beta, delta) == 0 else min(beta, delta) / delta
    return (1 - shrink) * s + shrink * mu * np.eye(p)


def lw_cc_reference(x):
    """Ledoit & Wolf (2004) ``covCor.m``, line by line."""
    t, n = x.shape
    x = x - x.mean(axis=0)
    sample = x.T @ x / t
    var = np.diag(sample)[:, None]
    sqrtvar = np.sqrt(var)
    rbar = ((sample / (sqrtvar @ sqrtvar.T)).sum() - n) / (n * (n - 1))
    prior = rbar * (sqrtvar @ sqrtvar.T)
    prior[np.eye(n, dtype=bool)] = var[:, 0]
    y = x**2
    phi_mat = y.T @ y / t - 2 * (x.T @ x) * sample / t + sample**2
    phi = phi_mat.sum()
    term1 = (x**3).T @ x / t
    helper = x.T @ x / t
    term2 = np.tile(np.diag(helper)[:, None], (1, n)) * sample
    term3 = helper * np.tile(var, (1, n))
    term4 = np.tile(var, (1, n)) * sample
    theta = term1 - term2 - term3 + term4
    theta[np.eye(n, dtype=bool)] = 0
    rho = np.diag(phi_mat).sum() + rbar * (((1 / sqrtvar) @ sqrtvar.T) * theta).sum()
    gamma = np.linalg.norm(sample - prior, "fro") ** 2
    shrink = max(0.0, min(1.0, (phi - rho) / gamma / t))
    return shrink * prior + (1 - shrink) * sample


def assert_close(actual, expected, rtol=RTOL):
    actual, expected = np.asarray(actual), np.asarray(expected)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    scale = np.nanmax(np.abs(expected)) if np.isfinite(expected).any() else 1.0
    np.testing.assert_allclose(np.nan_to_num(actual), np.nan_to_num(expected), rtol=rtol, atol=rtol * scale)


# --------------------------------------------------------------------------- fixtures


def panel(seed, n_rows=420, n_cols=7, holes=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n_cols)) @ np.diag(rng.uniform(0.005, 0.03, n_cols)) + 3e-4
    x[:, 1:] += 0.5 * x[:, :1]
    if holes:
        x[rng.random(x.shape) < holes] = np.nan
    return x


def run_nb(x, rows, window, decay=1.0, sel=None, include=None, ddof=1.0, pairwise=False, adjust=True):
    obs = np.isfinite(x)
    xz = np.ascontiguousarray(np.where(obs, x, 0.0))
    rows = np.asarray(rows, np.int64)
    starts = np.maximum(rows - window + 1, 0) if window else np.zeros_like(rows)
    sel = np.ones(len(x)) if sel is None else sel
    include = np.ones((len(rows), x.shape[1]), bool) if include is None else include
    args = (xz, obs, sel, rows, starts, decay, include, ddof, pairwise, adjust, np.ones(len(rows), bool))
    return nb.window_cov_nb(*args), xpk.window_cov_xp(*args, max_bytes=1 << 16), starts


ROWS = [60, 251, 252, 273, 300, 301, 419]


# --------------------------------------------------------------------------- window_cov


@pytest.mark.parametrize("decay", [1.0, 0.5 ** (1 / 20)])
@pytest.mark.parametrize("ddof", [0.0, 1.0])
def test_window_cov_equals_weighted_reference(decay, ddof):
    x = panel(0)
    (cov, vec, sc), _, starts = run_nb(x, ROWS, 252, decay=decay, ddof=ddof)
    for r, (t, s) in enumerate(zip(ROWS, starts, strict=True)):
        w = decay ** np.arange(t - s, -1, -1.0)
        assert_close(cov[r], weighted_cov_reference(x[s:t + 1], w, ddof))
        assert_close(vec[r], w @ x[s:t + 1])
        assert_close(sc[r], [w.sum(), (w * w).sum()])


def test_unit_weights_equal_np_cov_and_expanding_windows():
    x = panel(1)
    (cov, _, _), _, _ = run_nb(x, ROWS, None)
    for r, t in enumerate(ROWS):
        assert_close(cov[r], np.cov(x[:t + 1], rowvar=False))


@pytest.mark.parametrize("adjust", [True, False])
def test_ewma_window_equals_pandas(adjust):
    x = panel(2)
    (cov, _, _), _, _ = run_nb(x, ROWS[1:], 252, decay=0.5 ** (1 / 10), adjust=adjust)
    for r, t in enumerate(ROWS[1:]):
        ref = pd.DataFrame(x[t - 251:t + 1]).ewm(halflife=10, adjust=adjust).cov().loc[251]
        assert_close(cov[r], ref)


def test_row_selection_equals_reference_on_selected_rows():
    x = panel(3)
    sel = (np.arange(len(x)) % 3 != 0).astype(float)
    decay = 0.97
    (cov, _, _), _, starts = run_nb(x, ROWS, 252, decay=decay, sel=sel)
    for r, (t, s) in enumerate(zip(ROWS, starts, strict=True)):
        k = np.arange(s, t + 1)
        k = k[sel[k] != 0]
        assert_close(cov[r], weighted_cov_reference(x[k], decay ** (t - k).astype(float), 1.0))


def test_pairwise_equals_pandas_pairwise():
    x = panel(4, holes=0.08)
    x[:200, 2] = np.nan
    (cov, _, _), _, _ = run_nb(x, ROWS, 252, decay=0.95, pairwise=True)
    for r, t in enumerate(ROWS):
        s = max(t - 251, 0)
        ref = pd.DataFrame(x[s:t + 1]).ewm(alpha=0.05).cov().loc[t - s]
        assert_close(cov[r], ref)
    (cov, _, _), _, _ = run_nb(x, ROWS, 252, pairwise=True)
    for r, t in enumerate(ROWS):
        s = max(t - 251, 0)
        assert_close(cov[r], pd.DataFrame(x[s:t + 1]).cov())


def test_excluded_assets_are_nan_rows_and_columns():
    x = panel(5)
    include = np.ones((len(ROWS), x.shape[1]), bool)
    include[:, 3] = False
    include[2, 0] = False
    (cov, _, _), (cov_xp, _, _), _ = run_nb(x, ROWS, 252, include=include)
    assert np.isnan(cov[:, 3, :]).all() and np.isnan(cov[:, :, 3]).all()
    assert np.isnan(cov[2, 0]).all() and np.isfinite(cov[1, 0, [0, 1, 2, 4, 5, 6]]).all()
    assert_close(cov, cov_xp)


@pytest.mark.parametrize("decay,pairwise,adjust", [(0.9, False, True), (1.0, False, True), (0.9, False, False),
                                                 (0.9, True, True)])
def test_a_window_has_the_same_bits_whichever_decisions_share_the_sweep(decay, pairwise, adjust):
    """One decision alone, the decisions up to it (a book run to that day) and the whole batch agree bit for bit."""
    x = panel(6, holes=0.05 if pairwise else 0.0)
    kw = dict(decay=decay, pairwise=pairwise, adjust=adjust)
    (batch, batch_vec, batch_sc), _, _ = run_nb(x, ROWS, 252, **kw)
    for r, t in enumerate(ROWS):
        (single, vec, sc), _, _ = run_nb(x, [t], 252, **kw)
        (upto, _, _), _, _ = run_nb(x, ROWS[: r + 1], 252, **kw)
        np.testing.assert_array_equal(single[0], batch[r])
        np.testing.assert_array_equal(upto[r], batch[r])
        np.testing.assert_array_equal(vec[0], batch_vec[r])
        np.testing.assert_array_equal(sc[0], batch_sc[r])


@pytest.mark.parametrize("pairwise,adjust", [(False, True), (False, False), (True, True)])
def test_window_cov_matches_xp_twin(pairwise, adjust):
    x = panel(7, n_cols=70, holes=0.05 if pairwise else 0.0)
    sel = None if not adjust else (np.arange(len(x)) % 4 != 1).astype(float)
    rng = np.random.default_rng(0)
    include = rng.random((len(ROWS), x.shape[1])) < 0.9
    (a, va, sa), (b, vb, sb), _ = run_nb(x, ROWS, 252, decay=0.96, sel=sel, include=include,
                                         pairwise=pairwise, adjust=adjust)
    assert_close(a, b)
    assert_close(va, vb)
    assert_close(sa, sb)


@FAST
@given(seed=st.integers(0, 10_000), n_cols=st.integers(1, 80), window=st.integers(2, 60),
       decay=st.floats(0.5, 1.0), step=st.integers(1, 30))
def test_window_cov_property_parity(seed, n_cols, window, decay, step):
    x = panel(seed, n_rows=150, n_cols=n_cols)
    rows = np.arange(window - 1, 150, step)
    (a, _, _), (b, _, _), _ = run_nb(x, rows, window, decay=decay)
    assert_close(a, b)
    t = rows[-1]
    w = decay ** np.arange(window - 1, -1, -1.0)
    assert_close(a[-1], weighted_cov_reference(x[t - window + 1:t + 1], w, 1.0))


# --------------------------------------------------------------------------- shrinkage


def shrunk(x, rows, window, estimator):
    (cov, vec, sc), _, starts = run_nb(x, rows, window, ddof=0.0)
    include = np.ones((len(rows), x.shape[1]), bool)
    mean = vec / sc[:, :1]
    sd = np.sqrt(np.einsum("rii->ri", cov))
    sel = np.ones(len(x))
    rows = np.asarray(rows, np.int64)
    q = nb.window_quartics_nb(x, sel, rows, starts, mean, sd, include, True)
    q_xp = xpk.window_quartics_xp(x, sel, rows, starts, mean, sd, include, max_bytes=1 << 15)
    assert_close(q, q_xp)
    assert_close(nb.window_quartics_nb(x, sel, rows, starts, mean, sd, include, False)[:, 0], q[:, 0])
    kernel = {"identity": (shrinkage.shrink_identity_nb, xpk.shrink_identity_xp),
              "cc": (shrinkage.shrink_constant_correlation_nb, xpk.shrink_constant_correlation_xp)}[estimator]
    twin, twin_shrink = kernel[1](cov.copy(), include, sc[:, 0], q)
    out = cov.copy()
    shrink = kernel[0](out, include, sc[:, 0].copy(), q)
    assert_close(out, twin)
    assert_close(shrink, twin_shrink)
    return out, shrink


@pytest.mark.parametrize("estimator,reference", [("identity", lw_identity_reference), ("cc", lw_cc_reference)])
def test_ledoit_wolf_kernels_equal_references(estimator, reference):
    x = panel(8, n_cols=12)
    rows = [100, 251, 300, 419]
    out, shrink = shrunk(x, rows, 100, estimator)
    assert ((shrink >= 0) & (shrink <= 1)).all() and (shrink > 0).any()
    for r, t in enumerate(rows):
        assert_close(out[r], reference(x[t - 99:t + 1]))


def test_ledoit_wolf_single_asset_is_not_shrunk():
    x = panel(9, n_cols=1)
    out, shrink = shrunk(x, [300], 100, "identity")
    assert shrink[0] == 0.0
    assert_close(out[0], np.var(x[201:301], axis=0).reshape(1, 1))


# --------------------------------------------------------------------------- nearest PSD


def indefinite(seed, n=8):
    rng = np.random.default_rng(seed)
    a = np.cov(rng.standard_normal((40, n)), rowvar=False)
    a[0, 1] = a[1, 0] = a[0, 1] + 0.9 * np.sqrt(a[0, 0] * a[1, 1])
    a[2, 3] = a[3, 2] = a[2, 3] - 0.9 * np.sqrt(a[2, 2] * a[3, 3])
    return a * 1e-4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_psd_is_psd_keeps_variances_and_matches_twin(seed):
    a = indefinite(seed)
    assert np.linalg.eigvalsh(a)[0] < 0
    x, iterations = nearest_psd.nearest_psd_nb(a, 500, 1e-12)
    d = np.sqrt(np.diag(a))
    assert np.linalg.eigvalsh(x / np.outer(d, d))[0] > -1e-12
    np.testing.assert_allclose(np.diag(x), np.diag(a), rtol=1e-14)
    assert 0 < iterations < 500
    assert np.abs(x - a).max() < np.abs(a).max()
    twin, _ = xpk.nearest_psd_xp(a, 500, 1e-12)
    assert_close(x, twin)
    assert nearest_psd.is_psd_nb(x, 1e-10) and not nearest_psd.is_psd_nb(a, 1e-10)


def test_repair_touches_only_indefinite_included_blocks():
    good = np.cov(np.random.default_rng(0).standard_normal((50, 8)), rowvar=False)
    bad = indefinite(3)
    cov = np.stack([good, bad, bad])
    include = np.ones((3, 8), bool)
    include[2, [0, 1, 2, 3]] = False  # the indefinite pairs are excluded at row 2
    cov[2][~(include[2][:, None] & include[2][None, :])] = np.nan
    expected = cov.copy()
    fixed, flags = xpk.repair_psd_xp(cov.copy(), include, 1e-10, 300, 1e-12)
    out = cov.copy()
    flags_nb = nearest_psd.repair_psd_nb(out, include, 1e-10, 300, 1e-12)
    np.testing.assert_array_equal(flags_nb, [False, True, False])
    np.testing.assert_array_equal(flags, flags_nb)
    np.testing.assert_array_equal(out[0], expected[0])
    np.testing.assert_array_equal(out[2], expected[2])
    assert_close(out, fixed)
    assert np.linalg.eigvalsh(out[1])[0] > -1e-12 * np.abs(out[1]).max()


def test_min_corr_eigenvalue_matches_twin():
    a = np.stack([indefinite(4), np.eye(8) * 2.0])
    got = [nearest_psd.min_corr_eigenvalue_nb(m) for m in a]
    np.testing.assert_allclose(got, xpk.min_corr_eigenvalue_xp(a), rtol=1e-12)
    assert got[0] < 0 and abs(got[1] - 1.0) < 1e-14


# --------------------------------------------------------------------------- pandas recursion


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [True, False])
def test_ewm_recursion_equals_pandas_with_missing_values(adjust, ignore_na):
    x = panel(10, n_rows=300, holes=0.1)
    x[:40, 0] = np.nan
    got = nb.ewm_cov_last_nb(x, 0.07, adjust, ignore_na, False, 0)
    ref = pd.DataFrame(x).ewm(alpha=0.07, adjust=adjust, ignore_na=ignore_na).cov().loc[299]
    assert_close(got, ref)


def test_window_counts_match_twin_and_reference():
    x = panel(11, holes=0.2)
    obs = np.isfinite(x)
    sel = (np.arange(len(x)) % 5 != 2).astype(float)
    rows = np.array(ROWS, np.int64)
    starts = np.maximum(rows - 100 + 1, 0)
    n_sel, n_obs = nb.window_counts_nb(obs, sel, rows, starts)
    n_sel_xp, n_obs_xp = xpk.window_counts_xp(obs, sel, rows, starts)
    np.testing.assert_array_equal(n_sel, n_sel_xp)
    np.testing.assert_array_equal(n_obs, n_obs_xp)
    for r, (t, s) in enumerate(zip(rows, starts, strict=True)):
        assert n_sel[r] == sel[s:t + 1].sum()
        np.testing.assert_array_equal(n_obs[r], (obs[s:t + 1] & (sel[s:t + 1] != 0)[:, None]).sum(axis=0))
