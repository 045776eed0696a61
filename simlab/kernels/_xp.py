"""The array namespace of a computation: numpy on the CPU, cupy on a GPU.

Kernels ending in ``_xp`` are written once against ``xp`` and take the namespace from
their inputs with :func:`get_xp`, so the same code runs on numpy arrays (CPU, and the
CI stand-in for the GPU path) and on cupy arrays (GPU).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def cupy_module() -> ModuleType | None:
    """The ``cupy`` module if it imports, else None (no GPU runtime is touched)."""
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def get_xp(*arrays) -> ModuleType:
    """``cupy`` if any argument is a cupy array, else ``numpy``; None arguments are skipped."""
    cp = cupy_module()
    if cp is not None:
        for a in arrays:
            if isinstance(a, cp.ndarray):
                return cp
    return np


def to_numpy(a) -> np.ndarray:
    """A host numpy array from a numpy or cupy array (a copy only when on a device)."""
    if isinstance(a, np.ndarray):
        return a
    get = getattr(a, "get", None)
    return np.asarray(get() if get is not None else a)


def asarray(xp: ModuleType, a, dtype=None):
    """``a`` as an array of namespace ``xp`` (moved to the device when xp is cupy)."""
    return xp.asarray(a, dtype=dtype)
