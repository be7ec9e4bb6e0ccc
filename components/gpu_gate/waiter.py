"""Wait until the cluster can place the deployment's GPU pods: react to watch events, re-check on a backoff schedule.

Every node or pod event recomputes the capacity report, so the wait ends within moments of GPUs being freed.
A full re-list on an exponential, fully jittered, capped schedule guards against a watch that silently
stalls. API errors (the API server restarting, 5xx) never end the wait before the deadline; a permission
error that persists does, as does a need the matching nodes can never meet.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from components.cancellation import Cancellation
from components.presets import (
    GPU_WAIT_BACKOFF_INITIAL_SECONDS,
    GPU_WAIT_BACKOFF_MAX_SECONDS,
    GPU_WAIT_PROGRESS_INTERVAL_SECONDS,
    GPU_WAIT_TIMEOUT_SECONDS,
)

from .capacity import (
    CapacityReport,
    GpuNeed,
    assess_capacity,
    describe_need,
    describe_rollout_need,
    render_table,
    rollout_choice,
)
from .cluster_feed import ApiTrouble, ClusterFeed, Event, jittered_delays
from .cluster_view import ClusterView
from .progress import describe_free, format_duration, progress_line

__all__ = [
    "GateResult",
    "GpuCapacityApiError",
    "GpuCapacityCancelled",
    "GpuCapacityError",
    "GpuCapacityImpossible",
    "GpuCapacityTimeout",
    "wait_for_gpu_capacity",
]

AUTH_STATUSES = (401, 403)


class GpuCapacityError(RuntimeError):
    """The gate did not pass; ``report`` is the last capacity report (None if the cluster was never read)."""

    def __init__(self, message: str, report: CapacityReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class GpuCapacityTimeout(GpuCapacityError):
    """The deadline passed without enough free GPUs; the message holds the per-node table."""


class GpuCapacityImpossible(GpuCapacityError):
    """The need can never be met by the nodes that exist; ``reason`` says why."""

    def __init__(self, message: str, reason: str, report: CapacityReport) -> None:
        super().__init__(message, report)
        self.reason = reason


class GpuCapacityCancelled(GpuCapacityError):
    """The engine asked to cancel (Ctrl-C) while the gate waited."""


_CANCELLED = object()
"""Queued by the cancellation callback: wakes the wait at once."""


class GpuCapacityApiError(GpuCapacityError):
    """The API keeps refusing the gate access (401/403) beyond the grace period."""


@dataclass(frozen=True)
class GateResult:
    """The report that let the gate pass and how long it waited."""

    report: CapacityReport
    waited_seconds: float


class Feed(Protocol):
    kinds: tuple[str, ...]

    def start(self) -> None: ...
    def request_relist(self) -> None: ...
    def stop(self) -> None: ...


def wait_for_gpu_capacity(
    api_client: Any,
    need: GpuNeed,
    *,
    timeout_seconds: float = GPU_WAIT_TIMEOUT_SECONDS,
    backoff_initial_seconds: float = GPU_WAIT_BACKOFF_INITIAL_SECONDS,
    backoff_max_seconds: float = GPU_WAIT_BACKOFF_MAX_SECONDS,
    progress_interval_seconds: float = GPU_WAIT_PROGRESS_INTERVAL_SECONDS,
    auth_grace_seconds: float = 60,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[str], None] = lambda line: None,
    feed_factory: Callable[[Callable[[Event], None]], Feed] | None = None,
    cancellation: Cancellation | None = None,
) -> GateResult:
    """Block until ``need`` fits the cluster; raise a ``GpuCapacityError`` subclass when it does not in time.

    ``api_client`` is a ``kubernetes.client.ApiClient``; tests may pass ``feed_factory`` instead to supply
    events from memory. Progress lines go to ``on_progress`` at every change and at least every
    ``progress_interval_seconds``. Setting ``cancellation`` ends the wait at once with ``GpuCapacityCancelled``.
    """
    if timeout_seconds <= 0 or backoff_initial_seconds <= 0 or backoff_max_seconds < backoff_initial_seconds:
        raise ValueError("timeout and backoff must be positive, with backoff_max >= backoff_initial")
    if progress_interval_seconds <= 0:
        raise ValueError("progress_interval_seconds must be positive")
    started = clock()
    if need.replicas <= 0:
        return GateResult(assess_capacity([], [], need), 0.0)

    events: queue.Queue = queue.Queue()
    if feed_factory is None:
        feed: Feed = ClusterFeed(
            api_client,
            events.put,
            backoff_initial_seconds=backoff_initial_seconds,
            backoff_max_seconds=backoff_max_seconds,
        )
    else:
        feed = feed_factory(events.put)
    wait = _Wait(need, feed, started, timeout_seconds, backoff_initial_seconds, backoff_max_seconds,
                 progress_interval_seconds, auth_grace_seconds, clock, on_progress)
    unsubscribe = cancellation.subscribe(lambda: events.put(_CANCELLED)) if cancellation else (lambda: None)
    feed.start()
    try:
        return wait.run(events)
    finally:
        unsubscribe()
        feed.stop()


class _Wait:
    """The state of one wait; ``run`` is the loop."""

    def __init__(self, need, feed, started, timeout, backoff_initial, backoff_max, progress_interval,
                 auth_grace, clock, on_progress) -> None:
        self.need = need
        self.feed = feed
        self.view = ClusterView(feed.kinds)
        self.clock = clock
        self.on_progress = on_progress
        self.started = started
        self.timeout = timeout
        self.deadline = started + timeout
        self.progress_interval = progress_interval
        self.auth_grace = auth_grace
        self.checks = jittered_delays(backoff_initial, backoff_max)
        self.next_check = started + next(self.checks)
        self.next_progress = started + progress_interval
        self.report: CapacityReport | None = None
        self.troubles: dict[str, ApiTrouble] = {}
        self.refused_since: dict[str, float] = {}
        self.last_logged: Any = object()

    def run(self, events: queue.Queue) -> GateResult:
        while True:
            now = self.clock()
            batch = self._next_events(events, min(self.deadline, self.next_check, self.next_progress) - now)
            now = self.clock()
            changed = [self._apply(event, now) for event in batch]
            if any(changed) and self.view.complete:
                self.report = assess_capacity(self.view.objects("nodes"), self.view.objects("pods"), self.need)
                if self.report.satisfied:
                    return self._passed(now)
                if self.report.impossible_reason:
                    raise self._impossible(self.report)
            self._fail_if_refused(now)
            if now >= self.deadline:
                raise self._timed_out()
            if now >= self.next_check:
                self.feed.request_relist()
                self.next_check = now + next(self.checks)
            self._log_progress(now)

    @staticmethod
    def _next_events(events: queue.Queue, wait: float) -> list:
        """Everything queued, waiting up to ``wait`` seconds for the first event."""
        try:
            batch = [events.get(timeout=max(wait, 0.0))]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(events.get_nowait())
            except queue.Empty:
                return batch

    def _apply(self, event: Event, now: float) -> bool:
        """Apply one event; True when the cluster view changed."""
        if event is _CANCELLED:
            raise self._cancelled(now)
        if isinstance(event, ApiTrouble):
            self.troubles[event.kind] = event
            if event.status in AUTH_STATUSES:
                self.refused_since.setdefault(event.kind, now)
            else:
                self.refused_since.pop(event.kind, None)
            return False
        self.view.apply(event)
        self.troubles.pop(event.kind, None)
        self.refused_since.pop(event.kind, None)
        return True

    def _fail_if_refused(self, now: float) -> None:
        for kind, since in self.refused_since.items():
            if now - since >= self.auth_grace:
                trouble = self.troubles[kind]
                raise GpuCapacityApiError(
                    f"the Kubernetes API refused to list {kind} for {format_duration(now - since)} "
                    f"({trouble.message}): the GPU gate needs list and watch on nodes and on pods in all namespaces",
                    self.report,
                )

    def _trouble_text(self) -> str | None:
        if not self.troubles:
            return None
        return "; ".join(f"{t.kind}: {t.message}, retrying in {format_duration(t.retry_in)}"
                         for t in self.troubles.values())

    def _log_progress(self, now: float) -> None:
        state = (
            self.report.fingerprint() if self.report else None,
            tuple(sorted((t.kind, t.message) for t in self.troubles.values())),
        )
        if state == self.last_logged and now < self.next_progress:
            return
        if state == (None, ()) and now < self.next_progress:
            return  # nothing read and nothing wrong yet: the first report comes within moments
        self.last_logged = state
        self.next_progress = now + self.progress_interval
        self.on_progress(progress_line(
            self.need,
            self.report,
            elapsed=now - self.started,
            timeout=self.timeout,
            next_check_in=self.next_check - now,
            api_trouble=self._trouble_text(),
        ))

    def _passed(self, now: float) -> GateResult:
        report = self.report
        pending = report.waits_for_autoscaler
        scale_up = (f"; {pending} pod{'s' if pending != 1 else ''} will wait Pending for the node autoscaler (its node "
                    f"group adds nodes of {report.autoscaler_node_gpus} {self.need.gpu_resource}, enough for one pod)"
                    if pending else "")
        self.on_progress(
            f"GPU gate passed after {format_duration(now - self.started)}: room for {report.placeable_replicas} "
            f"pod{'s' if report.placeable_replicas != 1 else ''} of {self.need.gpus_per_pod} {self.need.gpu_resource}, "
            f"{report.pods_needed} needed "
            f"({describe_free(report)}){scale_up}"
            + (f"; {describe_rollout_need(report)}" if report.rollout_update else "")
        )
        return GateResult(report, now - self.started)

    def _impossible(self, report: CapacityReport) -> GpuCapacityImpossible:
        message = (
            f"GPU capacity can never be met: {report.impossible_reason}. "
            f"Need {describe_need(self.need)}.\n{render_table(report)}"
        )
        choice = rollout_choice(report)
        if choice:
            message += "\n" + choice
        return GpuCapacityImpossible(message, report.impossible_reason, report)

    def _cancelled(self, now: float) -> GpuCapacityCancelled:
        seen = (f"{self.report.placeable_replicas} of {self.report.pods_needed} pods placeable"
                if self.report else "the cluster not read yet")
        return GpuCapacityCancelled(
            f"GPU wait cancelled after {format_duration(now - self.started)} (Ctrl-C), {seen}: need "
            f"{describe_need(self.need)}. Nothing was deployed; the next `pulumi up` waits again.", self.report)

    def _timed_out(self) -> GpuCapacityTimeout:
        head = f"GPU capacity not available after {format_duration(self.timeout)}: need {describe_need(self.need)}"
        if self.report is None:
            detail = "the cluster's nodes and pods could not be read"
        else:
            detail = (f"{self.report.placeable_replicas} of {self.report.pods_needed} pods placeable.\n"
                      f"{render_table(self.report)}")
        trouble = self._trouble_text()
        message = f"{head}; {detail}" + (f"\nlast Kubernetes API error: {trouble}" if trouble else "")
        if self.need.allow_node_autoscaling:
            message += (f"\nallowNodeAutoscaling is on, but no node known to come from the autoscaler's node group "
                        f"fits a pod (no node matching the selector has {self.need.gpus_per_pod} "
                        f"{self.need.gpu_resource}): set scheduling.nodeGroupGpus to the GPUs of the nodes it adds, so "
                        "the gate passes and the pods go Pending, which is what makes the autoscaler add a node")
        choice = rollout_choice(self.report)
        if choice:
            message += "\n" + choice
        return GpuCapacityTimeout(message, self.report)
