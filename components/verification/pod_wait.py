"""Wait, within a bounded budget, until the release's current-revision pods are Ready or fail for good.

``KubeRollout`` is the thin Kubernetes adapter (lists as raw JSON, a pod watch to wake up on changes,
events and log tails for the diagnosis). ``wait_for_rollout`` is the loop: re-assess on every pod change
(watch) and at least every ``tick_seconds`` (Deployment conditions, transient signals ageing).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from ..cancellation import Cancellation
from .pods import (
    FATAL,
    READY,
    WAITING,
    Assessment,
    ReadinessProbe,
    RolloutSnapshot,
    SignalTracker,
    assess,
    describe_pod,
    instance_selector,
    log_requests,
    with_readiness_probes,
)

__all__ = ["KubeRollout", "Prober", "RolloutResult", "RolloutSource", "wait_for_rollout"]

Progress = Callable[[str], None]
Prober = Callable[[str], ReadinessProbe]  # pod name -> what it answers on /health and /ready
MAX_DIAGNOSED_PODS = 3


class RolloutSource(Protocol):
    """What the wait loop needs from the cluster (a fake in unit tests)."""

    def snapshot(self) -> RolloutSnapshot: ...

    def wait_for_change(self, timeout: float) -> None: ...

    def diagnose(self, pod_name: str) -> str: ...


@dataclass(frozen=True)
class RolloutResult:
    """How the wait ended: ``assessment.state`` is ready or fatal, or waiting when the budget ran out."""

    assessment: Assessment
    waited_seconds: float
    outcome: str  # e.g. "ready after 42s", "failed after 12s", "timed out after 1200s"
    diagnosis: str = ""
    api_error: str | None = None

    @property
    def ready(self) -> bool:
        return self.assessment.state == READY


class KubeRollout:
    """The release's Deployments, ReplicaSets and pods through the Kubernetes API (raw JSON dicts)."""

    def __init__(self, api_client: client.ApiClient, namespace: str, release: str, request_timeout: float = 30.0,
                 cancellation: Cancellation | None = None):
        self.cancellation = cancellation or Cancellation()
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.namespace = namespace
        self.selector = instance_selector(release)
        self.request_timeout = request_timeout
        self._pods_version: str | None = None

    def _list(self, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        response = method(self.namespace, _preload_content=False, _request_timeout=self.request_timeout, **kwargs)
        return json.loads(response.data)

    def snapshot(self) -> RolloutSnapshot:
        deployments = self._list(self.apps.list_namespaced_deployment, label_selector=self.selector)
        replicasets = self._list(self.apps.list_namespaced_replica_set, label_selector=self.selector)
        pods = self._list(self.core.list_namespaced_pod, label_selector=self.selector)
        self._pods_version = (pods.get("metadata") or {}).get("resourceVersion")
        return RolloutSnapshot(deployments.get("items") or [], replicasets.get("items") or [], pods.get("items") or [])

    def wait_for_change(self, timeout: float) -> None:
        """Return on the next pod event after the last snapshot, after ``timeout`` seconds at most, or on cancellation.

        The watch runs on a helper thread: a watch whose response has not started yet cannot be interrupted
        from outside (``Watch.stop`` takes effect only once the stream is open), so cancellation wakes this
        thread instead, and the helper ends with its watch's own timeout.
        """
        if timeout < 1 or not self._pods_version:
            self.cancellation.wait(timeout)
            return
        woke = threading.Event()
        watcher = watch.Watch()
        unsubscribe = self.cancellation.subscribe(woke.set)
        helper = threading.Thread(target=self._watch_once, args=(watcher, timeout, woke), daemon=True,
                                  name="rollout-watch")
        helper.start()
        try:
            woke.wait(timeout + 5)
        finally:
            unsubscribe()
            watcher.stop()

    def _watch_once(self, watcher: watch.Watch, timeout: float, woke: threading.Event) -> None:
        """Set ``woke`` on the first pod event, when the watch ends, or after a bounded pause on an error."""
        deadline = time.monotonic() + timeout
        try:
            for _event in watcher.stream(
                self.core.list_namespaced_pod,
                self.namespace,
                label_selector=self.selector,
                resource_version=self._pods_version,
                timeout_seconds=max(1, int(timeout)),
                _request_timeout=(self.request_timeout, timeout + 5),
                deserialize=False,
            ):
                return
        except ApiException as exc:
            if exc.status != 410:  # 410 Gone: history compacted; the caller re-lists anyway
                self.cancellation.wait(min(2.0, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - a broken watch falls back to a bounded re-list
            self.cancellation.wait(min(2.0, deadline - time.monotonic()))
        finally:
            woke.set()
            watcher.stop()

    def diagnose(self, pod_name: str) -> str:
        """Pod state, recent events and last log lines; errors fetching any of them are reported, not raised."""
        try:
            pod = self.core.read_namespaced_pod(
                pod_name, self.namespace, _preload_content=False, _request_timeout=self.request_timeout)
            pod = json.loads(pod.data)
        except ApiException as exc:
            return f"pod {pod_name}: cannot read ({exc.status} {exc.reason})"
        try:
            events: Any = self._list(
                self.core.list_namespaced_event, field_selector=f"involvedObject.name={pod_name}"
            ).get("items") or []
        except Exception as exc:  # noqa: BLE001
            events = _api_error_text(exc)
        logs: dict[str, str] = {}
        for container, previous in log_requests(pod):
            label = f"({container}{', previous instance' if previous else ''})"
            try:
                logs[label] = self.core.read_namespaced_pod_log(
                    pod_name,
                    self.namespace,
                    container=container,
                    previous=previous,
                    tail_lines=20,
                    limit_bytes=16384,
                    _request_timeout=self.request_timeout,
                )
            except Exception as exc:  # noqa: BLE001 - logs are a bonus; kwok has none
                logs[label] = f"unavailable ({_api_error_text(exc)})"
        return describe_pod(pod, events, logs)


def _api_error_text(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        message = ""
        try:
            message = json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            pass
        return f"HTTP {exc.status} {exc.reason}" + (f": {message}" if message else "")
    return f"{type(exc).__name__}: {exc}"


def wait_for_rollout(
    source: RolloutSource,
    budget_seconds: float,
    progress: Progress = lambda _message: None,
    grace_seconds: float = 20.0,
    tick_seconds: float = 10.0,
    progress_interval_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    graces: dict[str, float] | None = None,
    prober: Prober | None = None,
    health_path: str = "/health",
    ready_path: str = "/ready",
    cancellation: Cancellation | None = None,
    assess_snapshot: Callable[[RolloutSnapshot], Assessment] = assess,
) -> RolloutResult:
    """Wait until every current-revision pod is Ready, a failure signal is fatal, or the budget runs out.

    ``graces`` overrides ``grace_seconds`` per transient signal. ``prober`` (optional) asks a Running pod that
    is not Ready what it answers on ``health_path`` and ``ready_path``, at most every ``tick_seconds``.
    Raises ``OperationCancelled`` as soon as ``cancellation`` is set (the source's waits must wake up on it).
    ``assess_snapshot`` decides what "ready" means (the verified rollout passes its own: a pod to verify).
    """
    pause_for = cancellation.wait if cancellation else time.sleep
    started = clock()
    tracker = SignalTracker(grace_seconds, graces)
    last_message, last_report = None, float("-inf")
    assessment = Assessment("waiting", 0, (), "not listed yet")
    api_error: str | None = None
    probes: dict[str, tuple[float, ReadinessProbe]] = {}
    while True:
        if cancellation:
            cancellation.raise_if_cancelled(f"waiting for the release's pods ({assessment.message})")
        elapsed = clock() - started
        try:
            raw = assess_snapshot(source.snapshot())
            if prober is not None:
                answers = _probe(prober, raw, probes, clock(), tick_seconds)
                raw = with_readiness_probes(raw, answers, health_path, ready_path)
            assessment = tracker.settle(raw, clock())
            api_error = None
        except ApiException as exc:
            api_error = _api_error_text(exc)
            if exc.status in (401, 403, 404):
                return RolloutResult(assessment, elapsed, f"cannot read the rollout: {api_error}", api_error=api_error)
        except Exception as exc:  # noqa: BLE001 - API server unreachable for a moment: keep waiting in budget
            api_error = _api_error_text(exc)
        elapsed = clock() - started
        if api_error is None and assessment.state in (READY, FATAL):
            verb = "ready" if assessment.state == READY else "failed"
            if assessment.state == READY:  # e.g. terminal pods replaced, old OOM kills: reported, not failed
                diagnosis = "\n".join(assessment.warnings)
            else:
                diagnosis = _diagnose(source, assessment.problem_pods)
            return RolloutResult(assessment, elapsed, f"{verb} after {elapsed:.0f}s", diagnosis=diagnosis)
        remaining = budget_seconds - elapsed
        if remaining <= 0:
            stuck = [p.name for p in assessment.pods if not p.ready]
            return RolloutResult(
                assessment,
                elapsed,
                f"timed out after {elapsed:.0f}s (budget {budget_seconds:g}s)",
                diagnosis=_diagnose(source, stuck),
                api_error=api_error,
            )
        message = f"cluster API error: {api_error}" if api_error else assessment.message
        if message != last_message or clock() - last_report >= progress_interval_seconds:
            progress(f"pods: {message} ({elapsed:.0f}s of {budget_seconds:g}s)")
            last_message, last_report = message, clock()
        due = tracker.seconds_until_due(clock())
        pause = min(remaining, tick_seconds, due if due is not None else tick_seconds)
        if api_error:
            pause_for(max(0.0, min(pause, 2.0)))
        else:
            source.wait_for_change(max(0.0, pause))


def _probe(
    prober: Prober, assessment: Assessment, probes: dict[str, tuple[float, ReadinessProbe]], now: float, interval: float
) -> dict[str, ReadinessProbe]:
    """Probe each Running-not-Ready pod whose last probe is older than ``interval``; forget the others."""
    if assessment.state != WAITING:
        probes.clear()
        return {}
    candidates = {p.name for p in assessment.pods if p.running and not p.ready}
    for name in [n for n in probes if n not in candidates]:
        del probes[name]
    for name in sorted(candidates):
        if name not in probes or now - probes[name][0] >= interval:
            try:
                probes[name] = (now, prober(name))
            except Exception as exc:  # noqa: BLE001 - a probe that cannot run proves nothing
                probes[name] = (now, ReadinessProbe(None, None, error=f"{type(exc).__name__}: {exc}"))
    return {name: probe for name, (_at, probe) in probes.items()}


def _diagnose(source: RolloutSource, pod_names: Any) -> str:
    names = list(pod_names)[:MAX_DIAGNOSED_PODS]
    return "\n".join(source.diagnose(name) for name in names)
