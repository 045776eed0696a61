"""A large Feature is computed a chunk of decision rows at a time, with the same values."""

from __future__ import annotations

import numpy as np

import simlab
from simlab.data import generate_market
from simlab.features import base
from simlab.features.base import FeatureInputs, FeatureTable
from simlab.features.covariance import Covariance

CONFIG = {
    "name": "chunks",
    "data": {"source": "synthetic", "n_assets": 15, "n_days": 330, "seed": 5, "benchmark": None},
    "schedule": {"frequency": "daily"},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "min_variance", "estimator": "ledoit_wolf", "window": 60, "max_weight": 0.2,
                  "turnover_penalty": 0.001, "solver": "native"}],
    "scenarios": {"grid": {"pipeline.0.window": [40, 60]}},
}


def _inputs(n_assets=6, n_days=120) -> FeatureInputs:
    md = generate_market(n_assets, n_days, seed=2)
    close = md.close.to_numpy()
    return FeatureInputs(dates=md.dates, assets=tuple(md.assets), close=close,
                         returns=np.asarray(md.returns(), dtype=float), volume=None, benchmark=None,
                         macro={}, meta=None)


def test_chunked_table_gives_the_same_bits(monkeypatch):
    inputs = _inputs()
    rows = np.arange(40, 120, 3)
    cov = Covariance("ledoit_wolf", 30)
    whole = FeatureTable(inputs, rows)
    whole.add(cov)
    monkeypatch.setattr(base, "CHUNK_BYTES", 5 * cov.row_nbytes(inputs))  # 5 rows a chunk
    chunked = FeatureTable(inputs, rows)
    chunked.add(cov)
    assert cov in chunked and cov in chunked._chunked and cov not in chunked._values
    for row in list(rows) + [rows[3], rows[-1], rows[0]]:  # forwards, then back to earlier chunks
        a, b = whole.at([cov], row), chunked.at([cov], row)
        assert np.array_equal(a, b, equal_nan=True)


def test_small_features_are_computed_at_once():
    inputs = _inputs()
    table = FeatureTable(inputs, np.arange(40, 120, 3))
    cov = Covariance("sample", 30)
    table.add(cov)
    assert cov in table._values and not table._chunked


def test_a_run_is_the_same_with_chunked_covariances(monkeypatch):
    whole = simlab.run(CONFIG)
    monkeypatch.setattr(base, "CHUNK_BYTES", 7 * 15 * 15 * 8)  # 7 decision rows a chunk
    chunked = simlab.run(CONFIG)
    assert np.array_equal(whole.weights.values, chunked.weights.values)
    assert np.array_equal(whole.nav.to_numpy(), chunked.nav.to_numpy())


def test_a_chunk_reuses_the_last_chunks_memory_only_when_nothing_holds_it(monkeypatch):
    inputs = _inputs()
    rows = np.arange(40, 120, 2)
    cov = Covariance("ledoit_wolf", 30)
    whole = cov.compute(inputs, rows)
    spares = []
    original = Covariance.compute_chunk

    def compute_chunk(self, inputs, rows, out, carry):
        if out is not None:
            spares.append(id(out))  # not the array: holding it would keep it from being handed on
        return original(self, inputs, rows, out, carry)

    monkeypatch.setattr(Covariance, "compute_chunk", compute_chunk)
    monkeypatch.setattr(base, "CHUNK_BYTES", 5 * cov.row_nbytes(inputs))  # 5 rows a chunk, 8 chunks
    table = FeatureTable(inputs, rows)
    table.add(cov)
    for i, row in enumerate(rows):
        value = table.at([cov], row)
        assert np.array_equal(value[0], whole[i], equal_nan=True) and not value.flags.writeable
        del value
    assert len(spares) == 7 and len(set(spares)) == 1  # one buffer for all chunks
    spares.clear()
    table = FeatureTable(inputs, rows)
    table.add(cov)
    held = [table.at([cov], row) for row in rows]  # a consumer keeping every value
    assert not spares  # so no chunk's memory is handed on
    for i, value in enumerate(held):
        assert np.array_equal(value[0], whole[i], equal_nan=True)
