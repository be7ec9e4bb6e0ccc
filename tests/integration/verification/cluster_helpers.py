"""Deployments, Services and pod-status patches for the verification's cluster tests (kwok cluster).

kwok fakes every pod: an image that does not exist still "runs". Failure states are therefore written into
the pod status through the API, with phase Running so that kwok's pod-ready stage (which only selects
Pending pods) leaves them alone.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from components.kube import KubeAccess, api_client_for
from components.presets import GPU_RESOURCE as GPU
from components.verification.settings import settings_from
from components.verification.verify import verify_deployment


def create_namespace(api: client.ApiClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(api).create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def delete_namespace(api: client.ApiClient, name: str) -> None:
    try:
        client.CoreV1Api(api).delete_namespace(name, grace_period_seconds=0)
    except ApiException as exc:
        if exc.status != 404:
            raise


def labels(release: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": release, "app.kubernetes.io/name": "vllm"}


def pod_template(release: str, gpus: int = 1, image: str = "vllm/vllm-openai:v0.11.0",
                 pod_labels: dict | None = None) -> dict:
    return {
        "metadata": {"labels": {**labels(release), **(pod_labels or {})}},
        "spec": {
            "nodeSelector": {"node-type": "gpu"},
            "tolerations": [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [
                {
                    "name": "vllm",
                    "image": image,
                    "ports": [{"name": "http", "containerPort": 8000}],
                    "resources": {"limits": {GPU: str(gpus)}, "requests": {GPU: str(gpus)}},
                }
            ],
        },
    }


def create_deployment(api: client.ApiClient, namespace: str, release: str, gpus: int = 1,
                      image: str = "vllm/vllm-openai:v0.11.0", strategy: dict | None = None,
                      pod_labels: dict | None = None) -> None:
    """A Deployment and Service shaped like the chart's (labels, named port, Service named after the release).

    ``pod_labels`` override the pods' labels (e.g. another app.kubernetes.io/name: the local cluster's pod runner
    then gives the pod no process of its own)."""
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    selected = {**labels(release), **(pod_labels or {})}
    apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": release, "labels": labels(release)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selected},
            "strategy": strategy or {"type": "Recreate"},
            "template": pod_template(release, gpus, image, pod_labels),
        },
    })
    core.create_namespaced_service(namespace, {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": release, "labels": labels(release)},
        "spec": {"selector": selected, "ports": [{"name": "http", "port": 8000, "targetPort": "http"}]},
    })


def pods_of(api: client.ApiClient, namespace: str, release: str) -> list:
    selector = f"app.kubernetes.io/instance={release}"
    return client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.5)


def wait_ready(api: client.ApiClient, namespace: str, release: str, timeout: float = 60) -> str:
    """The name of the release's ready pod (all pods ready, exactly one)."""

    def ready():
        pods = [p for p in pods_of(api, namespace, release) if not p.metadata.deletion_timestamp]
        ok = [p for p in pods if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
        return ok[0].metadata.name if len(pods) == 1 and len(ok) == 1 else None

    return wait_for(ready, timeout, f"{namespace}/{release} Ready")


def patch_pod_status(api: client.ApiClient, namespace: str, pod: str, status: dict) -> None:
    client.CoreV1Api(api).patch_namespaced_pod_status(pod, namespace, {"status": status})


def image_pull_backoff_status(image: str) -> dict:
    return {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
             "message": "containers with unready status: [vllm]"},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
        ],
        "containerStatuses": [
            {
                "name": "vllm",
                "image": image,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}},
            }
        ],
    }


def crash_loop_status(last_reason: str = "Error", exit_code: int = 1) -> dict:
    return {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [
            {
                "name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "imageID": "", "ready": False, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": "back-off 40s restarting failed container=vllm"}},
                "lastState": {"terminated": {"reason": last_reason, "exitCode": exit_code,
                                             "startedAt": "2026-11-28T12:00:00Z",
                                             "finishedAt": "2026-11-28T12:01:00Z"}},
            }
        ],
    }


def not_ready_status() -> dict:
    return {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                        "message": "containers with unready status: [vllm]"}],
        "containerStatuses": [
            {"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "imageID": "", "ready": False, "restartCount": 0,
             "state": {"running": {"startedAt": "2026-11-28T12:00:00Z"}}}
        ],
    }


def record_event(api: client.ApiClient, namespace: str, pod: str, reason: str, message: str,
                 kind: str = "Warning") -> None:
    """An Event about ``pod``, as the kubelet would record it."""
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    client.CoreV1Api(api).create_namespaced_event(namespace, {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod}.{uuid.uuid4().hex[:8]}"},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": namespace, "apiVersion": "v1"},
        "reason": reason,
        "message": message,
        "type": kind,
        "count": 3,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": "kubelet"},
    })


def sim_ready_path(info) -> str:
    """The simulator's readiness path: /ready (our fake, older llm-d-inference-sim) or /health/ready."""
    for path in ("/ready", "/health/ready"):
        try:
            if httpx.get(f"{info.sim_url}{path}", timeout=5).status_code == 200:
                return path
        except httpx.HTTPError:
            pass
    return "/ready"


def verification_inputs(cluster, namespace: str, release: str, **overrides) -> dict:
    """DeploymentVerification inputs for ``release`` on the local cluster (port-forward to its simulator)."""
    return {
        "kubeconfig": str(cluster.kubeconfig),
        "context": cluster.context,
        "namespace": namespace,
        "release_name": release,
        "revision": 1,
        "access_mode": "port-forward",
        "served_model_name": cluster.sim_model,
        "ready_path": sim_ready_path(cluster),
        "samples": 20,
        "warmup_requests": 2,
        "p95_limit_seconds": 3.0,
        "pod_ready_timeout_seconds": 90,
        "unreachable_retry_seconds": 20,
        **overrides,
    }


def run_verification(cluster, namespace: str, release: str, grace_seconds: float = 5.0, **overrides):
    """``verify_deployment`` with those inputs: (report, progress lines)."""
    settings = settings_from(verification_inputs(cluster, namespace, release, **overrides))
    access = KubeAccess(str(cluster.kubeconfig), cluster.context)
    lines: list[str] = []
    report = verify_deployment(settings, lambda: api_client_for(access), lines.append, grace_seconds=grace_seconds)
    return report, lines
