"""Production-only safety of the vLLM release: atomic Helm operations, GPU-safe rollouts, disruption budgets.

Keys absent from the release's values fall back to the chart defaults (rollout.mode recreate, replicaCount 1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .reading import as_bool, as_number, is_unknown, show
from .subjects import Release


def check_helm_atomic(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """atomic: true, or cleanupOnFail: true where this policy's config accepts it explicitly.

    The verified rollout is exempt: Helm must not wait there (the new pods become Ready only once the verification
    has passed on them), and a failed update leaves the previous revision serving, with nothing to roll back.
    """
    if not release.is_production:
        return
    mode = _rollout_mode(release)
    if is_unknown(mode) or mode == VERIFIED:
        return
    atomic, cleanup = release.prop("atomic"), release.prop("cleanupOnFail")
    if is_unknown(atomic) or as_bool(atomic) is True:
        return
    if config.get("acceptCleanupOnFail") and (is_unknown(cleanup) or as_bool(cleanup) is True):
        return
    yield (f"{release.label}: production Helm release is not atomic (atomic is {show(atomic)}); set atomic: true so "
           f"a failed install or upgrade rolls back to the last good revision, or set cleanupOnFail: true and accept "
           f"it explicitly with this policy's config {{\"acceptCleanupOnFail\": true}}.")


VERIFIED = "verified"  # the chart's rollout.mode of components/presets.ROLLOUT_VERIFIED (policies run without it)


def _rollout_mode(release: Release) -> Any:
    """The chart's rollout.mode; absent means the chart default, recreate."""
    return release.value("rollout", "mode", default="recreate")


def check_gpu_safe_rollout(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """The verified rollout (rollout.mode verified), unless this policy's config accepts downtime explicitly."""
    if not release.is_production:
        return
    mode = _rollout_mode(release)
    if is_unknown(mode) or mode == VERIFIED or config.get("acceptDowntime"):
        return
    yield (f"{release.label}: production rollout.mode is {show(mode)}: an update deletes the serving pods before the "
           f"new revision has loaded and passed the verification, so the model is down during every update and a "
           f"failed update leaves nothing serving. Set vllm-deploy:release.rollout: verified (an update then needs "
           f"GPUs for one extra pod), or accept the downtime explicitly with this policy's config "
           f"{{\"acceptDowntime\": true}}.")


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
