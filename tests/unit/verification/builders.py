"""Kubernetes JSON (camelCase dicts) for the pod tests."""

from __future__ import annotations

from typing import Any

RELEASE = "llama-7b-development"


def deployment(
    replicas: int = 1, generation: int = 2, observed: int = 2, conditions: list | None = None, uid: str = "dep-1"
) -> dict:
    return {
        "metadata": {
            "name": RELEASE,
            "uid": uid,
            "generation": generation,
            "labels": {"app.kubernetes.io/instance": RELEASE},
        },
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": observed, "conditions": conditions or []},
    }


def replicaset(revision: int, uid: str | None = None, owner: str = "dep-1") -> dict:
    return {
        "metadata": {
            "name": f"{RELEASE}-rs{revision}",
            "uid": uid or f"rs-{revision}",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"kind": "Deployment", "uid": owner}],
        }
    }


def container(
    name: str = "vllm", state: dict | None = None, last: dict | None = None, restarts: int = 0, ready: bool = False
) -> dict:
    return {"name": name, "state": state or {}, "lastState": last or {}, "restartCount": restarts, "ready": ready}


def pod(
    name: str,
    owner: str = "rs-2",
    phase: str = "Running",
    ready: bool = True,
    containers: list | None = None,
    conditions: list | None = None,
    deleting: bool = False,
    **status: Any,
) -> dict:
    base_conditions = [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "True" if ready else "False"},
    ]
    meta: dict[str, Any] = {"name": name, "ownerReferences": [{"kind": "ReplicaSet", "uid": owner}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-28T12:00:00Z"
    if containers is None:
        running = container(state={"running": {"startedAt": "2026-11-28T11:00:00Z"}}, ready=ready)
        containers = [running] if phase == "Running" else []
    return {
        "metadata": meta,
        "spec": {"nodeName": "gpu-node-0", "containers": [{"name": "vllm"}]},
        "status": {
            "phase": phase,
            "conditions": conditions if conditions is not None else base_conditions,
            "containerStatuses": containers,
            **status,
        },
    }


def unschedulable_pod(name: str = "p-pending") -> dict:
    return pod(
        name,
        phase="Pending",
        ready=False,
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
            }
        ],
    )


def waiting_pod(name: str, reason: str, message: str = "", last: dict | None = None, restarts: int = 0) -> dict:
    return pod(
        name,
        phase="Pending" if reason != "CrashLoopBackOff" else "Running",
        ready=False,
        containers=[container(state={"waiting": {"reason": reason, "message": message}}, last=last, restarts=restarts)],
    )
