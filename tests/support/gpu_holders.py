"""Pods that hold a node's GPUs (how the e2e tests fill the cluster), and their removal."""

from __future__ import annotations

from kubernetes import client

from components.presets import GPU_RESOURCE

HOLDER_IMAGE = "busybox:1.36"  # never pulled: kwok runs no container


def gpu_holder(name: str, node: str, gpus: int | str, image: str = HOLDER_IMAGE) -> dict:
    """A pod bound to ``node`` (no scheduler involved) that requests ``gpus`` of its GPUs."""
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node, "tolerations": [{"operator": "Exists"}],
                 "automountServiceAccountToken": False,
                 "containers": [{"name": "hold", "image": image,
                                 "resources": {"limits": {GPU_RESOURCE: str(gpus)},
                                               "requests": {GPU_RESOURCE: str(gpus)}}}]},
    }


def delete_pods(core: client.CoreV1Api, namespace: str, names: list[str]) -> None:
    """Delete the pods at once; one already gone is fine."""
    for name in names:
        try:
            core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
