"""The verification against the local control plane with kwok GPU nodes (tools/cluster).

Pods are scheduled by the real kube-scheduler onto kwok GPU nodes (2 x nvidia.com/gpu each) and "run"
by kwok; the local cluster's pod runner gives each pod its own simulator on 127.0.0.1 and kwok forwards the
pod's port 8000 to it, so port-forward mode goes laptop -> API server (websocket) -> kwok's kubelet API ->
that pod's simulator, all on loopback.
"""

from __future__ import annotations

import time

import pytest

from components.verification.resource import DeploymentVerificationProvider, VerificationFailed
from tests.support.cluster import tools_available

from . import cluster_helpers as kube

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not tools_available(), reason="local cluster tools not built (tools/build)"),
]


@pytest.fixture
def namespace(api):
    name = kube.create_namespace(api, "verification-test")
    yield name
    kube.delete_namespace(api, name)


inputs = kube.verification_inputs
run = kube.run_verification


def test_ready_release_passes_through_the_api_port_forward(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-ok")
    pod = kube.wait_ready(api, namespace, "llama-ok")
    provider = DeploymentVerificationProvider()
    props = provider.check({}, inputs(cluster, namespace, "llama-ok")).inputs
    outs = provider.create(props).outs  # the provider's own path: kubeconfig file, context, port-forward
    assert outs["passed"] is True and [row["status"] for row in outs["summary"]] == ["passed"] * 6
    assert outs["endpoint"] == f"port-forward to pod {namespace}/{pod}:8000" and outs["verified_pods"] == [pod]
    assert outs["n"] == 20 and outs["p95_seconds"] <= 3.0
    assert "kubeconfig" not in outs


def test_direct_mode_against_the_simulator(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-direct")
    kube.wait_ready(api, namespace, "llama-direct")
    report, _ = run(cluster, namespace, "llama-direct", access_mode="direct", base_url=cluster.sim_url, samples=5)
    assert report.passed, report.text()
    assert report.endpoint == f"{cluster.sim_url} (direct)"


def test_unschedulable_fails_fast_with_the_scheduler_message_and_events(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-big", gpus=3)  # more than any node has
    started = time.monotonic()
    report, lines = run(cluster, namespace, "llama-big", grace_seconds=5, pod_ready_timeout_seconds=600,
                        unschedulable_grace_seconds=5)
    elapsed = time.monotonic() - started
    assert elapsed < 60, "fail fast, not after the 600 s budget"
    running, ready = report.results[:2]
    assert running.status == ready.status == "failed"
    assert "Unschedulable" in ready.observed and "Insufficient nvidia.com/gpu" in ready.observed
    assert [r.status for r in report.results[2:]] == ["skipped"] * 4
    assert "FailedScheduling" in report.diagnosis and "condition PodScheduled=False Unschedulable" in report.diagnosis
    assert any("fatal if it persists" in line for line in lines)


def test_image_pull_failure_is_diagnosed(cluster, api, namespace):
    image = "does-not-exist:1"
    kube.create_deployment(api, namespace, "llama-pull", image=image)
    pod = kube.wait_ready(api, namespace, "llama-pull")  # kwok "runs" any image ...
    # ... so write what a kubelet would
    kube.patch_pod_status(api, namespace, pod, kube.image_pull_backoff_status(image))
    kube.record_event(api, namespace, pod, "Failed", f'Failed to pull image "{image}": not found')
    started = time.monotonic()
    with pytest.raises(VerificationFailed) as failure:
        provider = DeploymentVerificationProvider()
        # a Back-off message proves nothing: transient, fatal after imagePullGraceSeconds
        provider.create(provider.check({}, inputs(cluster, namespace, "llama-pull", image_pull_grace_seconds=5)).inputs)
    assert time.monotonic() - started < 30
    text = str(failure.value)
    assert "pod Ready" in text and "ImagePullBackOff" in text and f'Back-off pulling image "{image}"' in text
    assert f"Diagnosis:\npod {pod}" in text
    assert "container vllm: waiting ImagePullBackOff" in text
    assert f'Failed (x3): Failed to pull image "{image}": not found' in text
    assert "logs (vllm): none, the container has not started" in text
    assert str(cluster.kubeconfig) not in text


def test_crash_loop_after_oom_is_diagnosed_with_the_crashed_instances_logs(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-oom")
    pod = kube.wait_ready(api, namespace, "llama-oom")
    kube.patch_pod_status(api, namespace, pod, kube.crash_loop_status(last_reason="OOMKilled", exit_code=137))
    report, _ = run(cluster, namespace, "llama-oom")
    running, ready = report.results[:2]
    assert running.status == ready.status == "failed"
    assert "OOMKilled" in ready.observed and "CrashLoopBackOff" in ready.observed
    assert "last termination: terminated OOMKilled exit code 137" in report.diagnosis
    assert "logs (vllm, previous instance)" in report.diagnosis  # the lines, or why kwok could not serve them


def test_pods_of_an_older_revision_do_not_count(cluster, api, namespace):
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    kube.create_deployment(api, namespace, "llama-rev", strategy=strategy)
    old_pod = kube.wait_ready(api, namespace, "llama-rev")
    from kubernetes import client

    client.AppsV1Api(api).patch_namespaced_deployment(
        "llama-rev", namespace, {"spec": {"template": kube.pod_template("llama-rev", gpus=3)}}
    )
    report, _ = run(cluster, namespace, "llama-rev", grace_seconds=5, unschedulable_grace_seconds=5)
    assert not report.passed
    ready = report.results[1]
    assert "Unschedulable" in ready.observed and old_pod not in ready.observed
    assert old_pod in {p.metadata.name for p in kube.pods_of(api, namespace, "llama-rev")}  # still there, still Ready


def test_running_but_never_ready_times_out_within_the_budget(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-slow")
    pod = kube.wait_ready(api, namespace, "llama-slow")
    kube.patch_pod_status(api, namespace, pod, kube.not_ready_status())
    started = time.monotonic()
    report, _ = run(cluster, namespace, "llama-slow", pod_ready_timeout_seconds=8)
    assert time.monotonic() - started < 20
    running, ready = report.results[:2]
    assert running.status == "passed" and ready.status == "failed"
    assert "timed out after" in ready.observed and "not Ready yet" in ready.observed
    assert f"pod {pod}" in report.diagnosis


def test_missing_deployment_times_out_cleanly(cluster, namespace):
    report, _ = run(cluster, namespace, "nothing-here", pod_ready_timeout_seconds=3)
    assert [r.status for r in report.results[:2]] == ["failed", "failed"]
    assert "the release has no Deployment in its namespace" in report.results[1].observed


def test_missing_deployment_fails_after_the_grace_not_the_budget(cluster, namespace):
    started = time.monotonic()
    report, _ = run(cluster, namespace, "deleted-by-hand", pod_ready_timeout_seconds=600)
    assert time.monotonic() - started < 120  # the 20 s grace, not the 600 s budget
    assert "run `pulumi up --refresh`" in report.results[1].observed
