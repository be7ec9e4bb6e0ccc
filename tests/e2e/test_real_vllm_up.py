"""`pulumi up` of the local stack on the real vLLM 0.32 (CPU build, tiny model): the local cluster's pod runner
starts each pod's own container spec (engine vllm), the GPU gate, the Helm release and the verification run as
in every e2e test, and kwok's port-forward reaches the real server. One vLLM pod serves every check of the
module (start-up takes 40-200 s on the 2-core machine); a second `up` with a wrong chart argument crashes a
new pod, which the verification diagnoses."""

from __future__ import annotations

import re
import subprocess
import uuid

import httpx
import pytest
import yaml
from kubernetes import client

from tests.support.cluster import CLUSTER_SCRIPT, TOOLS_BIN
from tests.support.real_vllm import chart_metric_names, exported_metric_names, require_vllm_env

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.vllm]

SERVED = "llama-7b"  # Pulumi.local.yaml model.servedModelName
KEY_SECRET, KEY = "llama-api-key", "e2e-" + uuid.uuid4().hex
# A flag of vLLM before 0.11 that 0.32 no longer has: the chart passes it, vLLM exits at start.
REMOVED_FLAG = "--disable-log-requests"


def switch_engine(engine: str) -> None:
    done = subprocess.run([str(CLUSTER_SCRIPT), "up", "--engine", engine], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"tools/cluster up --engine {engine}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def vllm_cluster(cluster):
    """The session's local cluster with its pod runner on the real vLLM; back on the simulator afterwards."""
    require_vllm_env()
    switch_engine("vllm")
    yield cluster
    switch_engine("sim")


class PortForward:
    """`kubectl port-forward pod/NAME :8000` through the API server and kwok to the pod's own process."""

    def __init__(self, cluster, namespace: str, pod: str):
        self.proc = subprocess.Popen([str(TOOLS_BIN / "kubectl"), "--kubeconfig", str(cluster.kubeconfig),
                                      "-n", namespace, "port-forward", f"pod/{pod}", ":8000"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> 8000"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"kubectl port-forward said: {line}{self.proc.stdout.read() if self.proc.poll() else ''}"
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def serving_pod(kube, project) -> str:
    pods = client.CoreV1Api(kube).list_namespaced_pod(
        project.namespace, label_selector=f"app.kubernetes.io/instance={project.release}").items
    ready = [p.metadata.name for p in pods
             if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    assert len(ready) == 1, [(p.metadata.name, p.status.phase) for p in pods]
    return ready[0]


def test_up_on_real_vllm_serves_ready_without_key_metrics_and_diagnoses_a_wrong_argument(
        vllm_cluster, deployed_project, kube):
    project = deployed_project(model={"apiKeySecret": {"name": KEY_SECRET, "key": "api-key"}})
    core = client.CoreV1Api(kube)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=project.namespace)))
    core.create_namespaced_secret(project.namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name=KEY_SECRET), string_data={"api-key": KEY}))

    # 1. gate -> release -> verification through kwok's port-forward to the real vLLM pod
    first = project.up(timeout=1500)
    assert first.ok, first.output
    verification = project.outputs()["verification"]
    assert verification["passed"] is True, verification
    assert all(c["status"] == "passed" for c in verification["checks"]), verification["checks"]
    print(f"first pulumi up on real vLLM: {first.seconds:.0f}s; verification p95 {verification['p95_seconds']}s "
          f"(N={verification['n']})")

    # 2. the real server behind the pod: /ready needs no key, the API does; /metrics has the chart's metrics
    forward = PortForward(vllm_cluster, project.namespace, serving_pod(kube, project))
    try:
        ready = httpx.get(forward.url + "/ready", timeout=30)
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "models": [SERVED]}, ready.text
        assert httpx.get(forward.url + "/v1/models", timeout=30).status_code == 401
        models = httpx.get(forward.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        assert models.status_code == 200 and [m["id"] for m in models.json()["data"]] == [SERVED]
        scraped = exported_metric_names(httpx.get(forward.url + "/metrics", timeout=30).text)
    finally:
        forward.close()
    print("vLLM 0.32 exports:", " ".join(sorted(scraped)))
    used = chart_metric_names()
    missing = sorted(used - scraped)  # asserted at the end, after the crash check below

    # 3. a wrong chart argument: the new pod's vLLM exits; the verification fails and says why
    project.set_config({**project_config(project), "model": {
        **project_config(project)["model"], "extraArgs": [REMOVED_FLAG]}})
    second = project.up(timeout=1500)
    assert not second.ok, second.output
    assert "CrashLoopBackOff" in second.output, second.output
    assert f"unrecognized arguments: {REMOVED_FLAG}" in second.output, second.output

    # 4. every metric the chart's dashboard and alerts query is one the real server exports
    assert used and not missing, f"the chart uses metrics vLLM 0.32 does not export: {missing}"


def project_config(project) -> dict:
    raw = yaml.safe_load((project.directory / f"Pulumi.{project.stack}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in raw.items()}
