"""Failure modes of issue 9 on the local control plane with kwok GPU nodes (tools/cluster).

kwok "runs" every pod, so a kubelet's verdicts (admission rejected, OOM kill, image pull errors, a pod that
never gets Ready) are written into the pod status through the API, as the kubelet would write them. Each test
prints the measured time from the start of the situation to the verification's verdict (run with ``-s``).
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.cluster import tools_available
from tests.support.fake_vllm import FakeVllm

from . import cluster_helpers as kube

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not tools_available(), reason="local cluster tools not built (tools/build)"),
]

READY_BODY = {"status": "not ready", "reason": "/v1/models lists no model"}


@pytest.fixture
def namespace(api):
    name = kube.create_namespace(api, "failure-modes")
    yield name
    kube.delete_namespace(api, name)


def verify(cluster, namespace, release, **overrides):
    defaults = {"warmup_requests": 1, "pod_ready_timeout_seconds": 300, "unreachable_retry_seconds": 10}
    return kube.run_verification(cluster, namespace, release, **{**defaults, **overrides})


def ready_pods(api, namespace, release):
    return [p.metadata.name for p in kube.pods_of(api, namespace, release)
            if p.status.phase == "Running" and not p.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]


def failed_status(reason: str, message: str) -> dict:
    return {"phase": "Failed", "reason": reason, "message": message,
            "conditions": [{"type": "Ready", "status": "False", "reason": "PodFailed"}]}


# --- point 1: a leftover terminal pod of the current ReplicaSet ----------------------------------------------


def test_a_rejected_pod_of_the_current_replicaset_does_not_fail_and_is_reported(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-admit")
    rejected = kube.wait_ready(api, namespace, "llama-admit")
    message = "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: 1"
    kube.patch_pod_status(api, namespace, rejected, failed_status("UnexpectedAdmissionError", message))
    # the ReplicaSet replaces it; the rejected pod stays (nothing deletes Failed pods until the GC threshold)
    kube.wait_for(lambda: [p for p in ready_pods(api, namespace, "llama-admit") if p != rejected], 60, "replacement")
    report, _ = verify(cluster, namespace, "llama-admit")
    assert report.passed, report.text()
    assert rejected not in report.verified_pods
    assert any(f"{rejected}: Failed: UnexpectedAdmissionError: {message}" in w for w in report.warnings)
    assert rejected in {p.metadata.name for p in kube.pods_of(api, namespace, "llama-admit")}


# --- point 2: an old OOM kill of a container that is Ready again ------------------------------------------------


def test_an_old_oom_kill_of_a_ready_container_passes_with_a_warning(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-oom-old")
    pod = kube.wait_ready(api, namespace, "llama-oom-old")
    kube.patch_pod_status(api, namespace, pod, {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
        "containerStatuses": [{
            "name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "imageID": "", "ready": True, "restartCount": 2,
            "state": {"running": {"startedAt": "2026-11-28T12:05:00Z"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "startedAt": "2026-11-28T12:00:00Z",
                                         "finishedAt": "2026-11-28T12:04:00Z"}},
        }],
    })
    report, _ = verify(cluster, namespace, "llama-oom-old")
    assert report.passed, report.text()
    assert report.warnings == [f"{pod}: container vllm restarted 2 time(s); last termination OOMKilled (exit code 137) "
                               "at 2026-11-28T12:04:00Z; running again now"]


# --- point 3: image pulls ---------------------------------------------------------------------------------------


def pull_status(reason: str, message: str) -> dict:
    status = kube.image_pull_backoff_status("vllm/vllm-openai:v0.11.0")
    status["containerStatuses"][0]["state"] = {"waiting": {"reason": reason, "message": message}}
    return status


def alternate_pull_errors(api, namespace, pod, stop: threading.Event, period: float = 2.0) -> threading.Thread:
    """What a kubelet does during a registry outage: ErrImagePull, ImagePullBackOff, ErrImagePull, ..."""

    def run() -> None:
        states = [("ErrImagePull", "rpc error: code = Unknown desc = failed to pull image: dial tcp: i/o timeout"),
                  ("ImagePullBackOff", 'Back-off pulling image "vllm/vllm-openai:v0.11.0"')]
        i = 0
        while not stop.is_set():
            kube.patch_pod_status(api, namespace, pod, pull_status(*states[i % 2]))
            i += 1
            stop.wait(period)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_alternating_pull_errors_are_one_transient_condition_with_the_configured_grace(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-pull-flap")
    pod = kube.wait_ready(api, namespace, "llama-pull-flap")
    stop = threading.Event()
    started = time.monotonic()
    alternate_pull_errors(api, namespace, pod, stop)
    try:
        report, lines = verify(cluster, namespace, "llama-pull-flap", image_pull_grace_seconds=20)
    finally:
        stop.set()
    elapsed = time.monotonic() - started
    print(f"\nmeasured: alternating ErrImagePull/ImagePullBackOff -> failed verification in {elapsed:.1f}s "
          f"(imagePullGraceSeconds 20)")
    assert not report.passed
    ready = report.results[1]
    assert ready.status == "failed" and ("ErrImagePull" in ready.observed or "ImagePullBackOff" in ready.observed)
    # one grace period for the whole alternation: ImagePullBackOff was seen, and not fatal at once
    assert any("ImagePullBackOff" in line and "fatal if it persists" in line for line in lines), lines
    assert "failed after" in ready.observed


def test_a_registry_outage_shorter_than_the_grace_passes(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-pull-blip")
    pod = kube.wait_ready(api, namespace, "llama-pull-blip")
    stop = threading.Event()
    alternate_pull_errors(api, namespace, pod, stop)
    threading.Timer(8, stop.set).start()

    def recover() -> None:
        stop.wait()
        time.sleep(0.5)
        kube.patch_pod_status(api, namespace, pod, {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "imageID": "", "ready": True,
                                   "restartCount": 0, "state": {"running": {"startedAt": "2026-11-28T12:00:00Z"}}}]})

    threading.Thread(target=recover, daemon=True).start()
    report, _ = verify(cluster, namespace, "llama-pull-blip", image_pull_grace_seconds=30, samples=5)
    assert report.passed, report.text()


def test_a_pull_error_that_retrying_cannot_fix_fails_at_once(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-pull-404")
    pod = kube.wait_ready(api, namespace, "llama-pull-404")
    started = time.monotonic()
    message = ('failed to pull and unpack image "docker.io/vllm/vllm-openai:v0.99.0": failed to resolve reference '
               '"docker.io/vllm/vllm-openai:v0.99.0": docker.io/vllm/vllm-openai:v0.99.0: not found')
    kube.patch_pod_status(api, namespace, pod, pull_status("ErrImagePull", message))
    report, lines = verify(cluster, namespace, "llama-pull-404")  # the default grace (120 s) does not apply
    elapsed = time.monotonic() - started
    print(f"\nmeasured: ErrImagePull 'not found' -> failed verification in {elapsed:.1f}s")
    assert not report.passed and message in report.results[1].observed
    assert not any("fatal if it persists" in line for line in lines), "fatal at once, without a grace period"


# --- point 4: /health 200 but /ready 503 -----------------------------------------------------------------------


def test_health_200_but_ready_503_fails_after_the_ready_grace_with_the_ready_body(cluster, api, namespace):
    kube.create_deployment(api, namespace, "llama-unready")
    pod = kube.wait_ready(api, namespace, "llama-unready")
    with FakeVllm(model=cluster.sim_model, ready_status=503, ready_body=READY_BODY) as server:
        started = time.monotonic()
        kube.patch_pod_status(api, namespace, pod, kube.not_ready_status())  # the readiness probe fails
        report, lines = verify(cluster, namespace, "llama-unready", access_mode="direct", base_url=server.url,
                               ready_path="/ready", ready_grace_seconds=15, pod_ready_timeout_seconds=600)
    elapsed = time.monotonic() - started
    print(f"\nmeasured: /health 200 + /ready 503 -> failed verification in {elapsed:.1f}s (readyGraceSeconds 15)")
    assert not report.passed
    ready = report.results[1]
    assert ready.status == "failed"
    assert (f'{pod}: GET /health 200 but GET /ready 503: {{"status": "not ready", "reason": "/v1/models lists no '
            'model"}') in ready.observed
    assert "failed after" in ready.observed and "timed out" not in ready.observed  # not the 600 s loading budget
    assert any("GET /ready 503" in line and "fatal if it persists" in line for line in lines), lines


# --- point 7: service-proxy through the real API server ---------------------------------------------------------


def test_service_proxy_answers_of_the_api_server_are_could_not_measure(cluster, api, namespace):
    """A Service whose pod has no process behind it (no app.kubernetes.io/name=vllm label: the local cluster's
    pod runner gives it none, and its egress proxy refuses the pod IP): every answer is the API server's own
    Status (503 "no endpoints available" while the endpoints are being published, then an error), never vLLM's."""
    kube.create_deployment(api, namespace, "llama-proxy", pod_labels={"app.kubernetes.io/name": "not-vllm"})
    kube.wait_ready(api, namespace, "llama-proxy")
    report, _ = verify(cluster, namespace, "llama-proxy", access_mode="service-proxy", unreachable_retry_seconds=5)
    health = report.results[2]
    assert health.status == "error", report.text()  # could not measure, not "measured bad"
    assert "API server proxy: HTTP" in health.observed
    assert [r.status for r in report.results[3:]] == ["skipped"] * 3


def test_service_proxy_reaches_the_pods_own_simulator(cluster, api, namespace):
    """The Service's endpoint is the pod's IP; the API server's egress proxy maps it to the pod's process."""
    kube.create_deployment(api, namespace, "llama-svc")
    kube.wait_ready(api, namespace, "llama-svc")
    report, _ = verify(cluster, namespace, "llama-svc", access_mode="service-proxy")
    assert report.passed, report.text()
