"""Rebuild the notebooks' ``.ipynb`` twins from their percent-format ``.py`` sources, executed.

The ``.py`` files in ``notebooks/`` are the source (jupytext pairs them, ``formats:
ipynb,py:percent``); the ``.ipynb`` files carry the outputs of a full run, for reading on a
code host or in Jupyter without running anything. Run after changing a notebook or a result:

    python scripts/build_notebooks.py [NAME ...]

Each notebook runs with the repository root as its working directory (its run folders land
in ``experiments/``). Needs the ``notebooks`` extra (jupytext, nbclient, ipykernel).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def build(source: Path) -> Path:
    """Execute ``source`` (a percent-format .py) and write its paired .ipynb with the outputs."""
    notebook = jupytext.read(source)
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{i}"  # stable ids: a rebuild changes only what the outputs changed
    NotebookClient(notebook, timeout=1800, kernel_name="python3", record_timing=False, coalesce_streams=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    target = source.with_suffix(".ipynb")
    jupytext.write(notebook, target)
    return target


def main(names: list[str]) -> int:
    sources = [NOTEBOOKS / f"{n.removesuffix('.py')}.py" for n in names] or sorted(NOTEBOOKS.glob("*.py"))
    for source in sources:
        t0 = time.perf_counter()
        print(f"{build(source).relative_to(ROOT)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
