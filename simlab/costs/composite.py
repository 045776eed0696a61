"""A cost model that sums several: spread, impact and borrow fees in one ``costs:`` entry.

```yaml
costs:
  type: composite
  models:
    - {type: spread, half_spread_bps: 3}
    - {type: sqrt_impact, eta: 0.1}
```

Each entry of ``models`` is validated through the cost registry like a top-level
``costs:`` entry, and an error names its path (``costs.models[1].eta``). The resolved
config lists every sub-model with its defaults filled. The sum keeps the sub-models'
properties: it is zero for no trade, monotone in size, and satisfies
``cost(s * x) <= s * cost(x)`` when every part does.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pydantic
from pydantic import Field
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from simlab.config import registry
from simlab.costs.base import CostModel

_ADAPTERS: dict[type, pydantic.TypeAdapter] = {}


@registry.register("cost", "composite")
@dataclass(frozen=True)
class CompositeCost(CostModel):
    """The sum of the cost models listed in ``models`` (see the module docstring).

    ``requires`` is the union of the parts'; the model is linear (``linear_rate``) when
    every part is, and accrues holding costs (``accrual``) when any part does.
    """

    models: Annotated[list[Any], Field(min_length=1)]

    def __post_init__(self):
        resolved, errors = [], []
        for i, entry in enumerate(self.models):
            problems = _entry_errors(entry, f"models[{i}]")
            errors.extend(problems)
            if not problems:
                resolved.append(registry.resolve("cost", entry, f"costs.models[{i}]"))
        if errors:
            raise ValidationError.from_exception_data("composite", errors)
        object.__setattr__(self, "models", resolved)
        object.__setattr__(self, "parts", tuple(registry.build("cost", e) for e in resolved))

    @property
    def requires(self) -> frozenset[str]:
        """What any part reads from the CostContext."""
        return frozenset().union(*(p.requires for p in self.parts))

    @property
    def accrues(self) -> bool:
        """Whether any part charges a daily holding cost."""
        return any(getattr(p, "accrues", False) for p in self.parts)

    def __call__(self, value, shares, price, ctx=None):
        total = np.zeros(value.shape)
        for part in self.parts:
            total = total + part(value, shares, price, ctx)
        return total

    def linear_rate(self, n_scenarios):
        rates = [p.linear_rate(n_scenarios) for p in self.parts]
        if any(r is None for r in rates):
            return None
        return np.sum(rates, axis=0)

    def daily_rate(self, n_scenarios, meta, n_assets, periods_per_year=252.0):
        """(B, N) daily holding cost per unit of short value: the sum of the accruing parts' rates."""
        total = np.zeros((n_scenarios, n_assets))
        for part in self.parts:
            if getattr(part, "accrues", False):
                total = total + part.daily_rate(n_scenarios, meta, n_assets, periods_per_year=periods_per_year)
        return total

    def accrual(self, holdings, price, meta=None):
        """(B, N) daily holding cost: the sum of the parts' accruals."""
        total = np.zeros(holdings.shape)
        for part in self.parts:
            if getattr(part, "accrues", False):
                total = total + part.accrual(holdings, price, meta)
        return total


def _entry_errors(entry: Any, where: str) -> list[InitErrorDetails]:
    """Validation errors of one sub-entry, located at ``where`` (``models[1]``) and below."""
    table = registry.registry("cost")
    choices = ", ".join(sorted(table))
    if not isinstance(entry, dict) or "type" not in entry:
        return [_error(where, "expected a mapping with a 'type' key; valid costs: " + choices, entry)]
    cls = table.get(entry["type"])
    if cls is None:
        hint = difflib.get_close_matches(str(entry["type"]), sorted(table), n=1)
        near = f" Did you mean {hint[0]!r}?" if hint else ""
        return [_error(f"{where}.type", f"unknown cost {entry['type']!r}.{near} Valid costs: {choices}", entry["type"])]
    params = {k: v for k, v in entry.items() if k != "type"}
    valid = registry.fields_of(cls)
    unknown = [
        _error(f"{where}.{key}", f"unknown key for {cls.key!r}. Valid keys: {', '.join(valid) or '(none)'}", value)
        for key, value in params.items() if key not in valid
    ]
    if unknown:
        return unknown
    adapter = _ADAPTERS.setdefault(cls, pydantic.TypeAdapter(cls))
    try:
        adapter.validate_python(params)
    except ValidationError as err:
        return [
            InitErrorDetails(type=PydanticCustomError(item["type"], item["msg"].replace("{", "{{").replace("}", "}}")),
                             loc=(where, *item["loc"]), input=item.get("input"))
            for item in err.errors()
        ]
    return []


def _error(where: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("cost_entry", message.replace("{", "{{").replace("}", "}}")),
                            loc=(where,), input=value)
