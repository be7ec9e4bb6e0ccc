"""Kubernetes and kwok objects the local cluster creates (pure functions returning dicts)."""

from __future__ import annotations

from .layout import CPU_NODES, GPU_NODES, GPUS_PER_NODE, HOST, ROUTE_PROBE_PORT, SIM_CONTAINER_PORT

GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
KWOK_API = "kwok.x-k8s.io/v1alpha1"


def node_manifest(name: str, gpu: bool) -> dict:
    """A kwok-managed node: GPU nodes have GPUS_PER_NODE nvidia.com/gpu, label node-type=gpu and the GPU taint."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", GPU_RESOURCE: str(GPUS_PER_NODE)} if gpu else \
        {"cpu": "16", "memory": "64Gi", "pods": "110"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "node-type": "gpu" if gpu else "cpu", "type": "kwok",
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"taints": [dict(GPU_TAINT)]} if gpu else {},
        "status": {"capacity": resources, "allocatable": resources},
    }


def cluster_objects() -> list[dict]:
    """The nodes (GPU and CPU) and namespaces ``up`` creates."""
    items = [node_manifest(n, True) for n in GPU_NODES] + [node_manifest(n, False) for n in CPU_NODES]
    items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "system"}})
    return items


def as_list(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "List", "items": items}


def check_pod(name: str, namespace: str) -> dict:
    """The pod ``tools/cluster check`` port-forwards to: shaped like a vLLM pod on a GPU node."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "vllm"}},
        "spec": {
            "nodeSelector": {"node-type": "gpu"},
            "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "vllm", "image": "vllm/vllm-openai:latest",
                            "ports": [{"containerPort": SIM_CONTAINER_PORT}],
                            "resources": {"limits": {GPU_RESOURCE: "1"}}}],
        },
    }


def owned_by(pod: dict) -> list[dict]:
    """An owner reference to ``pod``, so the garbage collector removes what we made for it with it."""
    meta = pod["metadata"]
    return [{"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}]


def route_token(pod: dict, target_port: int) -> str:
    """What a port-forward to the pod's ROUTE_PROBE_PORT answers once kwok has this pod's PortForward to
    ``target_port`` (the pod's uid tells it from a pod of the same name; the port from an earlier version)."""
    return f"{pod['metadata']['uid']} {target_port}"


def pod_port_forward(pod: dict, ports: list[int], target_port: int) -> dict:
    """A kwok PortForward (namespaced, named after the pod): ``ports`` of this pod reach 127.0.0.1:target_port,
    and ROUTE_PROBE_PORT answers with route_token (kwok runs the command with the stream as stdin/stdout)."""
    meta = pod["metadata"]
    return {
        "apiVersion": KWOK_API, "kind": "PortForward",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "ownerReferences": owned_by(pod)},
        "spec": {"forwards": [{"ports": sorted(ports), "target": {"address": HOST, "port": target_port}},
                              {"ports": [ROUTE_PROBE_PORT], "command": ["echo", route_token(pod, target_port)]}]},
    }


def pod_logs(pod: dict, containers: list[str], logs_file: str, previous_logs_file: str) -> dict:
    """A kwok Logs object: ``kubectl logs`` of this pod reads its own process's CRI log file."""
    meta = pod["metadata"]
    return {
        "apiVersion": KWOK_API, "kind": "Logs",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "ownerReferences": owned_by(pod)},
        "spec": {"logs": [{"containers": containers, "logsFile": logs_file,
                           "previousLogsFile": previous_logs_file, "follow": True}]},
    }
