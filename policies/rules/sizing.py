"""The one table of model-size requirements, and how policy config overrides it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from .quantities import parse_quantity


@dataclass(frozen=True)
class SizeRequirements:
    """What a model size needs: a loading budget, and per pod at least this many GPUs and this much memory."""

    loading_budget_seconds: float
    min_gpus: int
    min_memory: str


MODEL_SIZES: Mapping[str, SizeRequirements] = {
    "small": SizeRequirements(loading_budget_seconds=1200, min_gpus=1, min_memory="16Gi"),
    "medium": SizeRequirements(loading_budget_seconds=2400, min_gpus=1, min_memory="48Gi"),
    "large": SizeRequirements(loading_budget_seconds=3600, min_gpus=2, min_memory="64Gi"),
}

PRODUCTION_BUDGET_FACTOR = 1.5
"""Production timeouts must cover the loading budget times this factor (cold caches, slower pulls)."""

# Policy-config keys (camelCase, as in the policy config files) -> SizeRequirements fields.
_CONFIG_FIELDS = {"loadingBudgetSeconds": "loading_budget_seconds", "minGpus": "min_gpus", "minMemory": "min_memory"}


def size_requirements(config: Mapping[str, Any] | None = None) -> dict[str, SizeRequirements]:
    """MODEL_SIZES with the policy config's "modelSizes" overrides applied (unknown sizes may be added)."""
    table = dict(MODEL_SIZES)
    overrides = (config or {}).get("modelSizes") or {}
    for size, fields in overrides.items():
        base = table.get(size, MODEL_SIZES["large"])
        changes = {_CONFIG_FIELDS[key]: value for key, value in fields.items() if key in _CONFIG_FIELDS}
        if "min_gpus" in changes:
            changes["min_gpus"] = int(changes["min_gpus"])
        if "loading_budget_seconds" in changes:
            changes["loading_budget_seconds"] = float(changes["loading_budget_seconds"])
        table[size] = replace(base, **changes)
    return table


def production_budget_factor(config: Mapping[str, Any] | None = None) -> float:
    return float((config or {}).get("productionBudgetFactor", PRODUCTION_BUDGET_FACTOR))


def required_budget_seconds(requirements: SizeRequirements, production: bool, factor: float) -> float:
    """The loading budget timeouts must cover: longer in production."""
    return requirements.loading_budget_seconds * (factor if production else 1.0)


def min_memory_bytes(requirements: SizeRequirements) -> Decimal:
    return parse_quantity(requirements.min_memory)


MODEL_SIZES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Per model size overrides of the built-in table (policies/rules/sizing.py).",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "loadingBudgetSeconds": {"type": "number", "minimum": 0},
            "minGpus": {"type": "integer", "minimum": 1},
            "minMemory": {"type": "string",
                          "pattern": r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"},
        },
        "additionalProperties": False,
    },
}

PRODUCTION_FACTOR_SCHEMA: dict[str, Any] = {
    "type": "number",
    "minimum": 1,
    "default": PRODUCTION_BUDGET_FACTOR,
    "description": "Production timeouts must be at least the loading budget times this factor.",
}
