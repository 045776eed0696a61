"""Universe files: which assets an experiment trades, and what is known about them.

```yaml
name: sp500_20
assets:
  AAPL: {sector: Information Technology}
  JPM: {sector: Financials, liquidity_tier: 1}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
import pydantic
from pydantic import Field

from simlab.config.schema import StrictModel
from simlab.errors import ConfigError


class AssetInfo(StrictModel):
    """What a universe file may say about one asset."""

    sector: str | None = None
    liquidity_tier: Annotated[int, Field(ge=1)] | None = None
    adv: Annotated[float, Field(gt=0)] | None = None
    hard_to_borrow: bool = False
    restricted: bool = False
    defensive: bool = False


class UniverseFile(StrictModel):
    """A universe file's top level."""

    name: str = "universe"
    description: str = ""
    assets: dict[str, AssetInfo | None]


@dataclass(frozen=True)
class Universe:
    """Asset names in trading order and their metadata (indexed by asset)."""

    name: str
    assets: tuple[str, ...]
    meta: pd.DataFrame


def load_universe(path: str | Path, base: Path | None = None) -> Universe:
    """Read a universe YAML; a relative path is tried as given, then beside ``base``."""
    from simlab.config.loader import read_yaml

    found = _find(Path(path), base)
    try:
        spec = UniverseFile.model_validate(read_yaml(found))
    except pydantic.ValidationError as err:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"universe {found}: {where}") from None
    if not spec.assets:
        raise ConfigError(f"universe {found}: 'assets' is empty")
    rows = {a: (info or AssetInfo()).model_dump() for a, info in spec.assets.items()}
    meta = pd.DataFrame.from_dict(rows, orient="index")
    meta.index.name = "asset"
    return Universe(name=spec.name, assets=tuple(spec.assets), meta=meta)


def _find(path: Path, base: Path | None) -> Path:
    candidates = [path] if path.is_absolute() else [path] + ([base / path] if base else [])
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"universe: file not found: {path}")
