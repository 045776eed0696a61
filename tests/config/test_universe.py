"""Universe files: metadata columns, liquidity tiers, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import simlab
from simlab.config.universe import GICS_SECTORS, load_universe, parse_universe
from simlab.errors import ConfigError
from simlab.testing.builders import csv_experiment, price_frame

ROOT = Path(__file__).resolve().parents[2]

TIERS = {1: {"min_market_cap": 1e11, "min_adv": 5e8}, 2: {"min_market_cap": 1e10}, 3: {}}


def write(tmp_path: Path, spec: dict, name: str = "u.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_metadata_columns_and_types(tmp_path):
    spec = {"name": "demo", "assets": {
        "A0": {"sector": "Energy", "market_cap": 2e11, "adv": 1e9, "hard_to_borrow": True},
        "A1": {"sector": "Utilities", "liquidity_tier": 2, "defensive": True},
        "A2": None,
    }}
    u = load_universe(write(tmp_path, spec))
    assert u.name == "demo" and u.assets == ("A0", "A1", "A2")
    assert list(u.meta.columns) == ["sector", "liquidity_tier", "market_cap", "adv",
                                    "hard_to_borrow", "restricted", "defensive"]
    assert u.meta.loc["A0", "market_cap"] == 2e11 and pd.isna(u.meta.loc["A1", "adv"])
    assert u.meta["liquidity_tier"].dtype == "Int64" and u.meta.loc["A1", "liquidity_tier"] == 2
    assert u.meta["hard_to_borrow"].tolist() == [True, False, False]
    assert u.defensive == ("A1",)
    assert u.sectors == GICS_SECTORS


def test_tiers_derived_from_market_cap_and_adv(tmp_path):
    spec = {"liquidity_tiers": TIERS, "assets": {
        "BIG": {"market_cap": 2e11, "adv": 1e9},      # meets tier 1
        "THIN": {"market_cap": 2e11, "adv": 1e8},     # cap of tier 1, adv too thin: tier 2
        "MID": {"market_cap": 1e10},                  # exactly at tier 2's minimum
        "SMALL": {"market_cap": 9.99e9},              # just below it: the catch-all tier 3
        "CAPONLY": {"market_cap": 5e11},              # no adv stated: not tier 1
        "STATED": {"liquidity_tier": 1},              # no numbers: the stated tier stands
        "NONE": {},
    }}
    tiers = load_universe(write(tmp_path, spec)).meta["liquidity_tier"]
    assert tiers.drop("NONE").tolist() == [1, 2, 2, 3, 2, 1]
    assert pd.isna(tiers["NONE"])


def test_shipped_universes_load_with_their_defensive_assets():
    sp = load_universe(ROOT / "configs/universes/sp500_20.yaml")
    assert len(sp.assets) == 20 and sp.meta["sector"].notna().all()
    assert sp.defensive == ("JNJ", "KO", "PEP", "PG", "WMT")
    etfs = load_universe(ROOT / "configs/universes/factor_etfs.yaml")
    assert etfs.assets == ("MTUM", "QUAL", "SIZE", "USMV", "VLUE") and etfs.defensive == ("USMV",)


def test_a_file_may_define_its_own_sectors(tmp_path):
    spec = {"sectors": ["Tech", "Staples"], "assets": {"A0": {"sector": "Tech"}}}
    assert load_universe(write(tmp_path, spec)).sectors == ("Tech", "Staples")
    with pytest.raises(ConfigError, match=r"asset 'A0', key 'sector': unknown sector 'Energy'.*'sectors' list"):
        parse_universe({"sectors": ["Tech"], "assets": {"A0": {"sector": "Energy"}}})


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"assets": {"A0": {"sector": "Technology"}}},
         r"u\.yaml: asset 'A0', key 'sector': unknown sector 'Technology'\. Did you mean 'Information Technology'\?"),
        ({"assets": {"A0": {"market_cap": -5.0}}}, r"u\.yaml: asset 'A0', key 'market_cap': .*greater than 0; got -5"),
        ({"assets": {"A0": {"adv": 0}}}, r"asset 'A0', key 'adv': .*greater than 0"),
        ({"assets": {"A0": {"liquidity_tier": "high"}}}, r"asset 'A0', key 'liquidity_tier': .*integer; got 'high'"),
        ({"assets": {"A0": {"liquidity_tier": 0}}}, r"asset 'A0', key 'liquidity_tier': .*greater than or equal to 1"),
        ({"assets": {"A0": {"liquidity_tier": 1.5}}}, r"asset 'A0', key 'liquidity_tier'"),
        ({"liquidity_tiers": TIERS, "assets": {"A0": {"liquidity_tier": 4}}},
         r"asset 'A0', key 'liquidity_tier': tier 4 is not defined; liquidity_tiers defines 1, 2, 3"),
        ({"liquidity_tiers": TIERS, "assets": {"A0": {"liquidity_tier": 1, "market_cap": 2e10}}},
         r"asset 'A0', key 'liquidity_tier': says 1, but its market_cap 2e\+10 place it in tier 2"),
        ({"liquidity_tiers": {1: {"min_adv": 1e6}, 2: {"min_adv": 1e7}}, "assets": {"A0": {}}},
         r"key 'liquidity_tiers\.2\.min_adv': 1e\+07 asks more than tier 1 \(1e\+06\)"),
        ({"liquidity_tiers": {1: {"min_adv": -1}}, "assets": {"A0": {}}},
         r"key 'liquidity_tiers\.1\.min_adv': .*greater than or equal to 0"),
        ({"liquidity_tiers": {1: {"min_volume": 1}}, "assets": {"A0": {}}},
         r"key 'liquidity_tiers\.1\.min_volume': unknown key.* Valid keys: min_market_cap, min_adv"),
        ({"liquidity_tiers": {"top": {}}, "assets": {"A0": {}}}, r"key 'liquidity_tiers\.top': .*integer; got 'top'"),
        ({"assets": {"A0": {"secter": "Energy"}}}, r"asset 'A0', key 'secter': unknown key\. Did you mean 'sector'\?"),
        ({"assets": {"A0": {"defensive": "yes"}}}, r"asset 'A0', key 'defensive': .*boolean"),
        ({"assets": {"A0": 5}}, r"asset 'A0': expected a mapping of its keys \(sector, .*\) or nothing; got 5"),
        ({"assets": {}}, r"'assets' is empty"),
        ({"sectors": [], "assets": {"A0": {}}}, r"key 'sectors' is an empty list"),
        ({"sectors": ["X", "X"], "assets": {"A0": {}}}, r"key 'sectors' lists 'X' twice"),
        ({"assets": {"A0": {}}, "tiers": {}}, r"key 'tiers': unknown key.*Valid keys: name, description, sectors"),
    ],
)
def test_bad_universe_files_name_the_file_asset_and_key(tmp_path, spec, match):
    with pytest.raises(ConfigError, match=match):
        load_universe(write(tmp_path, spec))


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"universe: file not found: .*nope\.yaml"):
        load_universe(tmp_path / "nope.yaml")


def test_an_asset_missing_from_the_data_is_named(tmp_path):
    close = price_frame(30, 2, seed=0)
    universe = write(tmp_path, {"assets": {"A0": {"sector": "Energy"}, "ZZZ": {"sector": "Energy"}}})
    cfg = csv_experiment(close, tmp_path, universe=str(universe))
    with pytest.raises(ConfigError, match=r"u\.yaml: asset\(s\) ZZZ not in the data"):
        simlab.run(cfg)


def test_universe_metadata_reaches_the_steps(tmp_path):
    close = price_frame(30, 3, seed=0)
    assets = {"A2": {"sector": "Energy", "defensive": True}, "A0": {"sector": "Utilities"}}
    universe = write(tmp_path, {"assets": assets})
    res = simlab.run(csv_experiment(close, tmp_path, universe=str(universe)))
    assert res.assets == ("A2", "A0")
    assert res.market.meta.loc["A2", "defensive"] and res.market.meta.loc["A0", "sector"] == "Utilities"
