"""Which backend runs a kernel family, and a record of why.

``resolve_backend`` turns a requested backend (``"numba"``, ``"numpy"``, ``"cupy"`` or
``"auto"``) into the one that will run. Asking for ``"cupy"`` where cupy or a CUDA device
is missing raises :class:`BackendUnavailableError`; ``"auto"`` picks cupy when a device is
present and otherwise the CPU (numba), saying so in :attr:`Support.reason`, which the
wrapper copies into its diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass

from simlab.errors import SimlabError
from simlab.kernels._xp import cupy_module

BACKENDS = ("numba", "numpy", "cupy", "auto")


class BackendUnavailableError(SimlabError, RuntimeError):
    """A backend was requested explicitly but cannot run on this machine."""


@dataclass(frozen=True)
class Support:
    """Outcome of choosing a backend.

    Attributes
    ----------
    ok : True when the requested backend runs as asked; False when ``auto`` fell back.
    reason : a sentence for diagnostics; empty when nothing needs saying.
    backend : the backend that runs: ``"numba"``, ``"numpy"`` or ``"cupy"``.
    """

    ok: bool
    reason: str = ""
    backend: str = "numba"


def gpu_problem() -> str:
    """Why cupy cannot run here, or ``""`` when it can."""
    cp = cupy_module()
    if cp is None:
        return "cupy is not installed (pip install 'simlab[gpu]')"
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # the CUDA runtime raises its own error types
        return f"cupy cannot reach a CUDA device ({type(exc).__name__}: {exc})"
    if count < 1:
        return "cupy found no CUDA device"
    return ""


def resolve_backend(requested: str) -> Support:
    """The backend that will run for ``requested``; see the module docstring."""
    if requested not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {requested!r}")
    if requested in ("numba", "numpy"):
        return Support(ok=True, backend=requested)
    problem = gpu_problem()
    if requested == "cupy":
        if problem:
            raise BackendUnavailableError(
                f"backend 'cupy' was requested but {problem}; use backend 'auto' or 'numba'"
            )
        return Support(ok=True, backend="cupy")
    if problem:
        return Support(ok=False, reason=f"backend 'auto': {problem}; running on the CPU (numba)",
                       backend="numba")
    return Support(ok=True, reason="backend 'auto': running on the GPU (cupy)", backend="cupy")
