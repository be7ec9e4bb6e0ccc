"""Record, from the Kubernetes API, which pods a Service sends traffic to, and whether each was verified.

Two independent views, each a background watch (event driven: no polling interval hides a gap; a gap is measured
between the two events that bound it):

- ``EndpointSliceWatch``: the Service's EndpointSlices -- what kube-proxy and every Service client route by. On
  every change: the endpoints that are ready (``conditions.ready``) and, for each pod among them not yet known to
  be verified, a read of the pod (after the event, so at least as new) for the readiness-gate condition;
- ``ServicePodWatch``: the pods the Service selects (its ``spec.selector``) that are Ready and not terminating --
  the EndpointSlice controller's input -- with the condition read from the same pod object.

Each gives an ``EndpointRecord``:
- ``seconds_without_verified``: from the first moment a ready, verified pod existed until ``stop()``, the total
  time during which none was there (0.0 when the set never went empty);
- ``unverified_ready``: pods that were ever ready without the condition True;
- ``ever_ready``: every pod that was ever ready.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from kubernetes import client, watch

__all__ = ["EndpointRecord", "EndpointSliceWatch", "ServicePodWatch"]


@dataclass
class EndpointRecord:
    """The timeline: (monotonic seconds, ready pod names, ready and verified pod names) per change."""

    timeline: list[tuple[float, frozenset[str], frozenset[str]]] = field(default_factory=list)
    unverified_ready: set[str] = field(default_factory=set)
    ever_ready: set[str] = field(default_factory=set)
    stopped_at: float | None = None

    @property
    def seconds_without_verified(self) -> float:
        return self._gap_seconds(2)

    @property
    def seconds_without_ready(self) -> float:
        """As ``seconds_without_verified`` for any ready pod (the recreate rollout has no readiness gate)."""
        return self._gap_seconds(1)

    def _gap_seconds(self, column: int) -> float:
        total, gap_since, started = 0.0, None, False
        for entry in self.timeline:
            at, serving = entry[0], entry[column]
            if serving:
                started = True
                if gap_since is not None:
                    total += at - gap_since
                    gap_since = None
            elif started and gap_since is None:
                gap_since = at
        if gap_since is not None and self.stopped_at is not None:
            total += self.stopped_at - gap_since
        return total

    def describe(self) -> str:
        if not self.timeline:
            return "(no EndpointSlice events)"
        start = self.timeline[0][0]
        lines = [f"+{at - start:7.2f}s ready={sorted(ready)} verified={sorted(verified)}"
                 for at, ready, verified in self.timeline]
        return "\n".join(lines)


class _RecordingWatch:
    """A list + watch of one resource kind on a background thread, noting (ready, verified) after every event.

    A subclass says what to list (``_list_call`` and ``_selector``), what an object contributes (``_state``) and
    which pods are ready and verified (``_ready_and_verified``).
    """

    what = "objects"

    def __init__(self, api: client.ApiClient, namespace: str, service: str, condition: str):
        self.core = client.CoreV1Api(api)
        self.namespace, self.service, self.condition = namespace, service, condition
        self.record = EndpointRecord()
        self._objects: dict[str, object] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(timeout=30) or self.error is not None:
            raise RuntimeError(f"could not list the {self.what} of {self.namespace}/{self.service}: {self.error}")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> EndpointRecord:
        if self.record.stopped_at is None:
            self.record.stopped_at = time.monotonic()
            self._stop.set()
            self._watch.stop()
            self._thread.join(timeout=30)
        if self.error is not None:
            raise RuntimeError(f"the watch of the {self.what} failed: {self.error}")
        return self.record

    def _list_call(self):
        raise NotImplementedError

    def _selector(self) -> str:
        raise NotImplementedError

    def _state(self, obj) -> object:
        raise NotImplementedError

    def _ready_and_verified(self) -> tuple[frozenset[str], frozenset[str]]:
        raise NotImplementedError

    def _run(self) -> None:
        try:
            selector, list_call = self._selector(), self._list_call()
            listed = list_call(self.namespace, label_selector=selector)
            for item in listed.items:
                self._objects[item.metadata.name] = self._state(item)
            self._note()
            self._ready.set()
            version = listed.metadata.resource_version
            while not self._stop.is_set():
                for event in self._watch.stream(list_call, self.namespace, label_selector=selector,
                                                resource_version=version, timeout_seconds=60):
                    item = event["object"]
                    version = item.metadata.resource_version
                    if event["type"] == "DELETED":
                        self._objects.pop(item.metadata.name, None)
                    else:
                        self._objects[item.metadata.name] = self._state(item)
                    self._note()
                    if self._stop.is_set():
                        break
        except BaseException as exc:  # noqa: BLE001 - reported by __enter__ / stop()
            if not self._stop.is_set():
                self.error = exc
            self._ready.set()

    def _note(self) -> None:
        now = time.monotonic()
        ready, verified = self._ready_and_verified()
        self.record.ever_ready |= ready
        self.record.unverified_ready |= ready - verified
        if not self.record.timeline or self.record.timeline[-1][1:] != (ready, verified):
            self.record.timeline.append((now, ready, verified))


class ServicePodWatch(_RecordingWatch):
    """Watches the pods selected by ``service`` in ``namespace``; ``condition`` is the readiness-gate type."""

    what = "pods"

    def _list_call(self):
        return self.core.list_namespaced_pod

    def _selector(self) -> str:
        selector_map = self.core.read_namespaced_service(self.service, self.namespace).spec.selector or {}
        return ",".join(f"{k}={v}" for k, v in sorted(selector_map.items()))

    def _state(self, pod) -> tuple[bool, bool]:
        conditions = {c.type: c.status for c in pod.status.conditions or []}
        ready = conditions.get("Ready") == "True" and pod.metadata.deletion_timestamp is None
        return ready, conditions.get(self.condition) == "True"

    def _ready_and_verified(self) -> tuple[frozenset[str], frozenset[str]]:
        pods = self._objects.items()
        ready = frozenset(name for name, (is_ready, _) in pods if is_ready)
        return ready, frozenset(name for name, (is_ready, is_verified) in pods if is_ready and is_verified)


class EndpointSliceWatch(_RecordingWatch):
    """Watches the EndpointSlices of ``service`` in ``namespace``; ``condition`` is the readiness-gate type."""

    what = "EndpointSlices"

    def __init__(self, api: client.ApiClient, namespace: str, service: str, condition: str):
        super().__init__(api, namespace, service, condition)
        self.discovery = client.DiscoveryV1Api(api)
        self._verified: set[str] = set()

    def _list_call(self):
        return self.discovery.list_namespaced_endpoint_slice

    def _selector(self) -> str:
        return f"kubernetes.io/service-name={self.service}"

    @staticmethod
    def _state(item) -> list[tuple[str, bool]]:
        result = []
        for endpoint in item.endpoints or []:
            target = endpoint.target_ref.name if endpoint.target_ref else "?"
            ready = bool(endpoint.conditions and endpoint.conditions.ready)
            result.append((target, ready))
        return result

    def _is_verified(self, pod: str) -> bool:
        if pod in self._verified:
            return True
        try:
            status = self.core.read_namespaced_pod_status(pod, self.namespace).status
        except client.ApiException:
            return False
        if any(c.type == self.condition and c.status == "True" for c in status.conditions or []):
            self._verified.add(pod)
            return True
        return False

    def _ready_and_verified(self) -> tuple[frozenset[str], frozenset[str]]:
        ready = frozenset(name for endpoints in self._objects.values() for name, is_ready in endpoints if is_ready)
        return ready, frozenset(name for name in ready if self._is_verified(name))
