"""Temporary kwok GPU nodes, namespaces and GPU-holding pods for the gate's tests, with bounded waits only.

Each test gets nodes under its own label, so other work on the shared cluster (the standard gpu-node-*
nodes, other engineers' releases) neither disturbs the test nor is disturbed by it.
"""

from __future__ import annotations

import uuid

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from components.presets import GPU_RESOURCE as GPU

GPU_TAINT = {"key": GPU, "value": "present", "effect": "NoSchedule"}
TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
BOUNDED_SECONDS = 60


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_gpu_node(core: client.CoreV1Api, name: str, labels: dict, gpus: str | None = "2") -> None:
    """A kwok-managed node; ``gpus=None`` leaves the GPU resource out (device plugin not ready)."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    if gpus is not None:
        resources[GPU] = gpus
    core.create_node({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {**labels, "kubernetes.io/hostname": name, "type": "kwok"},
                     "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"taints": [GPU_TAINT]},
        "status": {"capacity": resources, "allocatable": resources},
    })
    core.patch_node_status(name, {"status": {"capacity": resources, "allocatable": resources}})


def wait_for_nodes_ready(core: client.CoreV1Api, names: list[str], timeout: int = BOUNDED_SECONDS) -> None:
    """Watch until every node in ``names`` reports Ready (kwok sets it); bounded."""
    pending = set(names)

    def ready(node: client.V1Node) -> bool:
        return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))

    for node in core.list_node().items:
        if node.metadata.name in pending and ready(node):
            pending.discard(node.metadata.name)
    if not pending:
        return
    stream = watch.Watch()
    for event in stream.stream(core.list_node, timeout_seconds=timeout):
        node = event["object"]
        if node.metadata.name in pending and ready(node):
            pending.discard(node.metadata.name)
        if not pending:
            stream.stop()
            return
    raise AssertionError(f"nodes not Ready within {timeout}s: {sorted(pending)}")


def delete_node(core: client.CoreV1Api, name: str) -> None:
    try:
        core.delete_node(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def create_namespace(core: client.CoreV1Api, name: str, timeout: int = BOUNDED_SECONDS) -> None:
    """A namespace whose default service account exists (pods are rejected until it does)."""
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    if any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items):
        return
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_service_account, name, timeout_seconds=timeout):
        if event["object"].metadata.name == "default":
            stream.stop()
            return
    raise AssertionError(f"no default service account in {name} within {timeout}s")


def delete_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def hold_gpus(core: client.CoreV1Api, namespace: str, node: str, gpus: int, *, name: str | None = None,
              labels: dict | None = None) -> str:
    """A pod bound to ``node`` requesting ``gpus`` GPUs; returns its name."""
    name = name or unique("hold")
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "gpu-gate-test"}},
        "spec": {
            "nodeName": node,
            "tolerations": [TOLERATION],
            "automountServiceAccountToken": False,
            "containers": [{
                "name": "hold",
                "image": "registry.invalid/gpu-hold:1",
                "resources": {"requests": {GPU: str(gpus)}, "limits": {GPU: str(gpus)}},
            }],
        },
    })
    return name


def release_gpus(core: client.CoreV1Api, namespace: str, pod: str) -> None:
    """Delete the pod at once (grace period 0), as a finished job or scaled-down workload would free GPUs."""
    core.delete_namespaced_pod(pod, namespace, grace_period_seconds=0)
