"""`pulumi up` for real: the engine, the kubernetes provider and our dynamic providers against the local control
plane with kwok GPU nodes and the vLLM simulator (reached through kwok's port-forward)."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from kubernetes import client, watch

from components.presets import GPU_RESOURCE as GPU
from tests.support.cluster import restart_simulator
from tests.support.gpu_holders import delete_pods, gpu_holder

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def pods_of(kube, project) -> list:
    return client.CoreV1Api(kube).list_namespaced_pod(
        project.namespace, label_selector=f"app.kubernetes.io/instance={project.release}").items


def namespace_exists(kube, name: str) -> bool:
    try:
        client.CoreV1Api(kube).read_namespace(name)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_up_serves_then_noop_then_destroy(deployed_project, kube):
    project = deployed_project()
    first = project.up()
    assert first.ok, first.output

    outputs = project.outputs()
    assert outputs["release_name"] == project.release
    assert outputs["namespace"] == project.namespace
    assert outputs["revision"] == 1
    assert outputs["endpoint"] == f"{project.release}.{project.namespace}.svc.cluster.local:8000"
    verification = outputs["verification"]
    assert verification["passed"] is True
    assert verification["n"] == 20 and verification["p95_seconds"] <= 3.0
    assert {c["name"] for c in verification["checks"]} >= {"GET /health", "GET /ready", "POST /v1/chat/completions"}
    assert all(c["status"] == "passed" for c in verification["checks"]), verification["checks"]
    pods = pods_of(kube, project)
    assert pods and all(p.status.phase == "Running" for p in pods)

    unchanged = project.preview("--expect-no-changes")
    assert unchanged.ok, unchanged.output
    second = project.up()
    assert second.ok, second.output
    assert "verifying release" not in second.output  # no re-verification on a no-op up
    assert project.outputs()["verification"]["verified_at"] == verification["verified_at"]

    destroyed = project.destroy()
    assert destroyed.ok, destroyed.output
    assert project.resource_count() == 0
    assert not client.AppsV1Api(kube).list_namespaced_deployment(project.namespace).items


@pytest.fixture
def all_gpus_taken(kube, cluster):
    """Blocker pods holding every GPU of the cluster; the test frees them with the returned function."""
    core = client.CoreV1Api(kube)
    namespace = "e2e-blockers"
    if not namespace_exists(kube, namespace):
        core.create_namespace({"metadata": {"name": namespace}})
    names = []
    for node in cluster.gpu_nodes:
        allocatable = int(core.read_node(node).status.allocatable[GPU])
        name = f"blocker-{node}"
        core.create_namespaced_pod(namespace, gpu_holder(name, node, allocatable))
        names.append(name)

    def free() -> None:
        for name in names:
            core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)

    yield free
    delete_pods(core, namespace, names)
    for name in names:  # wait (event driven, bounded) until the GPUs are free again for the next test
        selector = f"metadata.name={name}"
        listed = core.list_namespaced_pod(namespace, field_selector=selector)
        if not listed.items:
            continue
        stream = watch.Watch()
        for event in stream.stream(core.list_namespaced_pod, namespace, field_selector=selector,
                                   resource_version=listed.metadata.resource_version, timeout_seconds=30):
            if event["type"] == "DELETED":
                stream.stop()


def read_lines(process, sink: queue.Queue) -> None:
    for line in process.stdout:
        sink.put(line)
    sink.put(None)


def test_up_waits_for_gpus_with_progress_then_succeeds(deployed_project, all_gpus_taken):
    project = deployed_project(gpuWait={"timeoutMinutes": 3})
    process = project.start("up", "--yes", "--skip-preview")
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(process, lines), daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the gate to report that it is waiting
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, "".join(output)
        output.append(line)
        if "GPU gate" in line and "placeable 0/1" in line:
            break
    else:
        pytest.fail("the GPU gate never reported waiting:\n" + "".join(output))
    freed_at = time.monotonic()
    all_gpus_taken()
    assert process.wait(timeout=600) == 0, "".join(output) + "".join(iter(lambda: lines.get() or "", ""))
    while (line := lines.get(timeout=10)) is not None:
        output.append(line)
    text = "".join(output)
    progress = [line for line in text.splitlines() if "GPU gate" in line]
    assert len(progress) >= 2, text
    waited = project.outputs()["gpu_wait"]["waited_seconds"]
    assert waited > 0, text
    print(f"GPU gate waited {waited}s; up finished {time.monotonic() - freed_at:.1f}s after the GPUs were freed")


def test_impossible_request_fails_in_seconds_with_the_reason(deployed_project, kube):
    project = deployed_project(resources={"limits": {GPU: 3, "memory": "32Gi", "cpu": "8"}},
                               gpuWait={"timeoutMinutes": 10})
    result = project.up()
    assert not result.ok
    assert "GPU capacity can never be met" in result.output
    # Our message alone, no Python frames above it (components/provider_errors.py).
    assert "error: components.gpu_gate.resource.GpuCapacityGateFailed: GPU capacity can never be met" in result.output
    assert "Traceback" not in result.output, result.output
    assert "3 nvidia.com/gpu" in result.output and "allocatable" in result.output.lower()
    # failed on the first look at the cluster: no waiting line, not the timeout's "not available after 10m"
    assert "GPU capacity not available after" not in result.output, result.output
    assert not [line for line in result.output.splitlines() if "GPU gate: need" in line and "placeable" in line]
    assert not client.AppsV1Api(kube).list_namespaced_deployment(project.namespace).items \
        if namespace_exists(kube, project.namespace) else True
    print(f"impossible request failed after {result.seconds:.1f}s (timeout 600s)")


@pytest.mark.parametrize("fault,expected", [
    (["--failure-injection-rate=100", "--failure-types=server_error"], "POST /v1/chat/completions  failed"),
    (["--time-to-first-token=3500ms"], "completion latency p95     failed"),
])
def test_serving_fault_fails_up_with_the_check_table_and_next_up_recovers(deployed_project, fault, expected):
    project = deployed_project()
    try:
        restart_simulator(fault)
        failed = project.up()
    finally:
        restart_simulator([])
    assert not failed.ok
    assert "vLLM deployment verification FAILED" in failed.output
    assert "CHECK" in failed.output and expected in failed.output, failed.output
    assert "Traceback" not in failed.output, failed.output
    recovered = project.up()  # the fault is gone: no state surgery needed
    assert recovered.ok, recovered.output
    assert project.outputs()["verification"]["passed"] is True


def test_invalid_config_fails_preview_and_changes_nothing(deployed_project, kube):
    project = deployed_project(model={"size": "huge"}, image={"tag": "latest"},
                               resources={"limits": {GPU: 1, "memory": "32GB", "cpu": "8"}})
    result = project.preview()
    assert not result.ok
    for message in ("vllm-deploy:model.size: 'huge' is not valid; allowed: small, medium, large",
                    "vllm-deploy:image.tag: 'latest' is not valid",
                    "vllm-deploy:resources.limits.memory: '32GB' is not valid"):
        assert message in result.output
    assert "Traceback" not in result.output
    up = project.up()
    assert not up.ok and "3 problem(s)" in up.output
    assert not namespace_exists(kube, project.namespace)
    assert project.resource_count() == 0
