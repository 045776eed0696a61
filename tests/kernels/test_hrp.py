"""The compiled HRP bisection against a plain-numpy recursion (Lopez de Prado's listing)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.kernels.hrp import hrp_bisection_nb


def bisection_reference(cov: np.ndarray) -> np.ndarray:
    """Recursive bisection on index lists, as in Lopez de Prado (2016), snippet 16.4."""
    n = cov.shape[0]
    w = np.ones(n)
    clusters = [np.arange(n)]
    while clusters:
        halves = [(c[: len(c) // 2], c[len(c) // 2:]) for c in clusters if len(c) > 1]
        for left, right in halves:
            v = []
            for items in (left, right):
                ivp = 1.0 / np.diag(cov)[items]
                ivp /= ivp.sum()
                v.append(ivp @ cov[np.ix_(items, items)] @ ivp)
            alpha = 1.0 - v[0] / (v[0] + v[1])
            w[left] *= alpha
            w[right] *= 1.0 - alpha
        clusters = [half for pair in halves for half in pair]
    return w


@settings(max_examples=60)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_bisection_equals_the_reference(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3 * n + 5, n)) * rng.uniform(0.5, 3.0, n)
    cov = a.T @ a / len(a)
    got = hrp_bisection_nb(np.ascontiguousarray(cov))
    np.testing.assert_allclose(got, bisection_reference(cov), rtol=1e-12, atol=1e-15)
    assert abs(got.sum() - 1.0) < 1e-12 and (got > 0).all()
