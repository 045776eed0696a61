"""Shared fixtures: temporary component registration and CSV markets.

BLAS runs on one thread in tests: the suite's matrices are small, and a BLAS thread pool
per process oversubscribes a 2-core CI machine (a 100x100 eigh then takes 500 ms, not 1).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)

# Property tests: no per-example deadline (a shared 2-core CI machine is slow and noisy, and a
# first call may compile a numba kernel), and derandomized, so CI sees the same examples
# every run; explore new examples locally with ``pytest --hypothesis-profile=explore``.
settings.register_profile(
    "simlab", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", parent=settings.get_profile("simlab"), derandomize=False)
settings.load_profile("simlab")

from simlab.config import registry  # noqa: E402


@pytest.fixture
def register_temporarily():
    """``register_temporarily(kind, key)(cls)``: register for this test only, removed after."""
    added: list[tuple[str, str]] = []

    def decorate(kind: str, key: str):
        registry.registry(kind)  # load the built-ins first, so a clash is a real clash

        def add(cls):
            out = registry.register(kind, key)(cls)
            added.append((kind, key))
            return out

        return add

    yield decorate
    for kind, key in added:
        registry.unregister(kind, key)
