"""Universe files: which assets an experiment trades, and what is known about them.

```yaml
name: sp500_20
sectors: [Energy, Financials, ...]     # optional; the GICS sector names by default
liquidity_tiers:                       # optional; tier -> minimum market cap and/or ADV
  1: {min_market_cap: 1.0e+11, min_adv: 5.0e+8}
  2: {min_market_cap: 1.0e+10, min_adv: 5.0e+7}
  3: {}                                # no minimum: every asset qualifies
assets:
  AAPL: {sector: Information Technology, market_cap: 2.0e+12, adv: 1.0e+10}
  JPM: {sector: Financials, liquidity_tier: 1}
  KO: {sector: Consumer Staples, defensive: true}
  RRC: {sector: Energy, hard_to_borrow: true}
```

Per asset: ``instrument`` (what kind of thing it is: equity by default, or an ETF, a
future, a crypto asset, :mod:`simlab.config.instruments`); ``sector``; ``market_cap`` and ``adv`` (average daily traded value, money per
day; cost models read it when the data has no volume); ``liquidity_tier`` (1 is the most
liquid); ``hard_to_borrow`` and ``restricted`` (borrowability); ``defensive`` (where risk
overlays move weight in stress). Everything but the asset's name is optional.

Liquidity tiers come either from the asset's own ``liquidity_tier`` or, when the file
defines ``liquidity_tiers``, from its ``market_cap`` and ``adv``: the asset gets the lowest
tier number whose every minimum it meets (a minimum on a quantity the asset does not state
is not met). An asset that states both a tier and the numbers must agree with the rule.

Everything is checked when the file loads; a problem raises :class:`ConfigError` naming
the file, the asset and the key. Which assets are in the data is checked where the
universe is applied to the data (:mod:`simlab.lab.run`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pydantic
from pydantic import Field, StrictBool

from simlab.config import validation
from simlab.config.instruments import KINDS, InstrumentSpec, check_instruments, fields_of
from simlab.config.schema import StrictModel
from simlab.errors import ConfigError

# The default sector vocabulary (a taxonomy, not an assignment): the 11 GICS sectors.
# A file that uses another classification lists its own names under ``sectors:``.
GICS_SECTORS = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
THRESHOLDS = {"min_market_cap": "market_cap", "min_adv": "adv"}


class AssetInfo(StrictModel):
    """What a universe file may say about one asset."""

    sector: str | None = None
    liquidity_tier: Annotated[int, Field(ge=1, strict=True)] | None = None
    market_cap: Positive | None = None
    adv: Positive | None = None
    hard_to_borrow: StrictBool = False
    restricted: StrictBool = False
    defensive: StrictBool = False
    instrument: InstrumentSpec | None = None


class LiquidityTier(StrictModel):
    """Minimums an asset must meet to be in a tier (money; None: no minimum)."""

    min_market_cap: NonNegative | None = None
    min_adv: NonNegative | None = None


class UniverseFile(StrictModel):
    """A universe file's top level."""

    name: str = "universe"
    description: str = ""
    sectors: list[str] | None = None
    liquidity_tiers: dict[Annotated[int, Field(ge=1)], LiquidityTier] | None = None
    assets: dict[str, AssetInfo | None]


@dataclass(frozen=True)
class Universe:
    """Asset names in trading order and their metadata.

    ``meta`` is indexed by asset with the columns ``sector``, ``liquidity_tier``
    (nullable integer), ``market_cap``, ``adv`` (float, NaN where not given),
    ``hard_to_borrow``, ``restricted`` and ``defensive`` (bool).
    """

    name: str
    assets: tuple[str, ...]
    meta: pd.DataFrame
    sectors: tuple[str, ...] = GICS_SECTORS
    path: Path | None = None
    instruments: dict = field(default_factory=dict)  # asset -> spec, only the assets that are not equities

    @property
    def defensive(self) -> tuple[str, ...]:
        """The assets marked ``defensive``, in trading order."""
        return tuple(self.meta.index[self.meta["defensive"]])


def load_universe(path: str | Path, base: Path | None = None) -> Universe:
    """Read and check a universe YAML; a relative path is tried as given, then beside ``base``."""
    from simlab.config.loader import read_yaml

    found = _find(Path(path), base)
    return parse_universe(read_yaml(found), found)


def parse_universe(raw: dict[str, Any], where: str | Path = "<dict>") -> Universe:
    """Check a universe given as plain data; ``where`` names it in error messages."""
    try:
        spec = UniverseFile.model_validate(raw)
    except pydantic.ValidationError as err:
        raise ConfigError("\n".join(_describe(item, where) for item in err.errors())) from None
    if not spec.assets:
        raise ConfigError(f"universe {where}: 'assets' is empty; list at least one asset")
    sectors = _check_sectors(spec, where)
    tiers = _check_tiers(spec.liquidity_tiers or {}, where)
    infos = {a: info or AssetInfo() for a, info in spec.assets.items()}
    for asset, info in infos.items():
        if info.sector is not None and info.sector not in sectors:
            raise ConfigError(_unknown_sector(where, asset, info.sector, sectors, spec.sectors is None))
    meta = _meta(infos, tiers, where)
    instruments = {a: info.instrument for a, info in infos.items()
                   if info.instrument is not None and info.instrument.kind != "equity"}
    check_instruments(instruments, where)
    return Universe(name=spec.name, assets=tuple(infos), meta=meta, sectors=sectors,
                    path=Path(where) if isinstance(where, Path) else None, instruments=instruments)


def _meta(infos: dict[str, AssetInfo], tiers: dict[int, LiquidityTier], where) -> pd.DataFrame:
    rows = {}
    for asset, info in infos.items():
        row = info.model_dump(exclude={"instrument"})
        row["liquidity_tier"] = _tier_of(asset, info, tiers, where)
        rows[asset] = row
    meta = pd.DataFrame.from_dict(rows, orient="index")
    meta["liquidity_tier"] = meta["liquidity_tier"].astype("Int64")
    for column in ("market_cap", "adv"):
        meta[column] = meta[column].astype(float)
    for column in ("hard_to_borrow", "restricted", "defensive"):
        meta[column] = meta[column].astype(bool)
    meta.index.name = "asset"
    return meta


def _tier_of(asset: str, info: AssetInfo, tiers: dict[int, LiquidityTier], where) -> int | None:
    """The asset's tier: stated, derived from the thresholds, or None."""
    stated = info.liquidity_tier
    if tiers and stated is not None and stated not in tiers:
        raise ConfigError(
            f"universe {where}: asset {asset!r}, key 'liquidity_tier': tier {stated} is not defined; "
            f"liquidity_tiers defines {', '.join(map(str, tiers))}"
        )
    known = {key: getattr(info, key) for key in THRESHOLDS.values() if getattr(info, key) is not None}
    if not tiers or not known:
        return stated
    derived = next((k for k, tier in tiers.items() if _meets(info, tier)), None)
    if stated is not None and derived != stated:
        numbers = ", ".join(f"{k} {v:g}" for k, v in known.items())
        placed = f"tier {derived}" if derived is not None else "no tier"
        raise ConfigError(
            f"universe {where}: asset {asset!r}, key 'liquidity_tier': says {stated}, but its {numbers} "
            f"place it in {placed} under liquidity_tiers"
        )
    return derived


def _meets(info: AssetInfo, tier: LiquidityTier) -> bool:
    for minimum, quantity in THRESHOLDS.items():
        floor, value = getattr(tier, minimum), getattr(info, quantity)
        if floor is not None and (value is None or value < floor):
            return False
    return True


def _check_sectors(spec: UniverseFile, where) -> tuple[str, ...]:
    if spec.sectors is None:
        return GICS_SECTORS
    if not spec.sectors:
        raise ConfigError(f"universe {where}: key 'sectors' is an empty list; list the sector names or leave it out")
    seen = set()
    for name in spec.sectors:
        if name in seen:
            raise ConfigError(f"universe {where}: key 'sectors' lists {name!r} twice")
        seen.add(name)
    return tuple(spec.sectors)


def _check_tiers(tiers: dict[int, LiquidityTier], where) -> dict[int, LiquidityTier]:
    """Tiers in order, 1 the most liquid; a less liquid tier may not ask for more."""
    ordered = dict(sorted(tiers.items()))
    previous: tuple[int, LiquidityTier] | None = None
    for number, tier in ordered.items():
        if previous is not None:
            for minimum in THRESHOLDS:
                above, here = getattr(previous[1], minimum), getattr(tier, minimum)
                if here is not None and (above is None or here > above):
                    raise ConfigError(
                        f"universe {where}: key 'liquidity_tiers.{number}.{minimum}': {here:g} asks more than "
                        f"tier {previous[0]} ({'no minimum' if above is None else f'{above:g}'}); tiers are "
                        "numbered from the most liquid, so minimums must not increase with the tier number"
                    )
        previous = (number, tier)
    return ordered


def _unknown_sector(where, asset: str, sector: str, sectors: tuple[str, ...], default: bool) -> str:
    hint = difflib.get_close_matches(sector, sectors, n=1)
    near = f" Did you mean {hint[0]!r}?" if hint else ""
    source = "the GICS sectors (list others under 'sectors:')" if default else "the file's 'sectors' list"
    return (f"universe {where}: asset {asset!r}, key 'sector': unknown sector {sector!r}.{near} "
            f"Valid sectors, from {source}: {', '.join(sectors)}")


def _describe(item: dict, where) -> str:
    loc = validation.location(item)
    problem = validation.problem(item, _valid_keys(loc) if item["type"] == "extra_forbidden" else ())
    if len(loc) == 2 and loc[0] == "assets":
        return (f"universe {where}: asset {loc[1]!r}: expected a mapping of its keys "
                f"({', '.join(AssetInfo.model_fields)}) or nothing; got {item.get('input')!r}")
    if len(loc) >= 3 and loc[0] == "assets" and loc[2] == "instrument" and (len(loc) > 3 or "union" in item["type"]):
        return _describe_instrument(item, loc, where)
    if len(loc) >= 2 and loc[0] == "assets":
        return f"universe {where}: asset {loc[1]!r}, key {'.'.join(loc[2:])!r}: {problem}"
    return f"universe {where}: key {'.'.join(loc)!r}: {problem}"


def _describe_instrument(item: dict, loc: list[str], where) -> str:
    """An error inside an asset's ``instrument:`` mapping, with the kind's tag dropped from the key."""
    asset, kind, rest = loc[1], (loc[3:4] or [""])[0], loc[4:]
    if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
        given = (item.get("input") or {}).get("kind") if isinstance(item.get("input"), dict) else None
        what = "no 'kind'" if given is None else f"unknown kind {given!r}"
        near = difflib.get_close_matches(str(given), list(KINDS), n=1) if given is not None else []
        hint = f" Did you mean {near[0]!r}?" if near else ""
        return f"universe {where}: asset {asset!r}, key 'instrument.kind': {what}.{hint} Valid kinds: {', '.join(KINDS)}"
    key = ".".join(["instrument", *rest]) if rest else "instrument"
    valid = fields_of(kind) if item["type"] == "extra_forbidden" else ()
    return f"universe {where}: asset {asset!r} ({kind}), key {key!r}: {validation.problem(item, valid)}"


def _valid_keys(loc: list[str]) -> list[str]:
    if len(loc) == 3 and loc[0] == "assets":
        return list(AssetInfo.model_fields)
    if len(loc) == 3 and loc[0] == "liquidity_tiers":
        return list(LiquidityTier.model_fields)
    if len(loc) == 1:
        return list(UniverseFile.model_fields)
    return []


def _find(path: Path, base: Path | None) -> Path:
    candidates = [path] if path.is_absolute() else [path] + ([base / path] if base else [])
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"universe: file not found: {path}")


def asset_flags(meta: pd.DataFrame | None, column: str, assets) -> np.ndarray:
    """(N,) bool over ``assets``: the universe sets the flag ``column`` (``restricted``,
    ``hard_to_borrow``, ``defensive``); False where there is no metadata or no such column."""
    assets = list(assets)
    if meta is None or column not in meta.columns:
        return np.zeros(len(assets), dtype=bool)
    return meta[column].reindex(assets).fillna(False).to_numpy(dtype=bool)
