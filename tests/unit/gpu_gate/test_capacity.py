"""Scheduler-like GPU fit maths: a table of cluster situations, then the building blocks one by one."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from components.gpu_gate.capacity import (
    GpuNeed,
    assess_capacity,
    gpu_quantity,
    parse_quantity,
    pod_request,
    render_table,
    toleration_tolerates,
)

from .builders import GPU, GPU_TAINT, container, cpu_node, node, pod, release_pod

CHART_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}


def need(replicas: int = 1, gpus: int = 1, **overrides) -> GpuNeed:
    settings = dict(tolerations=(CHART_TOLERATION,), namespace="system", release_name="llama")
    settings.update(overrides)
    return GpuNeed(replicas=replicas, gpus_per_pod=gpus, **settings)


@dataclass
class Situation:
    id: str
    nodes: list
    pods: list
    need: GpuNeed
    placeable: int
    satisfied: bool
    impossible: str | None = None  # substring of the reason; None = still possible
    excluded: dict = field(default_factory=dict)  # node -> substring of excluded_reason (None = eligible)
    free: dict = field(default_factory=dict)  # node -> free GPUs


SITUATIONS = [
    Situation("empty GPU node, chart tolerates the GPU taint", [node("g0", 2)], [], need(), 2, True,
              excluded={"g0": None}, free={"g0": 2}),
    Situation("GPU node fully taken by another workload", [node("g0", 2)], [pod("other", "g0", 2)], need(), 0, False,
              free={"g0": 0}),
    Situation("untolerated taint excludes the node",
              [node("g0", 2, taints=[GPU_TAINT, {"key": "dedicated", "value": "ml", "effect": "NoSchedule"}])], [],
              need(), 0, False, excluded={"g0": "untolerated taint dedicated=ml:NoSchedule"}),
    Situation("NoExecute taint needs a toleration of that effect",
              [node("g0", 2, taints=[{"key": GPU, "effect": "NoExecute"}])], [], need(), 0, False,
              excluded={"g0": "untolerated taint nvidia.com/gpu:NoExecute"}),
    Situation("PreferNoSchedule taints do not exclude",
              [node("g0", 2, taints=[{"key": "spot", "effect": "PreferNoSchedule"}])], [], need(), 2, True,
              excluded={"g0": None}),
    Situation("Equal toleration with another value does not tolerate",
              [node("g0", 2, taints=[{"key": "pool", "value": "a", "effect": "NoSchedule"}])], [],
              need(tolerations=({"key": "pool", "operator": "Equal", "value": "b"},)), 0, False,
              excluded={"g0": "pool=a:NoSchedule"}),
    Situation("empty key with Exists tolerates every taint, the cordon included",
              [node("g0", 2, taints=[{"key": "any", "value": "x", "effect": "NoExecute"}], cordoned=True)], [],
              need(tolerations=({"operator": "Exists"},)), 2, True, excluded={"g0": None}),
    Situation("cordoned node is excluded but may be uncordoned", [node("g0", 2, cordoned=True), node("g1", 2)],
              [pod("o", "g1", 2)], need(), 0, False, excluded={"g0": "cordoned", "g1": None}),
    Situation("NotReady node is excluded", [node("g0", 2, ready="False")], [], need(), 0, False,
              excluded={"g0": "not ready"}),
    Situation("node with Ready Unknown is excluded", [node("g0", 2, ready="Unknown")], [], need(), 0, False,
              excluded={"g0": "not ready"}),
    Situation("Succeeded and Failed pods hold no GPUs", [node("g0", 2)],
              [pod("done", "g0", 1, phase="Succeeded"), pod("crashed", "g0", 1, phase="Failed")], need(2), 2, True,
              free={"g0": 2}),
    Situation("pending pods not bound to a node take nothing", [node("g0", 2)],
              [pod("pending", None, 2, phase="Pending")], need(2), 2, True, free={"g0": 2}),
    Situation("init containers: the larger of init max and container sum",
              [node("g0", 4)],
              [pod("o", "g0", containers=[container(1)], init_containers=[container(3), container(2)])],
              need(), 1, True, free={"g0": 1}),
    Situation("sidecar init containers add to the running containers",
              [node("g0", 4)],
              [pod("o", "g0", containers=[container(1)], init_containers=[container(1, restart_policy="Always")])],
              need(), 2, True, free={"g0": 2}),
    Situation("pod overhead adds to the request", [node("g0", 4)], [pod("o", "g0", 1, overhead={GPU: "1"})],
              need(gpus=2), 1, True, free={"g0": 2}),
    Situation("several replicas spread over nodes", [node("g0", 2), node("g1", 2)], [pod("o", "g1", 1)],
              need(3), 3, True, free={"g0": 2, "g1": 1}),
    Situation("each pod must fit on one node: 2 free GPUs on two nodes are not one 2-GPU slot",
              [node("g0", 2), node("g1", 2)], [pod("a", "g0", 1), pod("b", "g1", 1)], need(1, 2), 0, False,
              free={"g0": 1, "g1": 1}),
    Situation("own pods on update count as free", [node("g0", 2)], [release_pod("llama-0", "g0", 2)], need(1, 2),
              1, True, free={"g0": 2}),
    Situation("same label in another namespace is not the release", [node("g0", 2)],
              [release_pod("llama-0", "g0", 2, namespace="elsewhere")], need(1, 2), 0, False, free={"g0": 0}),
    Situation("renamed release: the old name's pods are deleted first, so their GPUs count as free",
              [node("g0", 2), node("g1", 2)],
              [release_pod("old-0", "g0", 2, release="old"), release_pod("old-1", "g1", 2, release="old")],
              need(2, 2, replacing=(("system", "old"),)), 2, True, free={"g0": 2, "g1": 2}),
    Situation("moved namespace: the pods in the old namespace count as free",
              [node("g0", 2)], [release_pod("llama-0", "g0", 2, namespace="before")],
              need(1, 2, replacing=(("before", "llama"),)), 1, True, free={"g0": 2}),
    Situation("a rename without the previous release named keeps the old pods' GPUs taken",
              [node("g0", 2)], [release_pod("old-0", "g0", 2, release="old")], need(1, 2), 0, False, free={"g0": 0}),
    Situation("GPU-labelled node without GPUs: device plugin not ready, so not impossible",
              [node("g0", 2), node("g1", None)], [pod("o", "g0", 2)], need(1, 4), 0, False,
              excluded={"g1": "device plugin not ready"}),
    Situation("GPU-labelled node reporting 0 GPUs", [node("g0", "0")], [], need(), 0, False,
              excluded={"g0": "device plugin not ready"}),
    Situation("CPU nodes never match the GPU selector", [cpu_node("c0"), node("g0", 2)], [], need(), 2, True,
              excluded={"c0": "does not match node selector node-type=gpu", "g0": None}),
    Situation("no node matches the selector: impossible", [cpu_node("c0")], [], need(), 0, False,
              impossible="no node matches node selector node-type=gpu"),
    Situation("no node matches, but an autoscaler may add one", [cpu_node("c0")], [], need(allow_node_autoscaling=True),
              0, False),
    Situation("autoscaling from zero: the declared node group fits a pod, so the pods may go Pending",
              [cpu_node("c0")], [], need(2, 2, allow_node_autoscaling=True, node_group_gpus=4), 0, True),
    Situation("autoscaling: a busy node of the group shows the shape the autoscaler adds",
              [node("g0", 2)], [pod("o", "g0", 2)], need(1, 2, allow_node_autoscaling=True), 0, True),
    Situation("autoscaling: a busy node too small for the pod is no template",
              [node("g0", 2)], [pod("o", "g0", 2)], need(1, 4, allow_node_autoscaling=True), 0, False),
    Situation("autoscaling: a node group smaller than the pod can never fit it",
              [cpu_node("c0")], [], need(1, 4, allow_node_autoscaling=True, node_group_gpus=2), 0, False,
              impossible="the autoscaler's node group adds nodes of 2"),
    Situation("pod larger than any matching node: impossible", [node("g0", 2), node("g1", 2)], [], need(1, 4), 0, False,
              impossible="each pod needs 4 nvidia.com/gpu but the largest node matching node-type=gpu has 2"),
    Situation("more one-node slots needed than exist even when empty: impossible",
              [node("g0", 2), node("g1", 2)], [], need(3, 2), 2, False, impossible="only 2 fit"),
    Situation("busy cluster that could fit when emptied is only waiting", [node("g0", 2), node("g1", 2)],
              [pod("a", "g0", 2), pod("b", "g1", 2)], need(2, 2), 0, False),
    Situation("quantities as strings, milli-units and limits-only containers",
              [node("g0", "4000m")], [pod("o", "g0", containers=[container("1", limits_only=True)])], need(1, 3),
              1, True, free={"g0": 3}),
    Situation("empty node selector: every node matches, CPU-only nodes just have no GPUs",
              [cpu_node("c0"), node("g0", 2)], [], need(node_selector={}), 2, True,
              excluded={"c0": "no nvidia.com/gpu", "g0": None}),
]


@pytest.mark.parametrize("situation", SITUATIONS, ids=[s.id for s in SITUATIONS])
def test_capacity_situation(situation: Situation) -> None:
    report = assess_capacity(situation.nodes, situation.pods, situation.need)
    by_name = {n.name: n for n in report.nodes}

    assert report.placeable_replicas == situation.placeable
    assert report.satisfied is situation.satisfied
    if situation.impossible is None:
        assert report.impossible_reason is None
    else:
        assert situation.impossible in (report.impossible_reason or "")
    for name, reason in situation.excluded.items():
        if reason is None:
            assert by_name[name].excluded_reason is None
        else:
            assert reason in (by_name[name].excluded_reason or "")
    for name, free in situation.free.items():
        assert by_name[name].free == free


def test_the_table_covers_at_least_fifteen_situations() -> None:
    assert len(SITUATIONS) >= 15


def test_node_capacity_fields_describe_the_node() -> None:
    report = assess_capacity(
        [node("g0", 2, ready="False", cordoned=True, taints=[{"key": "team", "value": "a", "effect": "NoSchedule"}])],
        [pod("o", "g0", 1), release_pod("llama-0", "g0", 1)],
        need(),
    )
    (g0,) = report.nodes
    assert (g0.ready, g0.cordoned, g0.allocatable, g0.requested, g0.free, g0.held_by_release) == (
        False, True, 2, 1, 1, 1
    )
    assert set(g0.untolerated_taints) == {
        "team=a:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule",
        "node.kubernetes.io/not-ready:NoSchedule",
    }
    assert g0.excluded_reason == "not ready; cordoned; untolerated taint team=a:NoSchedule"


def test_table_shows_every_column_and_calls_out_nodes_without_gpus() -> None:
    report = assess_capacity(
        [node("gpu-node-0", 2, cordoned=True), node("gpu-node-1", None), cpu_node("cpu-node-0")],
        [pod("o", "gpu-node-0", 1)],
        need(),
    )
    table = render_table(report)
    header = table.splitlines()[0].split()
    assert header[:2] == ["NODE", "READY"] and "CORDONED" in header and "ALLOCATABLE" in header
    assert "UNTOLERATED TAINTS" in table and "REQUESTED" in table and "FREE" in table and "WHY EXCLUDED" in table
    row = next(line for line in table.splitlines() if line.startswith("gpu-node-0"))
    assert row.split()[:3] == ["gpu-node-0", "yes", "yes"] and "cordoned" in row
    assert "device plugin not ready?): gpu-node-1" in table
    assert "does not match node selector" in next(line for line in table.splitlines() if line.startswith("cpu-node-0"))
    assert "placeable now: 0 of 1 pods" in table


def test_table_of_an_empty_cluster_says_so() -> None:
    assert "(the cluster has no nodes)" in render_table(assess_capacity([], [], need()))


def test_table_shows_gpus_held_by_the_release() -> None:
    table = render_table(assess_capacity([node("g0", 2)], [release_pod("llama-0", "g0", 1)], need()))
    assert "0 (+1 release)" in table


def test_zero_replicas_are_always_satisfied() -> None:
    report = assess_capacity([], [], need(0))
    assert report.satisfied and report.impossible_reason is None


@pytest.mark.parametrize(
    "text, expected",
    [("2", 2), (2, 2), (2.0, 2), ("2000m", 2), ("1500m", Decimal("1.5")), ("1k", 1000), ("1Ki", 1024),
     ("1e3", 1000), (" 3 ", 3), ("0", 0)],
)
def test_parse_quantity(text, expected) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "two", "1X", "--1", True, float("nan")])
def test_parse_quantity_rejects_garbage(text) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_gpu_quantity_rounds_capacity_down_and_requests_up() -> None:
    assert gpu_quantity("1500m") == 1
    assert gpu_quantity("1500m", round_up=True) == 2
    assert gpu_quantity(None) == 0 and gpu_quantity("garbage") == 0 and gpu_quantity("-1") == 0


@pytest.mark.parametrize(
    "toleration, taint, tolerated",
    [
        ({"key": GPU, "operator": "Exists", "effect": "NoSchedule"}, {"key": GPU, "effect": "NoSchedule"}, True),
        ({"key": GPU, "operator": "Exists"}, {"key": GPU, "effect": "NoExecute"}, True),  # empty effect = all
        ({"key": GPU, "operator": "Exists", "effect": "NoSchedule"}, {"key": GPU, "effect": "NoExecute"}, False),
        ({"operator": "Exists"}, {"key": "anything", "value": "v", "effect": "NoExecute"}, True),
        ({"operator": "Equal"}, {"key": "anything", "effect": "NoSchedule"}, False),  # empty key needs Exists
        ({"key": "pool", "value": "a"}, {"key": "pool", "value": "a", "effect": "NoSchedule"}, True),  # Equal default
        ({"key": "pool", "operator": "Equal", "value": "a"},
         {"key": "pool", "value": "b", "effect": "NoSchedule"}, False),
        ({"key": "pool", "operator": "Equal"}, {"key": "pool", "effect": "NoSchedule"}, True),  # both values empty
        ({"key": "other", "operator": "Exists"}, {"key": "pool", "effect": "NoSchedule"}, False),
    ],
)
def test_toleration_matching_follows_kubernetes(toleration, taint, tolerated) -> None:
    assert toleration_tolerates(toleration, taint) is tolerated


def test_pod_request_formula() -> None:
    spec_pod = pod(
        "p",
        "n",
        containers=[container(1), container(2)],
        init_containers=[container(4), container(1, restart_policy="Always"), container(3)],
        overhead={GPU: 1},
    )
    # containers 3 + sidecar 1 = 4; init peak max(4, 1, 1 + 3) = 4; plus overhead 1
    assert pod_request(spec_pod, GPU) == 5
    assert pod_request(pod("cpu-only", "n", None), GPU) == 0
