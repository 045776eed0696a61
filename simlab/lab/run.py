"""``simlab.run``: load the config, load the data, simulate, return a Result."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from simlab.analysis.health import check_finite_nav
from simlab.config.loader import Config, load_config
from simlab.config.universe import load_universe
from simlab.data import load, load_series
from simlab.data.market import MarketData
from simlab.data.validate import validate_market
from simlab.engine.simulate import simulate
from simlab.errors import ConfigError
from simlab.lab.feasibility import check_feasible
from simlab.lab.result import Result


def run(config) -> Result:
    """Run an experiment given as a path, a dict, an Experiment or a Config.

    A NaN or infinite NAV raises :class:`~simlab.errors.RunHealthError` naming the first date
    and scenario; degenerate books are reported by :meth:`Result.health`.
    """
    cfg = load_config(config)
    md = load_market(cfg)
    check_feasible(cfg, md)
    inputs, book, recorder = simulate(cfg, md)
    result = Result(cfg, md, inputs, book, recorder)
    check_finite_nav(result.nav)
    return result


def load_market(cfg: Config) -> MarketData:
    """The experiment's data: source, universe, benchmark, cut at ``data.end``.

    Rows before ``data.start`` are kept so causal features can warm up on them.
    """
    spec = cfg.experiment.data
    md = load(spec.source, n_assets=spec.n_assets, n_days=spec.n_days, seed=spec.seed)
    if cfg.experiment.universe:
        md = _apply_universe(md, cfg)
    if spec.end is not None:
        md = md.slice(None, str(spec.end))
    if spec.benchmark and md.benchmark is None:
        md = md.with_benchmark(load_series(spec.benchmark))
    if spec.macro:
        md = _with_macro(md, spec.macro)
    return validate_market(md)


def _with_macro(md: MarketData, sources: dict[str, str]) -> MarketData:
    """The macro series on the data's calendar; one that covers only part of it (or none) is a
    caveat naming the span it covers: the other days are NaN, and a Step reading the series
    says what it did on them (the VIX regime's proxy days)."""
    columns, notes = {}, []
    for name, source in sources.items():
        series = load_series(source).reindex(md.dates)
        covered = md.dates[series.notna().to_numpy()]
        if not len(covered):
            notes.append(f"macro series {name!r} ({source}) has no value between {md.dates[0].date()} and "
                         f"{md.dates[-1].date()}: it does not overlap the data")
        elif len(covered) < len(md.dates):
            notes.append(f"macro series {name!r} ({source}) covers {covered[0].date()} .. {covered[-1].date()}, "
                         f"{len(covered)} of the data's {len(md.dates)} dates; the others are missing")
        columns[name] = series
    macro = pd.DataFrame(columns, index=md.dates)
    if md.macro is not None:
        macro = md.macro.join(macro, how="left", rsuffix="_cfg")
    provenance = {**md.provenance, "caveats": [*md.provenance.get("caveats", []), *notes]}
    return replace(md, macro=macro, provenance=provenance)


def _apply_universe(md: MarketData, cfg: Config) -> MarketData:
    base = cfg.path.parent if cfg.path else None
    universe = load_universe(cfg.experiment.universe, base=base or Path.cwd())
    missing = [a for a in universe.assets if a not in md.assets]
    if missing:
        raise ConfigError(
            f"universe {cfg.experiment.universe}: asset(s) {', '.join(missing)} not in the data "
            f"{cfg.experiment.data.source} (it has {', '.join(map(str, md.assets[:25]))}"
            f"{', ...' if len(md.assets) > 25 else ''})"
        )
    selected = md.select(universe.assets)
    meta = universe.meta if md.meta is None else universe.meta.combine_first(md.meta.reindex(universe.assets))
    return replace(selected, meta=meta)
