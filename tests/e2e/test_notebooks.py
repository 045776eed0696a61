"""The worked examples in notebooks/ run end to end.

The notebooks are percent-format Python files (``# %%`` cells; jupytext opens them as
notebooks). Each has a cell tagged ``parameters``; as papermill does, the test adds a cell
after it that shortens the span and the bootstrap, and points the outputs at a temporary
folder, then runs the file with :func:`runpy.run_path` from ``notebooks/`` (where Jupyter
would start it).
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PARAMETERS = '# %% tags=["parameters"]'

SMALL = {
    "quickstart.py": {"START": "2019-07-01", "END": "2020-06-30"},
    "allocator_phases.py": {"START": "2018-10-01", "END": "2019-06-28", "PAIR_DRAWS": 49, "DETAIL": 2},
    "claim_trial.py": {"START": "2014-01-01", "END": "2018-12-31", "DRAWS": 100, "PAIR_DRAWS": 49},
}


def with_parameters(source: str, values: dict) -> str:
    """``source`` with a cell assigning ``values`` right after its parameters cell."""
    lines = source.splitlines()
    start = lines.index(PARAMETERS)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%"))
    injected = ['# %% tags=["injected-parameters"]', *(f"{k} = {v!r}" for k, v in values.items()), ""]
    return "\n".join([*lines[:end], *injected, *lines[end:]]) + "\n"


def run_notebook(name: str, tmp_path: Path, monkeypatch, **extra) -> dict:
    monkeypatch.chdir(NOTEBOOKS)
    script = tmp_path / name
    script.write_text(with_parameters((NOTEBOOKS / name).read_text(), {**SMALL[name], **extra}))
    return runpy.run_path(str(script), run_name="__main__")


def test_every_notebook_is_run_here_and_has_parameters():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.py")) == sorted(SMALL)
    for name in SMALL:
        assert (NOTEBOOKS / name).read_text().splitlines().count(PARAMETERS) == 1, name


def test_quickstart(tmp_path, monkeypatch):
    ns = run_notebook("quickstart.py", tmp_path, monkeypatch, OUT=str(tmp_path / "run"))
    folder = ns["folder"]
    assert folder == tmp_path / "run"
    assert ns["res"].scenarios == ("top_n=3", "top_n=5", "top_n=10")
    for name in ("config.yaml", "run.json", "metrics.json", "report.html"):
        assert (folder / name).stat().st_size > 0, name
    assert str(ns["res"].dates[0].date()) >= "2019-07-01"


def test_allocator_phases(tmp_path, monkeypatch):
    ns = run_notebook("allocator_phases.py", tmp_path, monkeypatch, OUT=str(tmp_path / "phases"))
    n = len(ns["res"].scenarios)
    assert n == 10 and len(ns["pairs"]) == n * (n - 1) // 2
    assert set(ns["by_phase"].mean().index) == {"phase1", "phase2", "phase3"}
    page = ns["path"].read_text()
    assert '<section id="sharpe-pairs">' in page and page.count('<table class="heatmap">') == 2


def test_claim_trial(tmp_path, monkeypatch):
    ns = run_notebook("claim_trial.py", tmp_path, monkeypatch, OUT=str(tmp_path / "trial"))
    validation = ns["validation"]
    assert set(validation.verdicts()) == {"sharpe >= 2.85", "active_return >= 106%"}
    assert set(validation.table["verdict"]) <= {"PASS", "FAIL", "INCONCLUSIVE"}
    record = json.loads((tmp_path / "trial" / "claims.json").read_text())
    assert record["draws"] == 100
    page = ns["path"].read_text()
    assert '<section id="claims">' in page and "Proxy strategy: value_momentum" in page
    assert "VIX proxy" in page


@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_ipynb_twin_matches_its_source_and_holds_outputs(name):
    """The .ipynb (outputs of a full run, scripts/build_notebooks.py) pairs with its .py source."""
    jupytext = pytest.importorskip("jupytext", reason="jupytext: pip install 'simlab[notebooks]'")
    import nbformat

    source = jupytext.read(NOTEBOOKS / name)
    twin = nbformat.read(NOTEBOOKS / name.replace(".py", ".ipynb"), as_version=4)
    cells = [(c.cell_type, c.source) for c in source.cells]
    assert [(c.cell_type, c.source) for c in twin.cells] == cells, (
        f"{name} changed: rebuild its .ipynb with python scripts/build_notebooks.py {name}")
    code = [c for c in twin.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any(c.outputs for c in code)
