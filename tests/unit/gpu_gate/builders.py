"""Node and pod JSON (camelCase, as the API returns it) for the GPU gate's unit tests."""

from __future__ import annotations

from components.presets import GPU_RESOURCE as GPU

GPU_TAINT = {"key": GPU, "effect": "NoSchedule"}


def node(
    name: str,
    gpus: object = 2,
    *,
    labels: dict | None = None,
    taints: list | None = None,
    ready: str = "True",
    cordoned: bool = False,
) -> dict:
    """A node; ``gpus=None`` leaves the GPU resource out of allocatable (device plugin not registered)."""
    allocatable = {"cpu": "16", "memory": "64Gi", "pods": "110"}
    if gpus is not None:
        allocatable[GPU] = gpus
    spec: dict = {"taints": [GPU_TAINT] if taints is None else taints}
    if cordoned:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "labels": {"node-type": "gpu"} if labels is None else labels},
        "spec": spec,
        "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": ready}]},
    }


def cpu_node(name: str) -> dict:
    return node(name, None, labels={"node-type": "cpu"}, taints=[])


def container(gpus: object = None, *, limits_only: bool = False, restart_policy: str | None = None) -> dict:
    resources: dict = {"requests": {"cpu": "1"}}
    if gpus is not None:
        if limits_only:
            resources["limits"] = {GPU: gpus}
        else:
            resources["requests"][GPU] = gpus
            resources["limits"] = {GPU: gpus}
    result = {"name": "c", "image": "x", "resources": resources}
    if restart_policy:
        result["restartPolicy"] = restart_policy
    return result


def pod(
    name: str,
    node_name: str | None,
    gpus: object = 1,
    *,
    phase: str = "Running",
    namespace: str = "other",
    labels: dict | None = None,
    containers: list | None = None,
    init_containers: list | None = None,
    overhead: dict | None = None,
) -> dict:
    spec: dict = {"containers": containers if containers is not None else [container(gpus)]}
    if node_name:
        spec["nodeName"] = node_name
    if init_containers:
        spec["initContainers"] = init_containers
    if overhead:
        spec["overhead"] = overhead
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}", "labels": labels or {}},
        "spec": spec,
        "status": {"phase": phase},
    }


def release_pod(
    name: str, node_name: str, gpus: object = 1, *, release: str = "llama", namespace: str = "system"
) -> dict:
    return pod(name, node_name, gpus, namespace=namespace, labels={"app.kubernetes.io/instance": release})
