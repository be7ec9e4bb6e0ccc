"""The waiting loop against an in-memory feed (the real API is in tests/integration/gpu_gate)."""

from __future__ import annotations

import threading

import pytest

from components.cancellation import Cancellation
from components.gpu_gate.capacity import GpuNeed
from components.gpu_gate.cluster_feed import ApiTrouble, Snapshot
from components.gpu_gate.waiter import (
    GpuCapacityApiError,
    GpuCapacityCancelled,
    GpuCapacityImpossible,
    GpuCapacityTimeout,
    wait_for_gpu_capacity,
)

from .builders import GPU, cpu_node, node, pod
from .fakes import FeedFactory

TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
BOUNDED = 10.0  # generous upper bound for waits that should end much sooner


def need(replicas: int = 1, gpus: int = 2, **overrides) -> GpuNeed:
    return GpuNeed(replicas=replicas, gpus_per_pod=gpus, tolerations=(TOLERATION,), namespace="system",
                   release_name="llama", **overrides)


class Lines:
    """Collects progress lines and lets a test wait for one that contains some text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def wait_until(self, predicate, timeout: float = BOUNDED) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.lines), timeout)

    def wait_for(self, text: str, timeout: float = BOUNDED) -> bool:
        return self.wait_until(lambda seen: any(text in line for line in seen), timeout)


def run_in_thread(**kwargs):
    """Start ``wait_for_gpu_capacity`` on a thread; returns (thread, outcome dict)."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = wait_for_gpu_capacity(None, **kwargs)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_passes_at_once_when_capacity_is_there() -> None:
    factory = FeedFactory([node("g0", 2)], [])
    lines = Lines()
    result = wait_for_gpu_capacity(None, need(), timeout_seconds=BOUNDED, feed_factory=factory, on_progress=lines)
    print(f"\nmeasured: passed after {result.waited_seconds:.3f}s")
    assert result.report.placeable_replicas == 1
    assert factory.feed.relists == 0  # passed on the first events, before any periodic re-check
    assert factory.feed.stopped.is_set()
    assert len(lines.lines) == 1 and lines.lines[0].startswith("GPU gate passed"), lines.lines  # no waiting line


def test_passes_when_the_blocking_pod_is_deleted() -> None:
    blocker = pod("blocker", "g0", 2)
    factory = FeedFactory([node("g0", 2)], [blocker])
    lines = Lines()
    thread, outcome = run_in_thread(need=need(), timeout_seconds=BOUNDED, feed_factory=factory, on_progress=lines)
    assert lines.wait_for("placeable 0/1")
    factory.feed.delete("pods", blocker)
    thread.join(BOUNDED)
    assert outcome["result"].report.placeable_replicas == 1
    assert factory.feed.stopped.is_set()


def test_passes_when_a_node_joins() -> None:
    factory = FeedFactory([node("g0", 2)], [pod("blocker", "g0", 2)])
    lines = Lines()
    thread, outcome = run_in_thread(need=need(), timeout_seconds=BOUNDED, feed_factory=factory, on_progress=lines)
    assert lines.wait_for("placeable 0/1")
    factory.feed.add("nodes", node("g1", 2))
    thread.join(BOUNDED)
    assert outcome["result"].report.placeable_replicas == 1


def test_times_out_with_the_per_node_table() -> None:
    factory = FeedFactory([node("g0", 2, cordoned=True), node("g1", 2), cpu_node("c0")], [pod("o", "g1", 2)])
    with pytest.raises(GpuCapacityTimeout) as caught:
        wait_for_gpu_capacity(None, need(), timeout_seconds=0.3, feed_factory=factory)
    message = str(caught.value)
    assert "GPU capacity not available after" in message and "0 of 1 pods placeable" in message
    assert "NODE" in message and "WHY EXCLUDED" in message
    assert all(name in message for name in ("g0", "g1", "c0"))
    assert caught.value.report.placeable_replicas == 0
    assert factory.feed.stopped.is_set()


def test_impossible_need_fails_without_waiting_out_the_timeout() -> None:
    factory = FeedFactory([node("g0", 2)], [])
    with pytest.raises(GpuCapacityImpossible) as caught:
        wait_for_gpu_capacity(None, need(gpus=4), timeout_seconds=600, feed_factory=factory)
    assert "largest node matching node-type=gpu has 2" in caught.value.reason
    assert "NODE" in str(caught.value)


def test_no_matching_node_fails_fast_unless_an_autoscaler_may_add_one() -> None:
    with pytest.raises(GpuCapacityImpossible, match="no node matches node selector"):
        wait_for_gpu_capacity(None, need(), timeout_seconds=600, feed_factory=FeedFactory([cpu_node("c0")], []))
    with pytest.raises(GpuCapacityTimeout):
        wait_for_gpu_capacity(None, need(allow_node_autoscaling=True), timeout_seconds=0.2,
                              feed_factory=FeedFactory([cpu_node("c0")], []))


def test_cancellation_ends_the_wait_at_once_not_at_the_timeout() -> None:
    factory = FeedFactory([node("g0", 2)], [pod("blocker", "g0", 2)])
    lines, cancellation = Lines(), Cancellation()
    thread, outcome = run_in_thread(need=need(), timeout_seconds=3600, feed_factory=factory, on_progress=lines,
                                    cancellation=cancellation)
    assert lines.wait_for("placeable 0/1")
    cancellation.cancel("cancelled by the user")
    thread.join(BOUNDED)
    assert not thread.is_alive(), "the wait did not end on cancellation"
    error = outcome["error"]
    assert isinstance(error, GpuCapacityCancelled)
    assert "GPU wait cancelled after" in str(error) and "0 of 1 pods placeable" in str(error)
    assert "the next `pulumi up` waits again" in str(error)
    assert factory.feed.stopped.is_set()


def test_autoscaling_from_zero_passes_once_the_node_group_fits_so_the_pods_can_go_pending() -> None:
    lines = Lines()
    result = wait_for_gpu_capacity(None, need(2, allow_node_autoscaling=True, node_group_gpus=2), timeout_seconds=600,
                                   feed_factory=FeedFactory([cpu_node("c0")], []), on_progress=lines)
    assert result.report.placeable_replicas == 0 and result.report.waits_for_autoscaler == 2
    assert "2 pods will wait Pending for the node autoscaler (its node group adds nodes of 2 nvidia.com/gpu" \
        in lines.lines[-1]


def test_autoscaling_without_a_known_node_group_says_what_to_declare() -> None:
    with pytest.raises(GpuCapacityTimeout, match="set scheduling.nodeGroupGpus"):
        wait_for_gpu_capacity(None, need(allow_node_autoscaling=True), timeout_seconds=0.2,
                              feed_factory=FeedFactory([cpu_node("c0")], []))


def test_api_trouble_is_reported_and_waited_through() -> None:
    factory = FeedFactory([node("g0", 2)], [pod("blocker", "g0", 2)])
    lines = Lines()
    thread, outcome = run_in_thread(need=need(), timeout_seconds=BOUNDED, feed_factory=factory, on_progress=lines)
    assert lines.wait_for("placeable 0/1")
    factory.feed.trouble("pods", "MaxRetryError: connection refused")
    assert lines.wait_for("Kubernetes API trouble: pods: MaxRetryError: connection refused, retrying in")
    factory.feed.trouble("nodes", "HTTP 503 Service Unavailable", 503)
    assert lines.wait_for("HTTP 503")
    factory.feed._emit(Snapshot("pods", ()))  # the API is back: a fresh list
    thread.join(BOUNDED)
    assert outcome["result"].report.placeable_replicas == 1


def test_timeout_names_the_last_api_error_when_the_cluster_was_never_read() -> None:
    trouble = ApiTrouble("nodes", "MaxRetryError: connection refused", None, 1.0)
    factory = FeedFactory([], [], start_with=[trouble], silent=True)
    with pytest.raises(GpuCapacityTimeout) as caught:
        wait_for_gpu_capacity(None, need(), timeout_seconds=0.2, feed_factory=factory)
    assert caught.value.report is None
    assert "could not be read" in str(caught.value)
    assert "last Kubernetes API error: nodes: MaxRetryError: connection refused" in str(caught.value)


def test_persistent_permission_errors_end_the_wait() -> None:
    factory = FeedFactory([node("g0", 2)], [pod("blocker", "g0", 2)])
    lines = Lines()
    thread, outcome = run_in_thread(need=need(), timeout_seconds=BOUNDED, auth_grace_seconds=0.2,
                                    feed_factory=factory, on_progress=lines)
    assert lines.wait_for("placeable 0/1")
    factory.feed.trouble("pods", "HTTP 403 Forbidden", 403)
    thread.join(BOUNDED)
    error = outcome["error"]
    assert isinstance(error, GpuCapacityApiError)
    assert "refused to list pods" in str(error) and "list and watch on nodes and on pods" in str(error)


def test_progress_at_each_change_and_at_least_every_interval() -> None:
    factory = FeedFactory([node("g0", 2), node("g1", 2)], [pod("a", "g0", 2), pod("b", "g1", 1), pod("c", "g1", 1)])
    lines = Lines()
    thread, outcome = run_in_thread(need=need(), timeout_seconds=BOUNDED, progress_interval_seconds=0.05,
                                    feed_factory=factory, on_progress=lines)
    assert lines.wait_for("g1 0/2")
    # nothing changes: still a line per interval
    count = len(lines.lines)
    assert lines.wait_until(lambda seen: len(seen) >= count + 3)
    factory.feed.delete("pods", pod("b", "g1", 1))
    assert lines.wait_for("g1 1/2")
    factory.feed.delete("pods", pod("c", "g1", 1))
    thread.join(BOUNDED)
    assert "result" in outcome
    waiting = [line for line in lines.lines if line.startswith("GPU gate: need")]
    first = waiting[0]
    assert "need 1 pod x 2 nvidia.com/gpu on nodes node-type=gpu" in first
    assert "free: g0 0/2, g1 0/2" in first
    assert "next full check in" in first and "waited" in first


def test_relists_on_the_fallback_schedule() -> None:
    factory = FeedFactory([node("g0", 2)], [pod("blocker", "g0", 2)])
    with pytest.raises(GpuCapacityTimeout):
        wait_for_gpu_capacity(None, need(), timeout_seconds=0.5, backoff_initial_seconds=0.05,
                              backoff_max_seconds=0.1, feed_factory=factory)
    assert factory.feed.relists >= 2


def test_zero_replicas_pass_without_touching_the_cluster() -> None:
    factory = FeedFactory([], [])
    result = wait_for_gpu_capacity(None, need(0), feed_factory=factory)
    assert result.report.satisfied and factory.feed is None


@pytest.mark.parametrize(
    "settings",
    [dict(timeout_seconds=0), dict(backoff_initial_seconds=0), dict(backoff_initial_seconds=5, backoff_max_seconds=1),
     dict(progress_interval_seconds=0)],
)
def test_rejects_nonsense_settings(settings) -> None:
    with pytest.raises(ValueError):
        wait_for_gpu_capacity(None, need(), feed_factory=FeedFactory([], []), **settings)
