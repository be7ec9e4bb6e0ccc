"""The GPU gate against a real Kubernetes API: the local control plane with kwok GPU nodes.

The gate runs on a thread; the test waits for its progress lines (with a generous limit) and for its end (the
gate's own timeout bounds it). Nothing here asserts on timing: how a wait ended (passed, impossible, timed out)
tells a fast failure from a wait that ran out; ``-s`` shows how long each wait took.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from components.gpu_gate.capacity import GpuNeed
from components.gpu_gate.inputs import PROVIDER_VERSION
from components.gpu_gate.resource import GpuCapacityGateProvider
from components.gpu_gate.waiter import GpuCapacityImpossible, GpuCapacityTimeout, wait_for_gpu_capacity
from components.kube import KubeAccess, api_client_for

from . import kube_helpers as kube
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.cluster

BOUNDED = 60.0
FAST = dict(backoff_initial_seconds=0.2, backoff_max_seconds=2.0, progress_interval_seconds=5.0)


class Lines:
    """Progress lines, with a bounded wait for one containing some text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, line: str) -> None:
        print(line, file=sys.stderr)
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = BOUNDED) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: any(text in line for line in self.lines), timeout)


class GateThread:
    """``wait_for_gpu_capacity`` on a thread; ``outcome`` holds its result or error once it ends."""

    def __init__(self, api, need: GpuNeed, **settings) -> None:
        self.lines = Lines()
        self.outcome: dict = {}
        self._thread = threading.Thread(target=self._run, args=(api, need, settings), daemon=True)
        self._thread.start()

    def _run(self, api, need, settings) -> None:
        try:
            self.outcome["result"] = wait_for_gpu_capacity(api, need, on_progress=self.lines, **settings)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            self.outcome["error"] = exc
        self.outcome["ended_at"] = time.monotonic()

    def join(self, timeout: float | None = None) -> dict:
        """The outcome once the gate ended (its ``timeout_seconds`` bounds the wait unless ``timeout`` is given)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the gate did not end within {timeout}s:\n" + "\n".join(self.lines.lines)
        return self.outcome


def test_passes_when_gpus_are_freed_while_waiting(api, pool) -> None:
    blockers = [pool.hold(node, 2) for node in pool.nodes]
    gate = GateThread(api, pool.need(replicas=1, gpus=2), timeout_seconds=300, **FAST)
    assert gate.lines.wait_for("placeable 0/1")

    freed_at = time.monotonic()
    pool.release(blockers[0])
    outcome = gate.join()

    assert outcome["result"].report.placeable_replicas == 1
    assert outcome["result"].report.satisfied
    print(f"passed {outcome['ended_at'] - freed_at:.3f}s after the GPUs were freed", file=sys.stderr)


def test_times_out_with_the_per_node_table_when_gpus_never_free(api, pool, core) -> None:
    busy, cordoned = pool.nodes
    pool.hold(busy, 2)
    core.patch_node(cordoned, {"spec": {"unschedulable": True}})
    no_plugin = pool.add_node(gpus=None)

    gate = GateThread(api, pool.need(replicas=1, gpus=1), timeout_seconds=4, **FAST)
    error = gate.join()["error"]

    assert isinstance(error, GpuCapacityTimeout)
    message = str(error)
    assert "GPU capacity not available after 4.0s" in message and "0 of 1 pods placeable" in message
    table = {line.split()[0]: line for line in message.splitlines() if line.startswith("gpu-gate-node")}
    assert set(table) == {busy, cordoned, no_plugin}
    assert table[busy].split()[4:7] == ["2", "2", "0"]  # allocatable, requested, free
    assert "cordoned" in table[cordoned]
    assert "device plugin not ready" in table[no_plugin]
    assert f"(device plugin not ready?): {no_plugin}" in message


def test_impossible_request_fails_in_seconds(api, pool) -> None:
    gate = GateThread(api, pool.need(replicas=1, gpus=3), timeout_seconds=300, **FAST)
    outcome = gate.join()  # GpuCapacityImpossible at once, not GpuCapacityTimeout after 300 s
    assert isinstance(outcome["error"], GpuCapacityImpossible)
    assert "each pod needs 3 nvidia.com/gpu but the largest node matching" in outcome["error"].reason
    assert "has 2 allocatable" in outcome["error"].reason


def test_no_matching_node_fails_in_seconds(api, pool) -> None:
    need = pool.need(node_selector={"gpu-gate-test": "no-such-pool"})
    outcome = GateThread(api, need, timeout_seconds=300, **FAST).join()  # impossible at once, not a timeout
    assert isinstance(outcome["error"], GpuCapacityImpossible)
    assert "no node matches node selector gpu-gate-test=no-such-pool" in outcome["error"].reason


def test_keeps_waiting_through_an_api_server_outage(api, pool, cluster, core) -> None:
    """The gate reaches the API through a proxy that is taken down and brought back, as a restart looks."""
    blockers = [pool.hold(node, 2) for node in pool.nodes]
    server = yaml.safe_load(Path(cluster.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    host, port = server.removeprefix("https://").rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    proxy.start()
    try:
        with api_client_for(KubeAccess(_kubeconfig_via(cluster, proxy.address), cluster.context)) as proxied:
            gate = GateThread(proxied, pool.need(replicas=1, gpus=2), timeout_seconds=300, **FAST)
            assert gate.lines.wait_for("placeable 0/1")

            proxy.stop()
            assert gate.lines.wait_for("Kubernetes API trouble")
            pool.release(blockers[1])  # capacity appears while the gate cannot see the API
            assert "result" not in gate.outcome and "error" not in gate.outcome

            proxy.start()
            outcome = gate.join()
        assert outcome["result"].report.placeable_replicas == 1
    finally:
        proxy.stop()


@pytest.mark.skipif(
    "tools/cluster restart" not in (Path(__file__).resolve().parents[3] / "tools" / "cluster").read_text(),
    reason="tools/cluster has no command to restart the API server (a proxy outage is tested instead)",
)
def test_keeps_waiting_through_a_real_api_server_restart(api, pool) -> None:  # pragma: no cover - needs tools
    import subprocess

    blockers = [pool.hold(node, 2) for node in pool.nodes]
    gate = GateThread(api, pool.need(replicas=1, gpus=2), timeout_seconds=300, **FAST)
    assert gate.lines.wait_for("placeable 0/1")
    cluster_script = Path(__file__).resolve().parents[3] / "tools" / "cluster"
    subprocess.run([str(cluster_script), "restart", "kube-apiserver"], check=True, timeout=180)
    pool.release(blockers[0])
    assert gate.join(180)["result"].report.placeable_replicas == 1


def test_gpus_of_the_release_itself_count_as_free(api, pool) -> None:
    release = {"app.kubernetes.io/instance": "gpu-gate-test-release"}
    for node in pool.nodes:
        pool.hold(node, 2, labels=release)
    need = pool.need(replicas=2, gpus=2)
    assert GateThread(api, need, timeout_seconds=60, **FAST).join()["result"].report.placeable_replicas == 2

    other = GateThread(api, pool.need(replicas=2, gpus=2, release_name="another-release"), timeout_seconds=2, **FAST)
    assert isinstance(other.join()["error"], GpuCapacityTimeout)


def test_the_standard_gpu_nodes_are_seen_as_the_scheduler_sees_them(api, cluster) -> None:
    """Read-only on the shared nodes: ask for more GPUs per pod than a node has, and read the report."""
    need = GpuNeed(replicas=1, gpus_per_pod=3, tolerations=(kube.TOLERATION,), namespace="system",
                   release_name="gpu-gate-read-only")
    error = GateThread(api, need, timeout_seconds=300, **FAST).join()["error"]
    assert isinstance(error, GpuCapacityImpossible)
    assert "largest node matching node-type=gpu has 2 allocatable" in error.reason
    by_name = {n.name: n for n in error.report.nodes}
    for name in cluster.gpu_nodes:
        assert by_name[name].allocatable == 2 and by_name[name].matches_selector
    for name in cluster.cpu_nodes:
        assert "does not match node selector node-type=gpu" in by_name[name].excluded_reason


def test_provider_create_waits_with_the_stack_kubeconfig(api, pool, cluster, capfd) -> None:
    """The dynamic provider end to end: kubeconfig text and context in, outputs without the kubeconfig out."""
    props = {
        "kubeconfig": Path(cluster.kubeconfig).read_text(),
        "context": cluster.context,
        "namespace": pool.namespace,
        "release_name": "gpu-gate-test-release",
        "replicas": 2.0,
        "gpus_per_pod": 2.0,
        "gpu_resource": kube.GPU,
        "node_selector": dict(pool.label),
        "tolerations": [kube.TOLERATION],
        "timeout_seconds": 60.0,
        "backoff_initial_seconds": 0.2,
        "backoff_max_seconds": 2.0,
        "progress_interval_seconds": 5.0,
        "allow_node_autoscaling": False,
        "provider_version": PROVIDER_VERSION,
    }
    provider = GpuCapacityGateProvider()
    assert provider.check({}, props).failures == []
    result = provider.create(props)

    assert result.outs["placeable_replicas"] == 2
    assert "kubeconfig" not in result.outs
    assert sorted(n["name"] for n in result.outs["nodes"]) == sorted(pool.nodes)
    assert "info: GPU gate passed" in capfd.readouterr().err  # pulumi.log.info prints to stderr here


def _kubeconfig_via(cluster, address: str) -> str:
    """The cluster's kubeconfig text, pointed at ``address`` (the certificate is for 127.0.0.1 either way)."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://{address}"
    return yaml.safe_dump(config)
