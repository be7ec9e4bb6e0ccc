"""Failure modes of issue 9 through a real `pulumi up`, timed from the start of the situation to the failed up.

kwok makes every pod Ready at once, so each test first deploys a serving release, then writes into the pod status
what a kubelet would (image pull errors, a failing readiness probe), and changes a verification setting so that the
next `pulumi up` verifies the same pods again. The grace periods are set in the stack config (shorter than the defaults
of components/presets.py, which tests/unit/verification cover): the setting reaches the verification through
`pulumi up`, and the failure comes after the grace, not after the loading budget.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from kubernetes import client

from tests.integration.verification import cluster_helpers as helpers
from tests.support.fake_vllm import FakeVllm

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

IMAGE_PULL_GRACE = 15  # verification.imagePullGraceSeconds of these tests (the default is 120 s)
READY_GRACE = 8  # verification.readyGraceSeconds (the default is 60 s)


def the_pod(kube, project) -> str:
    pods = client.CoreV1Api(kube).list_namespaced_pod(
        project.namespace, label_selector=f"app.kubernetes.io/instance={project.release}").items
    assert len(pods) == 1, [p.metadata.name for p in pods]
    return pods[0].metadata.name


def reverify(project, config: dict, samples: int) -> None:
    """Change only the number of samples: the next up verifies again, the pods stay."""
    project.set_config({**config, "verification": {**config.get("verification", {}), "samples": samples}})


def test_alternating_image_pull_errors_fail_up_after_the_configured_grace(deployed_project, kube):
    project = deployed_project(verification={"imagePullGraceSeconds": IMAGE_PULL_GRACE})
    assert (first := project.up()).ok, first.output
    pod = the_pod(kube, project)
    config = project_config(project)
    reverify(project, config, 21)
    stop = threading.Event()
    started = time.monotonic()
    alternate(kube, project.namespace, pod, stop)
    try:
        failed = project.up()
    finally:
        stop.set()
    elapsed = time.monotonic() - started
    print(f"\nmeasured: ErrImagePull/ImagePullBackOff alternating -> `pulumi up` failed after {elapsed:.1f}s "
          f"(imagePullGraceSeconds {IMAGE_PULL_GRACE}s; up itself took {failed.seconds:.1f}s)")
    assert not failed.ok
    assert "vLLM deployment verification FAILED" in failed.output and "pod Ready" in failed.output
    assert "ErrImagePull" in failed.output or "ImagePullBackOff" in failed.output
    # progress counts down the configured grace (the default would show up to 120 s)
    left = [int(n) for n in re.findall(r"fatal if it persists (\d+)s more", failed.output)]
    assert left and max(left) <= IMAGE_PULL_GRACE, failed.output


def test_image_not_found_fails_up_at_once(deployed_project, kube):
    project = deployed_project()
    assert (first := project.up()).ok, first.output
    pod = the_pod(kube, project)
    reverify(project, project_config(project), 21)
    message = 'failed to pull and unpack image "docker.io/vllm/vllm-openai:v0.99.0": manifest unknown'
    started = time.monotonic()
    helpers.patch_pod_status(kube, project.namespace, pod, pull_status("ErrImagePull", message))
    failed = project.up()
    elapsed = time.monotonic() - started
    print(f"\nmeasured: ErrImagePull 'manifest unknown' -> `pulumi up` failed after {elapsed:.1f}s")
    assert not failed.ok and message in failed.output


def test_health_200_ready_503_fails_up_after_the_configured_ready_grace_with_the_ready_body(deployed_project, kube):
    body = {"status": "not ready", "reason": "/v1/models lists no model"}
    with FakeVllm(model="llama-7b") as server:
        project = deployed_project(verification={"accessMode": "direct", "baseUrl": server.url,
                                                 "readyGraceSeconds": READY_GRACE})
        assert (first := project.up()).ok, first.output
        pod = the_pod(kube, project)
        reverify(project, project_config(project), 21)
        server.ready_status, server.ready_body = 503, body  # the server stays up, /ready says why it is not ready
        started = time.monotonic()
        helpers.patch_pod_status(kube, project.namespace, pod, helpers.not_ready_status())  # readiness probe fails
        failed = project.up()
        elapsed = time.monotonic() - started
    print(f"\nmeasured: /health 200 + /ready 503 -> `pulumi up` failed after {elapsed:.1f}s "
          f"(readyGraceSeconds {READY_GRACE}s; loading budget 1200s)")
    assert not failed.ok
    assert 'GET /health 200 but GET /ready 503: {"status": "not ready", "reason": "/v1/models lists no model"}' \
        in failed.output, failed.output


# --- helpers ------------------------------------------------------------------------------------------------------


def project_config(project) -> dict:
    import yaml

    document = yaml.safe_load((project.directory / f"Pulumi.{project.stack}.yaml").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items()}


def pull_status(reason: str, message: str) -> dict:
    status = helpers.image_pull_backoff_status("vllm/vllm-openai:v0.11.0")
    status["containerStatuses"][0]["state"] = {"waiting": {"reason": reason, "message": message}}
    return status


def alternate(kube, namespace: str, pod: str, stop: threading.Event, period: float = 5.0) -> None:
    """A kubelet during a registry outage: ErrImagePull, ImagePullBackOff, ErrImagePull, ..."""

    def run() -> None:
        states = [("ErrImagePull", "rpc error: code = Unknown desc = failed to pull image: dial tcp: i/o timeout"),
                  ("ImagePullBackOff", 'Back-off pulling image "vllm/vllm-openai:v0.11.0"')]
        i = 0
        while not stop.is_set():
            helpers.patch_pod_status(kube, namespace, pod, pull_status(*states[i % 2]))
            i += 1
            stop.wait(period)

    threading.Thread(target=run, daemon=True).start()


def test_preview_warns_about_few_samples_and_refuses_a_memory_without_unit(deployed_project):
    few = deployed_project(verification={"samples": 10})
    previewed = few.preview()
    assert previewed.ok, previewed.output
    assert "vllm-deploy:verification.samples: 10: with N <= 19 samples the nearest-rank p95 is the maximum" \
        in " ".join(previewed.output.split()), previewed.output
    bytes_only = deployed_project(resources={"limits": {"nvidia.com/gpu": 1, "memory": 32, "cpu": "8"}})
    refused = bytes_only.preview()
    assert not refused.ok
    assert "vllm-deploy:resources.limits.memory: 32 is not valid; a bare number is bytes" in refused.output
    assert "did you mean 32Gi?" in refused.output
