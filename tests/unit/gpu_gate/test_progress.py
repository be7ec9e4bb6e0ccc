"""Progress lines: what is needed, what is free where, when the next check is."""

from __future__ import annotations

import pytest

from components.gpu_gate.capacity import GpuNeed, assess_capacity
from components.gpu_gate.progress import format_duration, progress_line

from .builders import cpu_node, node, pod

NEED = GpuNeed(replicas=2, gpus_per_pod=1, tolerations=({"key": "nvidia.com/gpu", "operator": "Exists"},),
               namespace="system", release_name="llama")


@pytest.mark.parametrize("seconds, text", [(0.44, "0.4s"), (42, "42s"), (303, "5m03s"), (3720, "1h02m"), (-1, "0.0s")])
def test_durations_read_naturally(seconds, text) -> None:
    assert format_duration(seconds) == text


def test_line_says_what_is_needed_what_is_free_where_and_when_the_next_check_is() -> None:
    report = assess_capacity([node("gpu-node-0", 2), node("gpu-node-1", 2, cordoned=True), cpu_node("cpu-node-0")],
                             [pod("o", "gpu-node-0", 2)], NEED)
    line = progress_line(NEED, report, elapsed=95, timeout=1800, next_check_in=12.3)
    assert line == (
        "GPU gate: need 2 pods x 1 nvidia.com/gpu on nodes node-type=gpu; placeable 0/2; "
        "free: gpu-node-0 0/2, gpu-node-1 2/2 (cordoned); next full check in 12s (watching for changes meanwhile); "
        "waited 1m35s of 30m00s"
    )


def test_line_before_the_cluster_was_read_names_the_api_trouble() -> None:
    line = progress_line(NEED, None, elapsed=3, timeout=60, next_check_in=1,
                         api_trouble="nodes: HTTP 503 Service Unavailable, retrying in 1.0s")
    assert "cluster state not read yet" in line
    assert "Kubernetes API trouble: nodes: HTTP 503 Service Unavailable, retrying in 1.0s" in line


def test_line_when_no_node_matches() -> None:
    report = assess_capacity([cpu_node("cpu-node-0")], [], NEED)
    assert "free: no node matches the node selector" in progress_line(NEED, report, elapsed=0, timeout=60,
                                                                      next_check_in=5)
