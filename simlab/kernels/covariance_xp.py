"""The covariance kernels written against ``xp``: twins of :mod:`simlab.kernels.covariance`,
:mod:`simlab.kernels.shrinkage` and :mod:`simlab.kernels.nearest_psd`.

Same arguments, same results (to rounding) as the ``_nb`` kernels, on numpy or cupy arrays
(the namespace comes from the inputs, :func:`simlab.kernels._xp.get_xp`). Where the CPU
kernel sweeps time once with prefix sums, these gather each decision's window into a
``(R, W, N)`` block and use one batched matrix product, which suits a GPU; blocks are cut
into chunks of at most ``max_bytes``. The functions return new arrays (the CPU kernels
work in place).
"""

from __future__ import annotations

from simlab.kernels._xp import get_xp

MAX_BYTES = 1 << 28


def _windows(xp, rows, starts, decay, sel, lo, hi):
    """Row index (C, L) and weights (C, L) of decisions ``lo .. hi - 1``; zero weight off-window."""
    length = int((rows[lo:hi] - starts[lo:hi]).max()) + 1
    k = rows[lo:hi, None] - length + 1 + xp.arange(length)[None, :]
    valid = k >= starts[lo:hi, None]
    k = xp.maximum(k, 0)
    age = (rows[lo:hi, None] - k).astype(float)
    w = xp.where(valid, decay**age * sel[k], 0.0)
    return k, w


def _chunks(rows, starts, n_cols, n_blocks, max_bytes, per_decision=0):
    length = int((rows - starts).max()) + 1 if len(rows) else 1
    size = max(1, max_bytes // (8 * (length * n_cols * n_blocks + per_decision)))
    return [(lo, min(lo + size, len(rows))) for lo in range(0, len(rows), size)]


def _window_sums(xp, x, obs, sel, rows, starts, decay, pairwise, lo, hi):
    """Full matrices M0..M4 (see ``window_cov_nb``), vec (C, N), sc (C, 2) of decisions lo .. hi - 1."""
    k, w = _windows(xp, rows, starts, decay, sel, lo, hi)
    xg = x[k]
    wx_t = (xg * w[..., None]).transpose(0, 2, 1)
    mats = [xp.matmul(wx_t, xg)]
    vec = wx_t.sum(axis=2)
    sc = xp.stack([w.sum(axis=1), (w * w).sum(axis=1)], axis=1)
    if pairwise:
        og = obs[k].astype(float)
        wo_t = (og * w[..., None]).transpose(0, 2, 1)
        mats += [xp.matmul(wo_t, xg), xp.matmul(wx_t, og), xp.matmul(wo_t, og),
                 xp.matmul((og * (w * w)[..., None]).transpose(0, 2, 1), og)]
    return mats, vec, sc


def _pair_mask(include):
    return include[:, :, None] & include[:, None, :]


def _mirror_upper(a):
    """The symmetric matrices whose upper triangles (p <= q) are those of ``a`` (..., N, N)."""
    xp = get_xp(a)
    n = a.shape[-1]
    upper = xp.arange(n)[:, None] <= xp.arange(n)[None, :]
    return xp.where(upper, a, xp.swapaxes(a, -1, -2))


def _unadjust(xp, x, rows, starts, decay, mats, vec, sc):
    """adjust=True window sums -> pandas adjust=False ones (the first row keeps ``decay**age``)."""
    alpha = 1.0 - decay
    first = x[starts]
    g = (1.0 - alpha) * decay ** (rows - starts).astype(float)
    mats[0] = alpha * mats[0] + g[:, None, None] * first[:, :, None] * first[:, None, :]
    vec = alpha * vec + g[:, None] * first
    s1 = alpha * alpha * sc[:, 1] + (1.0 + alpha) * g * g / (1.0 - alpha)
    return mats, vec, xp.stack([alpha * sc[:, 0] + g, s1], axis=1)


def _finalize_full(xp, mats, vec, sc, include, ddof):
    s0 = sc[:, 0]
    den = s0 * s0 - ddof * sc[:, 1]
    ok = (s0 > 0) & (den > 0)
    s0_safe = xp.where(ok, s0, 1.0)
    fac = xp.where(ok, s0_safe / xp.where(ok, den, 1.0), xp.nan)
    cov = (mats[0] - vec[:, :, None] * vec[:, None, :] / s0_safe[:, None, None]) * fac[:, None, None]
    return xp.where(_pair_mask(include), _mirror_upper(cov), xp.nan)


def _finalize_pairwise(xp, mats, include, ddof):
    s0 = mats[3]
    den = s0 * s0 - ddof * mats[4]
    ok = (s0 > 0) & (den > 0)
    s0_safe = xp.where(ok, s0, 1.0)
    cov = (mats[0] - mats[1] * mats[2] / s0_safe) * s0_safe / xp.where(ok, den, 1.0)
    cov = _mirror_upper(xp.where(ok, cov, xp.nan))
    return xp.where(_pair_mask(include), cov, xp.nan)


def window_cov_xp(x, obs, sel, rows, starts, decay, include, ddof, pairwise, adjust, active,
                  max_bytes=MAX_BYTES):
    """Twin of :func:`simlab.kernels.covariance.window_cov_nb`: (cov, vec, sc).

    Each decision is computed on its own, so ``active`` only saves work here.
    """
    xp = get_xp(x)
    if not bool(active.all()):
        idx = xp.nonzero(active)[0]
        part = window_cov_xp(x, obs, sel, rows[idx], starts[idx], decay, include[idx], ddof, pairwise,
                             adjust, active[idx], max_bytes)
        cov = xp.full((len(rows), x.shape[1], x.shape[1]), xp.nan)
        vec = xp.zeros((len(rows), x.shape[1]))
        sc = xp.zeros((len(rows), 2))
        cov[idx], vec[idx], sc[idx] = part
        return cov, vec, sc
    n_dec, n_cols = len(rows), x.shape[1]
    cov = xp.empty((n_dec, n_cols, n_cols))
    vec = xp.zeros((n_dec, n_cols))
    sc = xp.zeros((n_dec, 2))
    n_mats = 5 if pairwise else 1
    for lo, hi in _chunks(rows, starts, n_cols, n_mats + 1, max_bytes, (n_mats + 1) * n_cols * n_cols):
        mats, v, c = _window_sums(xp, x, obs, sel, rows, starts, decay, pairwise, lo, hi)
        if pairwise:
            cov[lo:hi] = _finalize_pairwise(xp, mats, include[lo:hi], ddof)
        else:
            if not adjust:
                mats, v, c = _unadjust(xp, x, rows[lo:hi], starts[lo:hi], decay, mats, v, c)
            cov[lo:hi] = _finalize_full(xp, mats, v, c, include[lo:hi], ddof)
        vec[lo:hi] = v
        sc[lo:hi] = c
    return cov, vec, sc


def window_counts_xp(obs, sel, rows, starts):
    """Twin of :func:`simlab.kernels.covariance.window_counts_nb`: (n_sel (R,), n_obs (R, N))."""
    xp = get_xp(obs)
    sel_cum = xp.concatenate([xp.zeros(1), xp.cumsum(sel)])
    hits = obs & (sel != 0)[:, None]
    obs_cum = xp.concatenate([xp.zeros((1, obs.shape[1]), dtype=xp.int64), xp.cumsum(hits, axis=0, dtype=xp.int64)])
    return sel_cum[rows + 1] - sel_cum[starts], obs_cum[rows + 1] - obs_cum[starts]


def window_quartics_xp(x, sel, rows, starts, mean, sd, include, all_terms=True, max_bytes=MAX_BYTES):
    """Twin of :func:`simlab.kernels.covariance.window_quartics_nb`, (R, 3) (all terms either way)."""
    xp = get_xp(x)
    q = xp.zeros((len(rows), 3))
    sd_safe = xp.where(include, sd, 1.0)
    for lo, hi in _chunks(rows, starts, x.shape[1], 3, max_bytes):
        k, w = _windows(xp, rows, starts, 1.0, sel, lo, hi)
        inc = include[lo:hi, None, :]
        d = xp.where(inc, x[k] - mean[lo:hi, None, :], 0.0)
        y = d * d
        on = w != 0
        c1 = (d * y / sd_safe[lo:hi, None, :]).sum(axis=2)
        c2 = (d * sd_safe[lo:hi, None, :]).sum(axis=2)
        q[lo:hi, 0] = xp.where(on, y.sum(axis=2) ** 2, 0.0).sum(axis=1)
        q[lo:hi, 1] = xp.where(on, (y * y).sum(axis=2), 0.0).sum(axis=1)
        q[lo:hi, 2] = xp.where(on, c1 * c2, 0.0).sum(axis=1)
    return q


def _masked_stats(cov, include):
    xp = get_xp(cov)
    mask = _pair_mask(include)
    s = xp.where(mask, cov, 0.0)
    p = include.sum(axis=1).astype(float)
    var = xp.diagonal(s, axis1=1, axis2=2)
    return xp, mask, s, p, var


def shrink_identity_xp(cov, include, n_obs, q):
    """Twin of :func:`simlab.kernels.shrinkage.shrink_identity_nb`: (shrunk cov, shrinkage)."""
    xp, mask, s, p, var = _masked_stats(cov, include)
    live = (p >= 2) & (n_obs > 0)
    p_ = xp.where(live, p, 2.0)
    n_ = xp.where(live, n_obs, 1.0)
    tr = var.sum(axis=1)
    mu = tr / p_
    fro2 = (s * s).sum(axis=(1, 2))
    beta = (q[:, 0] / n_ - fro2) / (p_ * n_)
    delta = (fro2 - 2.0 * mu * tr + p_ * mu * mu) / p_
    beta = xp.minimum(beta, delta)
    shrink = xp.where(live & (beta != 0), beta / xp.where(delta != 0, delta, 1.0), 0.0)
    eye = xp.eye(cov.shape[1], dtype=bool)[None] & mask
    out = (1.0 - shrink)[:, None, None] * cov + xp.where(eye, (shrink * mu)[:, None, None], 0.0)
    return out, shrink


def shrink_constant_correlation_xp(cov, include, n_obs, q):
    """Twin of :func:`simlab.kernels.shrinkage.shrink_constant_correlation_nb`."""
    xp, mask, s, p, var = _masked_stats(cov, include)
    live = (p >= 2) & (n_obs > 0)
    p_ = xp.where(live, p, 2.0)
    n_ = xp.where(live, n_obs, 1.0)
    sd = xp.sqrt(xp.where(include, var, 1.0))
    sdsd = sd[:, :, None] * sd[:, None, :]
    corr_sum = xp.where(mask, s / sdsd, 0.0).sum(axis=(1, 2))
    rbar = (corr_sum - p_) / (p_ * (p_ - 1.0))
    off = mask & ~xp.eye(cov.shape[1], dtype=bool)[None]
    target = rbar[:, None, None] * sdsd
    gamma = xp.where(off, (s - target) ** 2, 0.0).sum(axis=(1, 2))
    var2 = (var * var).sum(axis=1)
    phi = q[:, 0] / n_ - (s * s).sum(axis=(1, 2))
    sss = xp.where(mask, sdsd * s, 0.0).sum(axis=(1, 2))
    rho = (q[:, 1] / n_ - var2) + rbar * ((q[:, 2] - q[:, 1]) / n_ - (sss - var2))
    kappa = (phi - rho) / xp.where(gamma > 0, gamma, 1.0) / n_
    shrink = xp.where(live & (gamma > 0), xp.clip(kappa, 0.0, 1.0), 0.0)
    sh = shrink[:, None, None]
    out = xp.where(off, sh * target + (1.0 - sh) * cov, cov)
    return out, shrink


def _clip_psd(a):
    xp = get_xp(a)
    vals, vecs = xp.linalg.eigh(a)
    return xp.matmul(vecs * xp.maximum(vals, 0.0)[..., None, :], xp.swapaxes(vecs, -1, -2))


def min_corr_eigenvalue_xp(a):
    """Twin of :func:`simlab.kernels.nearest_psd.min_corr_eigenvalue_nb` for (..., N, N)."""
    xp = get_xp(a)
    sym = 0.5 * (a + xp.swapaxes(a, -1, -2))
    d = xp.diagonal(sym, axis1=-2, axis2=-1)
    scaled = (d > 0).all(axis=-1, keepdims=True)
    s = xp.where(scaled, xp.sqrt(xp.where(d > 0, d, 1.0)), 1.0)
    return xp.linalg.eigvalsh(sym / (s[..., :, None] * s[..., None, :]))[..., 0]


def nearest_psd_xp(a, max_iter, tol):
    """Twin of :func:`simlab.kernels.nearest_psd.nearest_psd_nb` for one (N, N) matrix."""
    xp = get_xp(a)
    sym = 0.5 * (a + a.T)
    d = xp.diagonal(sym)
    if not bool((d > 0).all()):
        return _clip_psd(sym), 0
    s = xp.sqrt(d)
    y = sym / xp.outer(s, s)
    ds = xp.zeros_like(y)
    x = y
    it = 0
    eye = xp.eye(len(d), dtype=bool)
    while it < max_iter:
        it += 1
        rr = y - ds
        x = _clip_psd(rr)
        ds = x - rr
        y_new = xp.where(eye, 1.0, x)
        step = float(xp.sqrt(((y_new - y) ** 2).sum()))
        norm = float(xp.sqrt((y_new**2).sum()))
        y = y_new
        if step <= tol * norm:
            break
    xd = xp.diagonal(x)
    scale = xp.where(xd > 0, s / xp.sqrt(xp.where(xd > 0, xd, 1.0)), 0.0)
    return x * xp.outer(scale, scale), it


def repair_psd_xp(cov, include, tol, max_iter, conv_tol):
    """Twin of :func:`simlab.kernels.nearest_psd.repair_psd_nb`: (repaired cov, flags (R,))."""
    xp = get_xp(cov)
    out = cov.copy()
    repaired = xp.zeros(cov.shape[0], dtype=bool)
    for r in range(cov.shape[0]):
        idx = xp.nonzero(include[r])[0]
        if len(idx) == 0:
            continue
        sub = cov[r][xp.ix_(idx, idx)]
        if float(min_corr_eigenvalue_xp(sub)) >= -tol:
            continue
        fixed, _ = nearest_psd_xp(sub, max_iter, conv_tol)
        out[r][xp.ix_(idx, idx)] = fixed
        repaired[r] = True
    return out, repaired
