"""Backend choice for the covariance kernels: numba, the numpy twin, and cupy where a GPU is."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import SimlabError
from simlab.kernels import _support
from simlab.kernels._support import BackendUnavailableError, Support, gpu_problem, resolve_backend
from simlab.kernels._xp import get_xp, to_numpy
from simlab.kernels.dispatch import covariance_batch

NO_GPU = gpu_problem()


def returns(seed=0, n_rows=400, n_cols=9):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n_cols)) * 0.01
    x[0] = np.nan
    x[:150, 2] = np.nan
    x[rng.random(x.shape) < 0.01] = np.nan
    return x


def test_cpu_backends_resolve_as_asked():
    assert resolve_backend("numba") == Support(ok=True, backend="numba")
    assert resolve_backend("numpy") == Support(ok=True, backend="numpy")


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("tpu")


def test_cupy_without_gpu_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(_support, "gpu_problem", lambda: "cupy is not installed")
    with pytest.raises(BackendUnavailableError, match="backend 'cupy' was requested but cupy is not installed"):
        resolve_backend("cupy")
    assert issubclass(BackendUnavailableError, SimlabError)


def test_auto_without_gpu_falls_back_to_numba_with_a_note(monkeypatch):
    monkeypatch.setattr(_support, "gpu_problem", lambda: "cupy found no CUDA device")
    support = resolve_backend("auto")
    assert support == Support(ok=False, backend="numba",
                              reason="backend 'auto': cupy found no CUDA device; running on the CPU (numba)")


def test_get_xp_is_numpy_for_numpy_arrays():
    assert get_xp(np.zeros(2), None) is np
    a = np.ones(3)
    assert to_numpy(a) is a


@pytest.mark.parametrize("estimator,kw", [
    ("sample", {}), ("ewma", {"halflife": 15.0}), ("ledoit_wolf", {}), ("ledoit_wolf_cc", {}),
    ("sample", {"min_periods": 100}), ("ewma", {"halflife": 15.0, "window": None}),
])
def test_numba_and_numpy_backends_agree(estimator, kw):
    x = returns()
    rows = np.array([399, 120, 251, 300, 301])  # unsorted on purpose
    labels = (np.arange(len(x)) // 37) % 2
    kw = {"window": 252, **kw}
    for lab in (None, labels):
        a, sa = covariance_batch(x, rows, estimator=estimator, labels=lab, min_regime_obs=60, backend="numba", **kw)
        b, sb = covariance_batch(x, rows, estimator=estimator, labels=lab, min_regime_obs=60, backend="numpy", **kw)
        assert (sa.backend, sb.backend) == ("numba", "numpy")
        for field in ("included", "regime_fallback", "repaired"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        for field in ("cov", "n_obs", "shrinkage"):
            u, v = getattr(a, field), getattr(b, field)
            np.testing.assert_array_equal(np.isnan(u), np.isnan(v))
            np.testing.assert_allclose(np.nan_to_num(u), np.nan_to_num(v), rtol=1e-10,
                                       atol=1e-10 * np.nanmax(np.abs(u)))


@pytest.mark.gpu
@pytest.mark.skipif(bool(NO_GPU), reason=NO_GPU or "GPU present")
@pytest.mark.parametrize("estimator", ["sample", "ewma", "ledoit_wolf", "ledoit_wolf_cc"])
def test_cupy_backend_agrees_with_numba(estimator):
    x = returns(1, n_rows=600, n_cols=40)
    rows = np.arange(260, 600, 21)
    kw = {"halflife": 20.0} if estimator == "ewma" else {}
    a, _ = covariance_batch(x, rows, estimator=estimator, backend="numba", **kw)
    b, support = covariance_batch(x, rows, estimator=estimator, backend="cupy", **kw)
    assert support.backend == "cupy"
    np.testing.assert_array_equal(np.isnan(a.cov), np.isnan(b.cov))
    np.testing.assert_allclose(np.nan_to_num(a.cov), np.nan_to_num(b.cov), rtol=1e-10,
                               atol=1e-10 * np.nanmax(np.abs(a.cov)))
