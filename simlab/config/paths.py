"""File paths inside an experiment: resolved against the config file, hashed by content.

A config names files in four places: ``universe``, ``data.source``, ``data.benchmark`` and
the values of ``data.macro`` (sources ``csv:PATH``, ``parquet:PATH``, ...). A relative path resolves against the folder
of the config file (the working directory for a config given as a dict), and the resolved
config records it absolute: the run folder's ``config.yaml`` replays from any folder, and
a Dask worker elsewhere finds the same files. Paths inside a ``sweep:`` block stay as
written (they label the variants) and resolve the same way when a variant is built.

The files' contents are part of the experiment: the SHA-256 of the universe file and of
every data file is recorded under ``file_sha256``, so a changed file gives another config
hash (another run folder), and a saved config refuses to replay against a file that has
changed since.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

from simlab.errors import ConfigError

NOT_FILES = ("builtin", "synthetic", "memory")
"""Source prefixes whose rest is not a file path; every other loader's (``csv``, ``parquet``,
``long``, a registered one's) is."""


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def absolute(path: str, base: Path) -> str:
    """``path`` made absolute against ``base`` (``~`` expanded), as a string."""
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def resolve_source(source: Any, base: Path) -> Any:
    """A data source string with its file path made absolute (other sources unchanged)."""
    if not isinstance(source, str):
        return source
    prefix, sep, rest = source.partition(":")
    if sep and rest and prefix not in NOT_FILES and "://" not in source:
        return f"{prefix}:{absolute(rest, base)}"
    return source


def resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of a raw experiment with every file path absolute against ``base``."""
    out = copy.deepcopy(raw)
    data = out.get("data")
    if isinstance(data, dict):
        for key in ("source", "benchmark"):
            if key in data:
                data[key] = resolve_source(data[key], base)
        if isinstance(data.get("macro"), dict):
            data["macro"] = {k: resolve_source(v, base) for k, v in data["macro"].items()}
    if isinstance(out.get("universe"), str):
        out["universe"] = absolute(out["universe"], base)
    return out


def source_file(source: str | None) -> str | None:
    """The file a data source string reads, or None (``builtin:``, ``synthetic``, ``memory:``)."""
    if not isinstance(source, str):
        return None
    prefix, sep, rest = source.partition(":")
    return rest if sep and rest and prefix not in NOT_FILES and "://" not in source else None


def file_hashes(universe: str | None, sources: list[str | None]) -> dict[str, str]:
    """SHA-256 of each file an experiment reads: its universe and its data files.

    A data file that does not exist is left out (loading the data names it); a missing
    universe file raises :class:`ConfigError`.
    """
    out = {}
    if universe is not None:
        if not Path(universe).is_file():
            raise ConfigError(f"universe: file not found: {universe} (a relative path resolves against "
                              "the folder of the config file)")
        out[universe] = file_sha256(universe)
    for source in sources:
        path = source_file(source)
        if path is not None and Path(path).is_file():
            out[path] = file_sha256(path)
    return out


def by_content(resolved: dict[str, Any]) -> dict[str, Any]:
    """A resolved config (plain data) with each hashed file named by its content.

    ``universe`` and the file sources under ``data`` become ``sha256:<hex>`` (a source keeps
    its prefix: ``csv:sha256:<hex>``) where ``file_sha256`` holds the file, and
    ``file_sha256`` itself is dropped: what identifies a run is what the files hold, not
    where they lie.
    """
    hashes = resolved.get("file_sha256") or {}
    out = copy.deepcopy(resolved)
    out.pop("file_sha256", None)

    def named(source: Any) -> Any:
        path = source_file(source)
        return f"{source.partition(':')[0]}:sha256:{hashes[path]}" if path in hashes else source

    if out.get("universe") in hashes:
        out["universe"] = f"sha256:{hashes[out['universe']]}"
    data = out.get("data")
    if isinstance(data, dict):
        for key in ("source", "benchmark"):
            if key in data:
                data[key] = named(data[key])
        if isinstance(data.get("macro"), dict):
            data["macro"] = {k: named(v) for k, v in data["macro"].items()}
    return out
