"""The GPU gate in the verified rollout: serving release pods keep their GPUs; an update needs the surge pod's."""

from __future__ import annotations

import pytest

from components.gpu_gate.capacity import GpuNeed, assess_capacity, describe_need, render_table, rollout_choice
from components.gpu_gate.progress import progress_line
from components.gpu_gate.waiter import GpuCapacityImpossible, GpuCapacityTimeout, wait_for_gpu_capacity

from .builders import node, pod, release_pod
from .fakes import FeedFactory
from .test_capacity import CHART_TOLERATION


def verified(replicas: int = 1, gpus: int = 2) -> GpuNeed:
    return GpuNeed(replicas=replicas, gpus_per_pod=gpus, tolerations=(CHART_TOLERATION,), namespace="system",
                   release_name="llama", rollout="verified", surge_pods=1)


def serving(name: str, node_name: str, gpus: int = 2) -> dict:
    p = release_pod(name, node_name, gpus)
    p["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return p


def test_first_install_needs_every_replica_and_no_surge():
    report = assess_capacity([node("g0", 2), node("g1", 2)], [], verified(replicas=2))
    assert report.pods_needed == 2 and report.satisfied and not report.rollout_update


def test_update_keeps_the_serving_pods_gpus_and_needs_one_extra_pod():
    nodes = [node("g0", 2), node("g1", 2)]
    report = assess_capacity(nodes, [serving("llama-old", "g0")], verified())
    assert report.serving_release_pods == 1 and report.pods_needed == 1 and report.rollout_update
    assert report.placeable_replicas == 1 and report.satisfied  # g1 is free for the surge pod
    full = assess_capacity(nodes, [serving("llama-old", "g0"), pod("other", "g1", 2)], verified())
    assert not full.satisfied and full.impossible_reason is None  # other workloads may free g1


def test_recreate_counts_the_release_pods_as_free():
    need = GpuNeed(replicas=1, gpus_per_pod=2, tolerations=(CHART_TOLERATION,), namespace="system",
                   release_name="llama")
    report = assess_capacity([node("g0", 2)], [serving("llama-old", "g0")], need)
    assert report.satisfied and report.pods_needed == 1 and not report.rollout_update


def test_a_release_pod_that_does_not_serve_counts_as_free():
    # e.g. the surge pod of a failed update: the next rollout replaces it, so its GPUs are the new pod's
    failed_surge = release_pod("llama-new", "g1", 2)
    report = assess_capacity([node("g0", 2), node("g1", 2)], [serving("llama-old", "g0"), failed_surge], verified())
    assert report.satisfied and report.pods_needed == 1


def test_hardware_too_small_for_a_surge_pod_is_impossible_and_names_the_choice():
    report = assess_capacity([node("g0", 2)], [serving("llama-old", "g0")], verified())
    assert report.impossible_reason == (
        "the verified rollout runs 1 serving pod plus 1 new pod at once, 2 nvidia.com/gpu each on one node, but even "
        "with every node matching node-type=gpu empty only 1 fit")
    choice = rollout_choice(report)
    assert "add GPU capacity" in choice and "vllm-deploy:release.rollout: recreate and accept downtime" in choice


def test_progress_says_what_the_rollout_needs():
    nodes = [node("g0", 2), node("g1", 2)]
    report = assess_capacity(nodes, [serving("llama-old", "g0"), pod("other", "g1", 2)], verified())
    line = progress_line(report.need, report, elapsed=3, timeout=60, next_check_in=2)
    assert "rollout needs 1 extra pod of 2 nvidia.com/gpu" in line and "placeable 0/1" in line
    assert "verified rollout (+1 surge pod)" in describe_need(report.need)
    assert "placeable now: 0 of 1 pods" in render_table(report)


def test_the_gate_fails_fast_with_the_choice_where_the_gpus_can_never_be_found():
    factory = FeedFactory([node("g0", 2)], [serving("llama-old", "g0")])
    with pytest.raises(GpuCapacityImpossible) as failure:
        wait_for_gpu_capacity(None, verified(), timeout_seconds=600, feed_factory=factory)
    message = str(failure.value)
    assert message.startswith("GPU capacity can never be met: the verified rollout runs 1 serving pod plus 1 new pod")
    assert "accept downtime" in message and "add GPU capacity" in message


def test_the_gate_times_out_on_a_full_cluster_with_the_choice():
    factory = FeedFactory([node("g0", 2), node("g1", 2)], [serving("llama-old", "g0"), pod("other", "g1", 2)])
    lines: list[str] = []
    with pytest.raises(GpuCapacityTimeout) as failure:
        wait_for_gpu_capacity(None, verified(), timeout_seconds=0.3, progress_interval_seconds=0.1,
                              on_progress=lines.append, feed_factory=factory)
    assert "0 of 1 pods placeable" in str(failure.value) and "accept downtime" in str(failure.value)
    assert any("rollout needs 1 extra pod of 2 nvidia.com/gpu" in line for line in lines)


def test_the_gate_passes_once_the_surge_pod_fits_and_says_what_it_waited_for():
    factory = FeedFactory([node("g0", 2), node("g1", 2)], [serving("llama-old", "g0")])
    lines: list[str] = []
    result = wait_for_gpu_capacity(None, verified(), timeout_seconds=5, on_progress=lines.append,
                                   feed_factory=factory)
    assert result.report.pods_needed == 1 and "rollout needs 1 extra pod of 2 nvidia.com/gpu" in lines[-1]
