"""The GPU gate's failure modes with the real `pulumi` CLI on a full local cluster (issue 9, points 8, 9 and 10).

- renaming the release / moving its namespace while its own pods hold every GPU;
- `allowNodeAutoscaling` with a node pool that scales from zero: a kwok GPU node joins 30 s after the pods
  went Pending, as a cluster autoscaler would add it;
- Ctrl-C (SIGINT to `pulumi up`) during the GPU wait and during the verification's pod wait, then a clean
  next `pulumi up`.

Every figure is printed with what produced it; bounds on waits only tell "stopped by the event" from "ran into
the wait's own limit", which is set far above them.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
import uuid

import pytest
from kubernetes import client, watch

from components.presets import GPU_RESOURCE as GPU
from tests.integration.gpu_gate.kube_helpers import create_gpu_node, delete_node, wait_for_nodes_ready
from tests.support.gpu_holders import delete_pods, gpu_holder
from tests.support.pulumi_project import local_stack_config

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]
INSTANCE = "app.kubernetes.io/instance"
PROVISIONING_SECONDS = 10  # how long the "autoscaler" takes to add the node: the gate and the verification see the
# pod Pending (Unschedulable) through it, within seconds of the release


class Run:
    """A background `pulumi up` whose output is collected line by line."""

    def __init__(self, project, *args: str) -> None:
        self.started = time.monotonic()
        self.process = project.start("up", "--yes", "--skip-preview", *args)
        self.lines: queue.Queue = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, *texts: str, timeout: float = 300) -> str:
        """The first line containing every one of ``texts``; fails with the output so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"pulumi up ended before printing {texts}:\n" + self.text)
            self.output.append(line)
            if all(text in line for text in texts):
                return line
        pytest.fail(f"no line with {texts} within {timeout:.0f}s:\n" + self.text)

    def finish(self, timeout: float | None = None) -> int:
        returncode = self.process.wait(timeout=timeout)
        while (line := self.lines.get(timeout=30)) is not None:
            self.output.append(line)
        return returncode

    def interrupt(self) -> tuple[int, float]:
        """Ctrl-C (SIGINT) to `pulumi up`: its exit status and the seconds it took to exit (printed, not asserted:
        the tests tell cancellation from the waits' own limits by the output)."""
        interrupted_at = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            returncode = self.finish()
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return returncode, time.monotonic() - interrupted_at

    @property
    def text(self) -> str:
        return "".join(self.output)


def free_gpus(kube) -> dict[str, int]:
    """Free GPUs per schedulable GPU node, as the scheduler counts them."""
    core = client.CoreV1Api(kube)
    used: dict[str, int] = {}
    for pod in core.list_pod_for_all_namespaces(field_selector="spec.nodeName!=").items:
        if pod.status.phase in ("Succeeded", "Failed"):
            continue
        for container in pod.spec.containers:
            amount = ((container.resources and container.resources.requests) or {}).get(GPU)
            if amount:
                used[pod.spec.node_name] = used.get(pod.spec.node_name, 0) + int(amount)
    return {node.metadata.name: int(node.status.allocatable[GPU]) - used.get(node.metadata.name, 0)
            for node in core.list_node().items if GPU in (node.status.allocatable or {})}


def release_pods(kube, namespace: str, release: str) -> list:
    return client.CoreV1Api(kube).list_namespaced_pod(namespace, label_selector=f"{INSTANCE}={release}").items


def delete_namespace(kube, name: str) -> None:
    try:
        client.CoreV1Api(kube).delete_namespace(name, grace_period_seconds=0)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def pending_operations(project) -> list:
    exported = project.run("stack", "export")
    assert exported.ok, exported.output
    return json.loads(exported.output).get("deployment", {}).get("pending_operations") or []


@pytest.fixture
def blockers(kube):
    """Pods holding every free GPU of the standard nodes; ``free()`` deletes them (also done after the test)."""
    core = client.CoreV1Api(kube)
    namespace = f"e2e-hold-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    names: list[str] = []

    def hold_all() -> None:
        for node, free in free_gpus(kube).items():
            if free <= 0:
                continue
            name = f"hold-{node}"
            core.create_namespaced_pod(namespace, gpu_holder(name, node, free, image="registry.invalid/hold:1"))
            names.append(name)

    def free() -> None:
        delete_pods(core, namespace, names)

    hold_all.free = free
    yield hold_all
    free()
    delete_namespace(kube, namespace)


def wait_for_unschedulable_pod(kube, release: str, timeout: float = 300) -> str:
    """Watch (all namespaces) until a pod of ``release`` is Pending with PodScheduled=False/Unschedulable."""
    core = client.CoreV1Api(kube)

    def unschedulable(pod) -> bool:
        return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
                   for c in (pod.status.conditions or []))

    listed = core.list_pod_for_all_namespaces(label_selector=f"{INSTANCE}={release}")
    for pod in listed.items:
        if unschedulable(pod):
            return pod.metadata.name
    stream = watch.Watch()
    for event in stream.stream(core.list_pod_for_all_namespaces, label_selector=f"{INSTANCE}={release}",
                               resource_version=listed.metadata.resource_version, timeout_seconds=int(timeout)):
        if unschedulable(event["object"]):
            stream.stop()
            return event["object"].metadata.name
    pytest.fail(f"no Unschedulable pod of {release} within {timeout:.0f}s")


# --- point 8 ----------------------------------------------------------------------------------------------


def test_renaming_and_moving_the_release_on_a_full_cluster_replaces_it_without_waiting(deployed_project, cluster, kube):
    overrides = {"resources": {"limits": {GPU: 2, "memory": "32Gi", "cpu": "8"}}, "gpuWait": {"timeoutMinutes": 3}}

    def config(release: str, namespace: str) -> dict:
        """Two pods of 2 GPUs: every GPU of the two standard nodes."""
        stack = local_stack_config(cluster.kubeconfig, release, namespace, **overrides)
        stack["release"]["replicas"] = 2
        return stack

    project = deployed_project(**overrides)
    project.set_config(config(project.release, project.namespace))
    first = project.up()
    assert first.ok, first.output
    assert sum(free_gpus(kube).get(node, 0) for node in cluster.gpu_nodes) == 0, free_gpus(kube)  # the cluster is full

    old_release, renamed = project.release, f"{project.release}-renamed"
    project.set_config(config(renamed, project.namespace))
    rename = project.up()
    assert rename.ok, rename.output
    assert "GPU capacity not available" not in rename.output
    outputs = project.outputs()
    assert outputs["release_name"] == renamed and outputs["verification"]["passed"] is True
    assert not release_pods(kube, project.namespace, old_release)
    project.release = renamed

    moved = f"{project.namespace}-moved"
    try:
        project.set_config(config(renamed, moved))
        move = project.up()
        assert move.ok, move.output
        assert project.outputs()["namespace"] == moved and project.outputs()["verification"]["passed"] is True
        assert not release_pods(kube, project.namespace, renamed)
        print(f"full cluster: rename up {rename.seconds:.1f}s, namespace move up {move.seconds:.1f}s "
              f"(gate timeout 180s; first up {first.seconds:.1f}s)")
    finally:
        project.destroy()
        delete_namespace(kube, moved)


# --- point 9 ----------------------------------------------------------------------------------------------


def test_autoscaling_from_zero_nodes_succeeds_when_a_node_joins_after_the_pods_went_pending(deployed_project, kube):
    pool = f"e2e-pool-{uuid.uuid4().hex[:6]}"
    node = f"{pool}-node-0"
    project = deployed_project(
        scheduling={"nodeSelector": {"node-pool": pool}, "allowNodeAutoscaling": True, "nodeGroupGpus": 2},
        gpuWait={"timeoutMinutes": 3})
    core = client.CoreV1Api(kube)
    run = Run(project)
    try:
        pending = wait_for_unschedulable_pod(kube, project.release)
        pending_at = time.monotonic()
        time.sleep(PROVISIONING_SECONDS)  # the autoscaler's provisioning time is the situation under test
        create_gpu_node(core, node, {"node-pool": pool, "node-type": "gpu"})
        wait_for_nodes_ready(core, [node])
        returncode = run.finish(timeout=900)
        finished = time.monotonic() - pending_at
        assert returncode == 0, run.text
        assert "will wait Pending for the node autoscaler" in run.text, run.text
        assert project.outputs()["verification"]["passed"] is True
        assert {p.spec.node_name for p in release_pods(kube, project.namespace, project.release)} == {node}
        print(f"pod {pending} Unschedulable -> node added {PROVISIONING_SECONDS}s later -> pulumi up succeeded "
              f"{finished:.1f}s after the pod went Pending (total up {time.monotonic() - run.started:.1f}s)")
    finally:
        if run.process.poll() is None:
            run.process.kill()
        project.destroy()
        delete_node(core, node)


# --- point 10 ---------------------------------------------------------------------------------------------


def test_ctrl_c_during_the_gpu_wait_stops_within_seconds_and_the_next_up_starts_cleanly(deployed_project, blockers):
    project = deployed_project(gpuWait={"timeoutMinutes": 10})
    blockers()
    run = Run(project)
    run.wait_for_line("GPU gate", "placeable 0/1")
    returncode, stopped_after = run.interrupt()  # a wait that missed the Ctrl-C ends at its 10 min limit
    assert returncode != 0
    assert "GPU wait cancelled after" in run.text and "the next `pulumi up` waits again" in run.text, run.text
    assert pending_operations(project) == []

    blockers.free()
    again = project.up()
    assert again.ok, again.output
    assert "pending operation" not in again.output.lower(), again.output
    print(f"SIGINT during the GPU wait: pulumi up exited {stopped_after:.1f}s later (gate timeout 600s); "
          f"next up succeeded in {again.seconds:.1f}s")


def test_ctrl_c_during_the_verifications_pod_wait_stops_within_seconds_and_the_next_up_continues(
        deployed_project, kube):
    pool = f"e2e-pool-{uuid.uuid4().hex[:6]}"
    node = f"{pool}-node-0"
    project = deployed_project(
        scheduling={"nodeSelector": {"node-pool": pool}, "allowNodeAutoscaling": True, "nodeGroupGpus": 2})
    core = client.CoreV1Api(kube)
    run = Run(project)
    try:
        run.wait_for_line("pods:", "Unschedulable")  # the verification waits for a node that is not coming yet
    except BaseException:
        run.process.kill()
        raise
    returncode, stopped_after = run.interrupt()  # a missed Ctrl-C fails at the 10 min Unschedulable grace
    assert returncode != 0
    assert "cancelled by the user" in run.text and "the next `pulumi up` verifies again" in run.text, run.text
    assert pending_operations(project) == []

    try:
        create_gpu_node(core, node, {"node-pool": pool, "node-type": "gpu"})
        again = project.up()
        assert again.ok, again.output
        assert "pending operation" not in again.output.lower(), again.output
        assert project.outputs()["verification"]["passed"] is True
        print(f"SIGINT during the verification's pod wait: pulumi up exited {stopped_after:.1f}s later "
              f"(Unschedulable grace 600s); next up succeeded in {again.seconds:.1f}s")
    finally:
        project.destroy()
        delete_node(core, node)
