"""The caveats of a run, in words: what a reader must keep in mind when reading its numbers.

The data's own (survivorship and the like, from its provenance), strategies that are
proxies for a quantity the data does not hold, the days a regime input fell back on its
proxy, and the fallbacks the Steps took (diagnostics of roles ``proxy`` and ``fallback``).
"""

from __future__ import annotations

from simlab.analysis.health import run_health
from simlab.analysis.run_series import role_diagnostics, step_name
from simlab.config.registry import registry
from simlab.contract.roles import Role

__all__ = ["caveats"]


def caveats(result) -> list[str]:
    """Caveats of a run, in words: the data's own (survivorship...), proxy strategies, VIX
    proxy days, fallbacks the Steps took."""
    out = [f"Data: {c}" for c in result.market.provenance.get("caveats", [])]
    health = [f"Health: {p}" for p in run_health(result).problems()]
    return out + health + _proxy_strategies(result) + _proxy_days(result) + _fallbacks(result)


def _proxy_strategies(result) -> list[str]:
    table = registry("strategy")
    users: dict[str, list[str]] = {}
    for scenario in result.config.scenarios:
        strategies = [scenario.strategy, *(s["strategy"] for s in scenario.sleeves or ())]  # a sleeve's too
        for kind in dict.fromkeys((s or {}).get("type") for s in strategies):
            if kind in table and getattr(table[kind], "proxy", False):
                users.setdefault(kind, []).append(scenario.name)
    return [f"Proxy strategy: {kind} ({_who(names, result)}) stands in for a quantity the data does not hold "
            f"(see {table[kind].__module__}.{table[kind].__qualname__}); read its results as those of the proxy."
            for kind, names in users.items()]


def _proxy_days(result) -> list[str]:
    rows = role_diagnostics(result, Role.PROXY)
    out = []
    for (step, key), part in rows.groupby(["step", "key"], sort=False):
        used = part[part["value"] > 0]
        if used.empty:
            continue
        per = used.groupby("scenario").size().reindex(part["scenario"].unique(), fill_value=0)
        decisions = part.groupby("scenario")["date"].nunique().max()
        count = str(per.iloc[0]) if per.min() == per.max() else f"{per.min()} to {per.max()}"
        out.append(f"VIX proxy: {step_name(step)} ({key}) used the realized-volatility proxy in place of the "
                   f"VIX on {count} of {decisions} decision days, between {used['date'].min().date()} "
                   f"and {used['date'].max().date()}.")
    return out


def _fallbacks(result) -> list[str]:
    rows = role_diagnostics(result, Role.FALLBACK)
    out = []
    for (step, key), part in rows.groupby(["step", "key"], sort=False):
        used = part[part["value"] > 0]
        if not used.empty:
            out.append(f"Fallback: {step_name(step)} reported {key} on {used['date'].nunique()} decision days "
                       f"({_who(list(used['scenario'].unique()), result)}).")
    return out


def _who(names: list[str], result) -> str:
    if len(names) == len(result.scenarios):
        return "every scenario" if len(names) > 1 else "the scenario"
    return ", ".join(map(str, names))
