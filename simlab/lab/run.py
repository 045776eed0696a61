"""``simlab.run``: load the config, load the data, simulate, return a Result."""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd

from simlab.analysis.health import check_finite_nav
from simlab.config import registry
from simlab.config.loader import Config, load_config
from simlab.config.universe import load_universe
from simlab.data import from_frame, load, load_series
from simlab.data.instruments import apply_instruments
from simlab.data.market import MarketData
from simlab.data.validate import validate_market
from simlab.engine.simulate import simulate
from simlab.errors import ConfigError, SimlabWarning
from simlab.kernels import prefetch
from simlab.lab.feasibility import check_feasible
from simlab.lab.result import Result
from simlab.lab.store import data_hash

log = logging.getLogger(__name__)


def run(config, data: MarketData | pd.DataFrame | None = None, *, progress: bool = False) -> Result:
    """Run an experiment.

    Parameters
    ----------
    config : path, dict, Experiment or Config
        The experiment; a path's relative file paths resolve beside the file.
    data : MarketData or DataFrame, optional
        Your own market data instead of ``data.source``: a MarketData, or a table in any
        layout :func:`simlab.data.from_frame` reads (wide closes with a date index, long
        date/asset/close[/open/volume], OHLCV). The resolved config records it as
        ``memory:<first 16 hex of its content hash>``, so the run id covers it. Its
        benchmark is the frame's own (a MarketData's), else the one the config names.
    progress : bool
        Show a progress bar (tqdm: in a notebook, its widget) over the simulated days.

    Returns
    -------
    Result
    """
    cfg = load_config(config)
    start_compiling(cfg)
    if data is None:
        return _simulate(cfg, load_market(cfg), progress)
    md = data if isinstance(data, MarketData) else from_frame(data)
    md = validate_market(md, calendar=cfg.experiment.data.calendar)
    digest = data_hash(md)[:16]
    spec = cfg.experiment.data.model_copy(update={"source": f"memory:{digest}"})
    cfg = replace(cfg, experiment=cfg.experiment.model_copy(update={"data": spec}))
    md = replace(md, source=spec.source, provenance={**md.provenance, "source": spec.source})
    if md.benchmark is None and spec.benchmark:
        warnings.warn(f"data.benchmark: {spec.benchmark} from the config is the benchmark of the data passed "
                      "in; set data.benchmark to null for none, or name your own", SimlabWarning, stacklevel=2)
    return _simulate(cfg, load_market(cfg, md), progress)


def start_compiling(cfg: Config) -> list[str]:
    """Hand the kernel groups the config's Steps will compile (a Step class's
    ``compiled_kernels(entry)``) to a second process that compiles them into numba's cache
    while this one loads the data and computes the features (:mod:`simlab.kernels.prefetch`);
    returns the groups handed over."""
    groups = []
    for scenario in cfg.scenarios:
        for where, entry in scenario.steps():
            needs = getattr(registry.lookup("step", entry["type"], f"pipeline[{where}]"), "compiled_kernels", None)
            groups.extend(needs(entry) if needs else ())
    return prefetch.start(groups)


def _simulate(cfg: Config, md: MarketData, progress: bool = False) -> Result:
    """Check what the config asks of the data, simulate, and refuse a non-finite NAV (a
    :class:`~simlab.errors.RunHealthError` naming the first date and scenario); degenerate
    books (:meth:`Result.health`) are logged as warnings on the ``simlab.lab.run`` logger
    (printed on stderr unless logging is configured otherwise)."""
    check_feasible(cfg, md)
    if cfg.experiment.sleeves is not None:
        from simlab.engine.sleeves import simulate_sleeves

        simulate_run = simulate_sleeves
    else:
        def simulate_run(cfg, md, progress=None):
            return *simulate(cfg, md, progress=progress), None

    if not progress:
        inputs, book, recorder, sleeve_run = simulate_run(cfg, md)
    else:
        from tqdm.auto import tqdm

        with tqdm(desc=f"{cfg.name} ({len(cfg.scenarios)} scenarios)", unit="day", leave=False) as bar:
            def advance(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            inputs, book, recorder, sleeve_run = simulate_run(cfg, md, progress=advance)
    result = Result(cfg, md, inputs, book, recorder, sleeve_run)
    check_finite_nav(result.nav)
    for problem in result.health().problems():
        log.warning("run health: %s", problem)
    return result


def load_market(cfg: Config, md: MarketData | None = None) -> MarketData:
    """The experiment's data: source (or ``md``), universe, benchmark, cut at ``data.end``.

    Rows before ``data.start`` are kept so causal features can warm up on them.
    """
    spec = cfg.experiment.data
    if md is None:
        if spec.source is None:
            raise ConfigError("data.source: no data source; name one (builtin:NAME, csv:PATH, parquet:PATH, "
                              "synthetic) or pass data= to simlab.run")
        if spec.source.startswith("memory:"):
            raise ConfigError(f"data.source: {spec.source} was data passed in memory; pass the same data "
                              "again with simlab.run(config, data=...)")
        md = load(spec.source, n_assets=spec.n_assets, n_days=spec.n_days, seed=spec.seed, calendar=spec.calendar)
    if spec.end is not None:
        md = md.slice(None, str(spec.end))
    if cfg.experiment.universe:
        md = _apply_universe(md, cfg)
    if spec.benchmark and md.benchmark is None:
        md = md.with_benchmark(load_series(spec.benchmark, calendar=spec.calendar))
    if spec.macro:
        md = _with_macro(md, spec.macro)
    return validate_market(md, calendar=spec.calendar)


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
    if universe.instruments:
        md = apply_instruments(md, universe.instruments, f"universe {cfg.experiment.universe}",
                               cfg.experiment.data.calendar, cfg.experiment.execution.fractional)
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
