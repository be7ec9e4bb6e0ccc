"""Model initialization time of the verified pods, from their own timestamps (pure, no I/O).

No vLLM metric reports start-up time, so it is read from the pod: creation (``metadata.creationTimestamp``) and
scheduling (the ``PodScheduled`` condition) to Ready (the ``Ready`` condition turning True). The timestamps have
one-second resolution. A pod that became Ready, lost readiness and regained it counts until its latest Ready
transition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["InitializationTimes", "PodInitialization", "initialization_times", "initialization_warning",
           "pod_initialization"]


@dataclass(frozen=True)
class PodInitialization:
    """One Ready pod: seconds from creation and from scheduling to Ready (None when a timestamp is missing)."""

    pod: str
    from_created_seconds: float | None
    from_scheduled_seconds: float | None

    def as_output(self) -> dict[str, Any]:
        return {"pod": self.pod, "from_created_seconds": self.from_created_seconds,
                "from_scheduled_seconds": self.from_scheduled_seconds}


@dataclass(frozen=True)
class InitializationTimes:
    """Every measured pod and the maxima (the slowest pod is what a budget has to cover)."""

    pods: tuple[PodInitialization, ...]

    @property
    def max_seconds(self) -> float | None:
        return _max(p.from_created_seconds for p in self.pods)

    @property
    def max_from_scheduled_seconds(self) -> float | None:
        return _max(p.from_scheduled_seconds for p in self.pods)

    def as_output(self) -> dict[str, Any]:
        return {"max_seconds": self.max_seconds, "max_from_scheduled_seconds": self.max_from_scheduled_seconds,
                "pods": [p.as_output() for p in self.pods]}


def _max(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _condition_time(pod: Mapping[str, Any], kind: str) -> dt.datetime | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return _timestamp(condition.get("lastTransitionTime"))
    return None


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def pod_initialization(pod: Mapping[str, Any]) -> PodInitialization | None:
    """The pod's times to Ready; None when the pod is not Ready (it has not finished initializing)."""
    ready = _condition_time(pod, "Ready")
    if ready is None:
        return None
    metadata = pod.get("metadata") or {}
    return PodInitialization(
        pod=str(metadata.get("name", "")),
        from_created_seconds=_seconds(_timestamp(metadata.get("creationTimestamp")), ready),
        from_scheduled_seconds=_seconds(_condition_time(pod, "PodScheduled"), ready),
    )


def initialization_times(pods: Iterable[Mapping[str, Any]], names: Iterable[str] | None = None) -> InitializationTimes:
    """Times of the Ready pods among ``pods`` (API JSON), restricted to ``names`` when given."""
    wanted = set(names) if names is not None else None
    measured = []
    for pod in pods:
        if wanted is not None and (pod.get("metadata") or {}).get("name") not in wanted:
            continue
        times = pod_initialization(pod)
        if times is not None:
            measured.append(times)
    return InitializationTimes(tuple(sorted(measured, key=lambda p: p.pod)))


def initialization_warning(max_seconds: float | None, budget_seconds: float, ratio: float) -> str | None:
    """A warning when the slowest pod used more than ``ratio`` of the startup budget, else None."""
    if max_seconds is None or budget_seconds <= 0 or max_seconds <= ratio * budget_seconds:
        return None
    return (
        f"model initialization took {max_seconds:.0f}s, {max_seconds / budget_seconds:.0%} of the "
        f"{budget_seconds:.0f}s startup budget (warning above {ratio:.0%}): a slower start (cold cache, slower "
        f"node or registry) would exceed it and the startup probe would restart the pod; raise "
        f"model.startupBudgetSeconds or use storage.persistentCache"
    )
