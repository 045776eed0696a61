"""``simlab warmup``: compile the numba kernels ahead (an image build, each cluster worker)."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register ``simlab warmup``."""
    cmd = sub.add_parser("warmup", help="compile the numba kernels ahead of the first run")
    cmd.set_defaults(func=main)


def main(args) -> int:
    """Run the warm-up experiment and say how long it took."""
    from simlab.lab.warmup import compile_notice, warmup

    notice = compile_notice()
    print(notice or "the kernels are cached; loading them", flush=True)
    print(f"kernels ready ({warmup():.1f} s)")
    return 0
