"""The verified rollout, pure: which new pods await the verification, when the rollout is done, the gate patch.

In the verified rollout (presets.ROLLOUT_VERIFIED) the chart gives every pod a readiness gate, the condition
type ``verified_condition`` (e.g. ``vllm.deploy/verified``). A pod is Ready -- in the Service's endpoints, and
counted by the Deployment's rolling update -- only once its containers are ready AND that condition is True.
The verification checks each new pod itself and sets the condition through the ``pods/status`` subresource,
so traffic and the rollout advance only for pods that passed. The functions here read the API's JSON
(camelCase dicts) and never do I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .pods import (
    FATAL,
    NO_DEPLOYMENT,
    READY,
    WAITING,
    Assessment,
    RolloutSnapshot,
    assess,
    assess_pod,
    current_revision_pods,
)

__all__ = [
    "GatedAssessment",
    "assess_verified_rollout",
    "containers_ready",
    "gate_condition_patch",
    "gate_status",
    "old_revision_pods",
]

PASSED_REASON = "VerificationPassed"
FAILED_REASON = "VerificationFailed"


@dataclass(frozen=True)
class GatedAssessment(Assessment):
    """``assess``'s view plus the verified rollout's: ``state`` READY means there is something to act on --
    pods to verify now (``to_verify``) or, with none left, a finished rollout (``complete``)."""

    to_verify: tuple[str, ...] = ()
    complete: bool = False
    old_serving: int = 0
    """Pods of earlier revisions that are Ready: they keep serving while the new revision is checked."""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _condition(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def gate_status(pod: Mapping[str, Any], condition_type: str) -> str:
    """The readiness-gate condition's status: "True", "False", or "absent"."""
    condition = _condition(pod, condition_type)
    return str(condition.get("status")) if condition else "absent"


def containers_ready(pod: Mapping[str, Any]) -> bool:
    """Whether the pod's containers are ready (its readiness probe passes), whatever its readiness gates say."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or _meta(pod).get("deletionTimestamp"):
        return False
    condition = _condition(pod, "ContainersReady")
    if condition is not None:
        return condition.get("status") == "True"
    statuses = status.get("containerStatuses") or []
    return bool(statuses) and all(s.get("ready") is True for s in statuses)


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    condition = _condition(pod, "Ready")
    return bool(condition and condition.get("status") == "True") and not _meta(pod).get("deletionTimestamp")


def old_revision_pods(snapshot: RolloutSnapshot, current: Collection[str]) -> list[Mapping[str, Any]]:
    """The release's pods that are not of the current revision and have not finished (terminating ones count)."""
    finished = ("Succeeded", "Failed")
    return sorted(
        (p for p in snapshot.pods
         if _meta(p).get("name") not in current and (p.get("status") or {}).get("phase") not in finished),
        key=lambda p: _meta(p).get("name", ""),
    )


def assess_verified_rollout(
    snapshot: RolloutSnapshot, condition_type: str, checked: Collection[str] = ()
) -> GatedAssessment:
    """The verified rollout at one moment.

    - fatal: a new pod (or the Deployment) carries a failure signal, as ``assess`` finds it;
    - ready with ``to_verify``: new pods whose containers are ready and that this run has not checked yet;
    - ready with ``complete``: every desired new pod checked and Ready (gate True), no old pod left;
    - waiting otherwise (pods loading, the controller catching up, old pods draining).
    ``checked`` names the pods this run has already verified.
    """
    base = assess(snapshot)
    desired, pods, note = current_revision_pods(snapshot)
    serving = sum(1 for p in old_revision_pods(snapshot, {_meta(p).get("name") for p in pods}) if _pod_ready(p))
    if base.state == FATAL and base.signal == "Unschedulable":
        # A surge pod waits for the GPUs of the old pod it replaces while that one drains (preStop, in-flight
        # requests): not a failure as long as an old pod is terminating.
        draining = [p for p in old_revision_pods(snapshot, {_meta(p).get("name") for p in pods})
                    if _meta(p).get("deletionTimestamp")]
        if draining:
            names = ", ".join(_meta(p).get("name", "?") for p in draining)
            return _gated(base, WAITING, message=f"{base.message} (waiting for the GPUs of terminating old pod(s) "
                                                 f"{names})", old_serving=serving)
    if base.state == FATAL:
        return _gated(base, base.state, old_serving=serving)
    if note:
        return _gated(base, WAITING, message=note if note != NO_DEPLOYMENT else base.message)
    verdicts = {v.name: v for v in (assess_pod(p) for p in pods)}
    live = [p for p in pods if not _meta(p).get("deletionTimestamp")]
    to_verify = tuple(_meta(p)["name"] for p in live if containers_ready(p) and _meta(p).get("name") not in checked)
    if to_verify:
        return _gated(base, READY, message=f"{len(to_verify)} new pod(s) ready to verify: {', '.join(to_verify)}",
                      to_verify=to_verify)
    names = {_meta(p).get("name") for p in pods}
    old = old_revision_pods(snapshot, names)
    ready_verified = [p for p in live if _pod_ready(p) and _meta(p).get("name") in checked]
    if len(ready_verified) >= desired and not old:
        return _gated(base, READY, message=f"rollout complete: {len(ready_verified)}/{desired} new pods verified and "
                                           f"Ready, no old pods left", complete=True)
    parts = [f"{len(ready_verified)}/{desired} new pods verified and Ready"]
    for pod in live:
        name = _meta(pod).get("name")
        if name in checked and not _pod_ready(pod):
            parts.append(f"{name}: verified, waiting for Ready ({condition_type} {gate_status(pod, condition_type)})")
        elif name not in checked:
            parts.append(verdicts[name].line)
    if len(live) < desired:
        parts.append(f"{len(live)}/{desired} new pods created")
    if old:
        parts.append(f"{len(old)} old pod(s) still running: " + ", ".join(
            f"{_meta(p).get('name')}{' (terminating)' if _meta(p).get('deletionTimestamp') else ''}" for p in old))
    return _gated(base, WAITING, message="; ".join(parts))


def _gated(base: Assessment, state: str, *, message: str | None = None, to_verify: tuple[str, ...] = (),
           complete: bool = False, old_serving: int = 0) -> GatedAssessment:
    return GatedAssessment(
        state=state,
        desired=base.desired,
        pods=base.pods,
        message=base.message if message is None else message,
        problem_pods=base.problem_pods,
        signal=base.signal if state != READY else None,
        to_verify=to_verify,
        complete=complete,
        old_serving=old_serving,
    )


def gate_condition_patch(condition_type: str, passed: bool, message: str, now: str) -> dict[str, Any]:
    """The strategic-merge patch of ``pods/status`` that sets the readiness-gate condition (merged by type)."""
    return {
        "status": {
            "conditions": [
                {
                    "type": condition_type,
                    "status": "True" if passed else "False",
                    "reason": PASSED_REASON if passed else FAILED_REASON,
                    "message": message[:1000],
                    "lastTransitionTime": now,
                }
            ]
        }
    }
