"""Fixtures for the GPU gate against the local control plane (tools/cluster) with kwok GPU nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from kubernetes import client

from components.gpu_gate.capacity import GpuNeed
from components.kube import KubeAccess, api_client_for
from tests.support.cluster import ensure_cluster, tools_available

from . import kube_helpers as kube


@pytest.fixture(scope="session")
def cluster():
    if not tools_available():
        pytest.skip("the local cluster's binaries are not built (tools/build)")
    return ensure_cluster()


@pytest.fixture
def api(cluster):
    with api_client_for(KubeAccess(kubeconfig=str(cluster.kubeconfig), context=cluster.context)) as api_client:
        yield api_client


@pytest.fixture
def core(api) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@dataclass
class GpuPool:
    """Temporary GPU nodes under a label of their own, and a namespace for the pods that hold their GPUs."""

    core: client.CoreV1Api
    label: dict
    namespace: str
    nodes: list[str] = field(default_factory=list)

    def add_node(self, gpus: str | None = "2", *, cordoned: bool = False) -> str:
        name = kube.unique("gpu-gate-node")
        kube.create_gpu_node(self.core, name, {**self.label, "node-type": "gpu-gate-test"}, gpus)
        self.nodes.append(name)
        if cordoned:
            self.core.patch_node(name, {"spec": {"unschedulable": True}})
        return name

    def need(self, replicas: int = 1, gpus: int = 1, **overrides) -> GpuNeed:
        settings = dict(gpu_resource=kube.GPU, node_selector=dict(self.label), tolerations=(kube.TOLERATION,),
                        namespace=self.namespace, release_name="gpu-gate-test-release")
        settings.update(overrides)
        return GpuNeed(replicas=replicas, gpus_per_pod=gpus, **settings)

    def hold(self, node: str, gpus: int, **kwargs) -> str:
        return kube.hold_gpus(self.core, self.namespace, node, gpus, **kwargs)

    def release(self, pod: str) -> None:
        kube.release_gpus(self.core, self.namespace, pod)


@pytest.fixture
def pool(core):
    """Two Ready 2-GPU kwok nodes labelled for this test only, and a namespace; all removed afterwards."""
    run = kube.unique("run")
    gpu_pool = GpuPool(core, {"gpu-gate-test": run}, kube.unique("gpu-gate"))
    kube.create_namespace(core, gpu_pool.namespace)
    try:
        gpu_pool.add_node()
        gpu_pool.add_node()
        kube.wait_for_nodes_ready(core, gpu_pool.nodes)
        yield gpu_pool
    finally:
        kube.delete_namespace(core, gpu_pool.namespace)
        for name in gpu_pool.nodes:
            kube.delete_node(core, name)
