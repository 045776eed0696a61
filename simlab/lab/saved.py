"""A run folder read back: ``simlab.load_run(folder)``.

Reads what :func:`simlab.lab.store.save_run` wrote, without running anything: the record,
the resolved config (as plain data), the metrics and the Parquet tables. To recompute the
run, ``simlab.run(folder / "config.yaml")``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr
import yaml

from simlab.errors import ConfigError
from simlab.lab.interop import metrics_html
from simlab.lab.store import load_metrics


@dataclass(frozen=True)
class SavedRun:
    """A finished run folder: its tables, loaded on first use."""

    folder: Path
    record: dict
    config: dict
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def run_id(self) -> str:
        """The run id of ``run.json``."""
        return self.record["run_id"]

    def _table(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = pd.read_parquet(self.folder / f"{name}.parquet")
        return self._cache[name]

    @property
    def nav(self) -> pd.DataFrame:
        """Portfolio value: date x scenario."""
        return self._table("nav")

    @property
    def returns(self) -> pd.DataFrame:
        """Daily simple returns: date x scenario."""
        return self._table("returns")

    @property
    def weights(self) -> xr.DataArray:
        """End-of-day weights, dims (date, scenario, asset)."""
        table = self._table("weights")
        return xr.DataArray.from_series(table.stack().rename("weight")).rename({table.columns.name or "asset": "asset"})

    @property
    def trades(self) -> pd.DataFrame:
        """One row per fill."""
        return self._table("trades")

    @property
    def diagnostics(self) -> pd.DataFrame:
        """Every decision's diagnostics, long format."""
        return self._table("diagnostics")

    @property
    def sleeves(self) -> pd.DataFrame | None:
        """A book with sleeves: date, scenario, sleeve, nav, weight, return, transfer, cost (long form);
        None for a run without sleeves."""
        return self._table("sleeves") if (self.folder / "sleeves.parquet").is_file() else None

    def sleeve_metrics(self) -> pd.DataFrame | None:
        """A book with sleeves: the (scenario, part) table of ``Result.sleeve_metrics``; else None."""
        path = self.folder / "sleeve_metrics.csv"
        return pd.read_csv(path, index_col=[0, 1]) if path.is_file() else None

    def metrics(self) -> pd.DataFrame:
        """The scenario x metric table saved with the run."""
        return load_metrics(self.folder)

    def _repr_html_(self) -> str:
        return metrics_html(self.metrics(), f"{self.run_id} ({self.folder})")

    def __repr__(self) -> str:
        return f"SavedRun({self.run_id!r}, {str(self.folder)!r})"


def load_run(folder: str | Path) -> SavedRun:
    """Read a run folder written by ``simlab run`` or :meth:`simlab.Result.save`.

    Raises
    ------
    ConfigError
        Not a finished run folder (no ``run.json``: unfinished, or not a run).
    """
    folder = Path(folder).expanduser()
    record_path = folder / "run.json"
    if not record_path.is_file():
        raise ConfigError(f"{folder}: not a finished run folder (no run.json)")
    record = json.loads(record_path.read_text())
    config = yaml.safe_load((folder / "config.yaml").read_text())
    return SavedRun(folder=folder.resolve(), record=record, config=config)
