"""Updates on the local cluster with real `pulumi up`: the verified rollout keeps a verified pod serving throughout.

Each pod runs its own simulator (tools/localcluster's pod runner), configured from the pod, so a new revision can
be made to crash or to be slow with test-only pod annotations (``sim.vllm-deploy.dev/*``, set through the stack's
``release.podAnnotations``), while the old revision's pods keep answering. kwok honours readiness gates: a pod is
Ready only once the verification has set ``vllm.deploy/verified`` True on it.

Every update runs under two watches, of the Service's EndpointSlices and of its Ready pods; the tests print the
measured seconds during which no ready, verified pod was there (``ROLLOUT-GAP`` lines) and assert they are 0.
"""

from __future__ import annotations

import pytest
from kubernetes import client

from components.presets import GPU_RESOURCE as GPU
from components.presets import VERIFIED_CONDITION
from tests.support.endpoint_watch import EndpointSliceWatch, ServicePodWatch
from tests.support.gpu_holders import delete_pods, gpu_holder
from tests.support.pulumi_project import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    # per-pod simulators and kwok readiness gates (tools/localcluster): without them nothing here can be shown
    pytest.mark.skipif(not (ROOT / "tools" / "localcluster" / "runner.py").is_file(),
                       reason="needs the per-pod runner and readiness-gate support of tools/localcluster"),
]
VERIFIED = {"rollout": "verified"}
CRASH = {"sim.vllm-deploy.dev/crash-at-start": "true"}
SLOW = {"sim.vllm-deploy.dev/time-to-first-token": "3500ms"}


def release_pods(kube, project) -> list[client.V1Pod]:
    pods = client.CoreV1Api(kube).list_namespaced_pod(
        project.namespace, label_selector=f"app.kubernetes.io/instance={project.release}").items
    return [p for p in pods if not p.metadata.deletion_timestamp]


def gate(pod: client.V1Pod) -> str:
    for condition in pod.status.conditions or []:
        if condition.type == VERIFIED_CONDITION:
            return condition.status
    return "absent"


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def release_config(project, **changes) -> dict:
    """The project's current stack config with ``release`` keys changed."""
    config = dict(project.config)
    config["release"] = {**config["release"], **changes}
    return config


def update(project, config: dict):
    project.config = config
    project.set_config(config)
    return project.up()


def _excerpt(output: str, keep: tuple[str, ...] = ("GPU gate", "GPU capacity", "Choose", "DeploymentVerification",
                                                    "CHECK", "  ", "Diagnosis", "pod ", "error:")) -> str:
    """The lines of a pulumi output that tell the story (progress, table, diagnosis, choice)."""
    return "\n".join(line for line in output.splitlines() if line.lstrip().startswith(keep) or any(
        word in line for word in ("rollout", "verification", "FAILED", "passed", "failed")))[-6000:]


class Traffic:
    """Both views of where the Service sends traffic during an update: its EndpointSlices and its Ready pods."""

    def __init__(self, kube, project):
        self.slices = EndpointSliceWatch(kube, project.namespace, project.release, VERIFIED_CONDITION)
        self.pods = ServicePodWatch(kube, project.namespace, project.release, VERIFIED_CONDITION)

    def __enter__(self) -> Traffic:
        self.slices.__enter__()
        self.pods.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self):
        return self.slices.stop(), self.pods.stop()


def report_gap(case: str, slices, pods) -> None:
    print(f"ROLLOUT-GAP {case}: EndpointSlices {slices.seconds_without_verified:.3f} s, Ready pods "
          f"{pods.seconds_without_verified:.3f} s without a ready, verified pod\n"
          f"ready endpoints (EndpointSlices) over time:\n{slices.describe()}\n"
          f"Ready pods selected by the Service over time:\n{pods.describe()}")


@pytest.fixture
def verified_project(deployed_project, kube):
    """A release deployed with the verified rollout, serving from one verified pod."""

    def make(release: dict | None = None, **overrides):
        project = deployed_project(release={**VERIFIED, **(release or {})}, **overrides)
        project.config = project_config(project)
        first = project.up()
        assert first.ok, first.output
        assert "verified rollout of" in first.output
        pods = release_pods(kube, project)
        assert pods and all(gate(p) == "True" and is_ready(p) for p in pods), [(p.metadata.name, gate(p)) for p in pods]
        return project, {p.metadata.name for p in pods}

    return make


def project_config(project) -> dict:
    import yaml

    document = yaml.safe_load((project.directory / f"Pulumi.{project.stack}.yaml").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items()}


@pytest.mark.parametrize("replicas", [1, 2])
def test_good_update_shifts_traffic_with_a_verified_pod_serving_throughout(verified_project, kube, replicas):
    project, old = verified_project(release={"replicas": replicas})
    assert len(old) == replicas
    with Traffic(kube, project) as traffic:
        result = update(project, release_config(project, podAnnotations={"example.com/revision": "2"}))
        records = traffic.stop()
    report_gap(f"case 1 (good update, {replicas} replica(s))", *records)
    print(f"case 1 ({replicas} replica(s)): pulumi up took {result.seconds:.1f}s")
    assert result.ok, result.output
    new = {p.metadata.name for p in release_pods(kube, project)}
    assert new and not new & old, (old, new)  # every old pod replaced
    assert all(gate(p) == "True" and is_ready(p) for p in release_pods(kube, project))
    for record in records:
        assert record.seconds_without_verified == 0.0, record.describe()
        assert min(len(verified) for _, _, verified in record.timeline) >= replicas, record.describe()  # maxUnav. 0
        assert not record.unverified_ready, record.describe()
        assert new <= record.ever_ready, record.describe()  # traffic shifted to the new pods
    verification = project.outputs()["verification"]
    assert verification["passed"] is True and verification["verified_revision"] == 2
    assert any(c["name"] == "verified rollout" and c["status"] == "passed" for c in verification["checks"])


@pytest.mark.parametrize("case,annotations,expected", [
    ("case 2 (new pods crash)", CRASH, "CrashLoopBackOff"),
    ("case 3 (new revision slow, p95 > 3 s)", SLOW, "completion latency p95"),
])
def test_bad_update_fails_with_the_diagnosis_old_pod_serves_and_previous_config_converges(
        verified_project, kube, case, annotations, expected):
    project, old = verified_project()
    previous = dict(project.config)
    with Traffic(kube, project) as traffic:
        failed = update(project, release_config(project, podAnnotations=annotations))
        during = release_pods(kube, project)
        records = traffic.stop()
    report_gap(case, *records)
    print(f"{case}: pulumi up failed after {failed.seconds:.1f}s:\n" + _excerpt(failed.output))
    assert not failed.ok
    assert "vLLM deployment verification FAILED" in failed.output and "CHECK" in failed.output
    assert expected in failed.output, failed.output
    assert "previous revision keep" in failed.output  # the table says the old revision still serves
    new = {p.metadata.name for p in during} - old
    assert new, "the update created no new pod"
    assert old <= {p.metadata.name for p in during if is_ready(p)}  # the old revision keeps serving
    for record in records:
        assert not new & record.ever_ready, record.describe()  # no traffic ever went to a new pod
        assert record.seconds_without_verified == 0.0, record.describe()
    assert all(gate(p) != "True" for p in during if p.metadata.name in new)

    again = project.up()  # the next up continues from there: verifies the same revision again, fails the same way
    assert not again.ok and expected in again.output
    recovered = update(project, previous)  # rolling back is `pulumi up` with the previous configuration
    print(f"{case}: pulumi up with the previous config took {recovered.seconds:.1f}s")
    assert recovered.ok, recovered.output
    pods = release_pods(kube, project)
    assert {p.metadata.name for p in pods} == old and all(is_ready(p) for p in pods)
    assert project.outputs()["verification"]["passed"] is True


@pytest.fixture
def other_node_blocked(kube, cluster):
    """A blocker pod holding every GPU of one GPU node (the release's pod takes the other's)."""
    core = client.CoreV1Api(kube)
    namespace, created = "e2e-rollout-blockers", []

    def block(node: str) -> None:
        try:
            core.create_namespace({"metadata": {"name": namespace}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        gpus = core.read_node(node).status.allocatable[GPU]
        core.create_namespaced_pod(namespace, gpu_holder(f"blocker-{node}", node, gpus))
        created.append(f"blocker-{node}")

    yield block
    delete_pods(core, namespace, created)


def test_full_cluster_gate_waits_for_the_surge_pod_then_names_the_choice(verified_project, kube, cluster,
                                                                         other_node_blocked):
    two_gpus = {"limits": {GPU: 2, "memory": "32Gi", "cpu": "8"}}
    project, old = verified_project(resources=two_gpus, model={"tensorParallelSize": 2},
                                    gpuWait={"timeoutMinutes": 0.5, "progressIntervalSeconds": 5})
    serving_node = release_pods(kube, project)[0].spec.node_name
    for node in cluster.gpu_nodes:
        if node != serving_node:
            other_node_blocked(node)
    result = update(project, release_config(project, podAnnotations={"example.com/revision": "2"}))
    print(f"case 4 (full cluster): pulumi up failed after {result.seconds:.1f}s:\n" + _excerpt(result.output))
    assert not result.ok
    assert "rollout needs 1 extra pod of 2 nvidia.com/gpu" in result.output, result.output
    assert "GPU capacity not available after" in result.output
    assert "add GPU capacity" in result.output and "release.rollout: recreate and accept downtime" in result.output
    assert {p.metadata.name for p in release_pods(kube, project)} == old  # nothing changed: the gate stopped it


def test_gpus_that_can_never_be_found_fail_fast_with_the_choice(verified_project, kube, cluster):
    # two pods of 2 GPUs fill both GPU nodes: a third (the surge pod) can never fit
    two_gpus = {"limits": {GPU: 2, "memory": "32Gi", "cpu": "8"}}
    project, serving = verified_project(release={"replicas": 2}, resources=two_gpus, model={"tensorParallelSize": 2},
                                        gpuWait={"timeoutMinutes": 10})
    assert len(serving) == 2
    result = update(project, release_config(project, podAnnotations={"example.com/revision": "2"}))
    print(f"case 4 (never enough GPUs): pulumi up failed after {result.seconds:.1f}s:\n" + _excerpt(result.output))
    assert not result.ok
    assert "GPU capacity can never be met: the verified rollout runs 2 serving pods plus 1 new pod" in result.output
    assert "add GPU capacity" in result.output and "release.rollout: recreate and accept downtime" in result.output
    # failed on the first look at the cluster: no waiting line, not the timeout's "not available after 10m"
    assert "GPU capacity not available after" not in result.output, result.output
    assert not [line for line in result.output.splitlines() if "GPU gate: need" in line and "placeable" in line]
    assert {p.metadata.name for p in release_pods(kube, project)} == serving


def test_recreate_mode_warns_at_preview_and_updates_with_downtime(deployed_project, kube):
    project = deployed_project(release={"rollout": "recreate"})
    project.config = project_config(project)
    preview = project.preview()
    assert preview.ok, preview.output
    assert "release.rollout is recreate" in preview.output and "the model is DOWN during every update" in preview.output
    first = project.up()
    assert first.ok, first.output
    old = {p.metadata.name for p in release_pods(kube, project)}
    assert all(gate(p) == "absent" for p in release_pods(kube, project))  # no readiness gate in recreate mode
    with Traffic(kube, project) as traffic:
        result = update(project, release_config(project, podAnnotations={"example.com/revision": "2"}))
        slices, record = traffic.stop()
    assert result.ok, result.output
    new = {p.metadata.name for p in release_pods(kube, project)}
    assert new and not new & old
    print(f"ROLLOUT-GAP case 5 (recreate): EndpointSlices {slices.seconds_without_ready:.3f} s, Ready pods "
          f"{record.seconds_without_ready:.3f} s without any ready pod; timelines:\n{slices.describe()}\n"
          f"{record.describe()}")
    assert record.seconds_without_ready > 0, record.describe()  # Recreate: the model was down during the update
    assert slices.seconds_without_ready > 0, slices.describe()
