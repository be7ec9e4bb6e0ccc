"""Production-only safety of the vLLM release: atomic Helm operations, GPU-safe rollouts, disruption budgets.

Keys absent from the release's values fall back to the chart defaults (strategy Recreate, replicaCount 1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .reading import as_bool, as_number, is_unknown, lookup, show
from .subjects import Release


def check_helm_atomic(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """atomic: true, or cleanupOnFail: true where this policy's config accepts it explicitly."""
    if not release.is_production:
        return
    atomic, cleanup = release.prop("atomic"), release.prop("cleanupOnFail")
    if is_unknown(atomic) or as_bool(atomic) is True:
        return
    if config.get("acceptCleanupOnFail") and (is_unknown(cleanup) or as_bool(cleanup) is True):
        return
    yield (f"{release.label}: production Helm release is not atomic (atomic is {show(atomic)}); set atomic: true so "
           f"a failed install or upgrade rolls back to the last good revision, or set cleanupOnFail: true and accept "
           f"it explicitly with this policy's config {{\"acceptCleanupOnFail\": true}}.")


def _is_zero(value: Any) -> bool:
    return as_number(value) == 0 or (isinstance(value, str) and value.strip() in ("0%", "0"))


def check_gpu_safe_rollout(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """strategy.type Recreate, or RollingUpdate with maxSurge 0 (a surge pod needs a spare GPU node)."""
    if not release.is_production:
        return
    strategy = release.value("strategy")
    if strategy is None or is_unknown(strategy):
        return
    kind = lookup(strategy, "type", default="Recreate")
    if is_unknown(kind) or kind == "Recreate":
        return
    if kind == "RollingUpdate":
        surge = lookup(strategy, "rollingUpdate", "maxSurge")
        if is_unknown(surge) or _is_zero(surge):
            return
        shown = show(surge) if surge is not None else "not set (Kubernetes defaults to 25%)"
        yield (f"{release.label}: production rollout is RollingUpdate with strategy.rollingUpdate.maxSurge {shown}; "
               f"a surge pod needs a spare GPU and the rollout stalls without one: set maxSurge: 0 "
               f"(with maxUnavailable: 1) or strategy.type: Recreate.")
        return
    yield (f"{release.label}: strategy.type is {show(kind)}; use Recreate or RollingUpdate with "
           f"rollingUpdate.maxSurge: 0 so an update never needs a spare GPU.")


def check_disruption_budget(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """A PodDisruptionBudget when production runs more than one replica."""
    if not release.is_production:
        return
    raw_replicas = release.value("replicaCount", default=1)
    enabled = release.value("podDisruptionBudget", "enabled")
    replicas = as_number(raw_replicas)
    if replicas is None or replicas <= 1 or is_unknown(enabled) or as_bool(enabled) is True:
        return
    yield (f"{release.label}: production runs replicaCount {show(raw_replicas)} without a PodDisruptionBudget "
           f"(podDisruptionBudget.enabled is {show(enabled)}); set podDisruptionBudget.enabled: true so node "
           f"drains keep serving replicas.")
