"""Nodes and pods as a stream of events: list, then watch, re-list on 410 Gone, retry API errors with backoff.

Each kind (nodes, bound non-terminal pods) has one daemon thread that emits, in order, a ``Snapshot`` after
every successful list, a ``Change`` per watch event, and an ``ApiTrouble`` before each backoff pause. The
consumer applies them on its own thread, so per kind the order is always that of the API server.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import backoff
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

__all__ = [
    "ApiTrouble",
    "Change",
    "ClusterFeed",
    "ResourceWatcher",
    "Snapshot",
    "describe_api_error",
    "jittered_delays",
]

MIN_DELAY_SECONDS = 0.05
LIST_PAGE_SIZE = 500
WATCH_WINDOW_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 5
LIST_READ_TIMEOUT_SECONDS = 30
BOUND_LIVE_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
_CONNECTION_PREFIX = re.compile(r"^\w*Connection\(host=[^)]*\): ")


@dataclass(frozen=True)
class Snapshot:
    """Every object of ``kind`` as of one list."""

    kind: str
    items: tuple[dict, ...]


@dataclass(frozen=True)
class Change:
    """One watch event: ADDED, MODIFIED or DELETED with the object's JSON."""

    kind: str
    type: str
    obj: dict


@dataclass(frozen=True)
class ApiTrouble:
    """The API failed for ``kind``; the watcher retries in ``retry_in`` seconds. ``status`` is the HTTP status."""

    kind: str
    message: str
    status: int | None
    retry_in: float


Event = Snapshot | Change | ApiTrouble


class _Gone(Exception):
    """The watch's resource version is too old (410 Gone): list again."""


def jittered_delays(initial: float, cap: float) -> Iterator[float]:
    """``backoff.expo`` from ``initial`` capped at ``cap``, each delay drawn with ``backoff.full_jitter``."""
    exponential = backoff.expo(factor=initial, max_value=cap)
    next(exponential)  # backoff's generators are primed with one send(None)
    for value in exponential:
        yield max(backoff.full_jitter(value), MIN_DELAY_SECONDS)


def describe_api_error(exc: BaseException) -> str:
    """A short, one-line, credential-free description of an API failure (never the response body)."""
    if isinstance(exc, ApiException):
        text = f"HTTP {exc.status} {exc.reason or ''}".strip()
    else:
        reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps the real cause
        detail = _CONNECTION_PREFIX.sub("", str(reason if reason is not None else exc))
        text = f"{type(exc).__name__}: {detail}"
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


class ResourceWatcher:
    """Keeps one kind of object flowing into ``emit``: list, watch from that version, repeat."""

    def __init__(
        self,
        kind: str,
        list_function: Callable[..., Any],
        emit: Callable[[Event], None],
        *,
        backoff_initial_seconds: float,
        backoff_max_seconds: float,
        field_selector: str | None = None,
        watch_window_seconds: int = WATCH_WINDOW_SECONDS,
    ) -> None:
        self.kind = kind
        self._list_function = list_function
        self._emit = emit
        self._backoff = (backoff_initial_seconds, backoff_max_seconds)
        self._field_selector = field_selector
        self._window = watch_window_seconds
        self._stopped = threading.Event()
        self._relist = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"gpu-gate-{kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_relist(self) -> None:
        """List again now (ends the current watch)."""
        self._relist.set()
        self._end_watch()

    def stop(self) -> None:
        self._stopped.set()
        self._end_watch()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _end_watch(self) -> None:
        """Interrupt a blocked watch read from another thread."""
        response = self._response
        if response is None:
            return
        try:
            response.shutdown()
            return
        except Exception:  # noqa: BLE001 - older urllib3 or already released: cut the socket instead
            pass
        try:
            response.connection.sock.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: BLE001 - already closed: the reader ends anyway
            pass

    def _selector(self) -> dict:
        return {"field_selector": self._field_selector} if self._field_selector else {}

    def _run(self) -> None:
        delays = jittered_delays(*self._backoff)
        gone_in_a_row = 0
        while not self._stopped.is_set():
            try:
                self._relist.clear()
                version = self._list()
                while not self._stopped.is_set() and not self._relist.is_set():
                    version, healthy = self._watch_once(version)
                    if healthy:
                        delays = jittered_delays(*self._backoff)
                        gone_in_a_row = 0
                    elif not self._stopped.is_set() and not self._relist.is_set():
                        self._pause(next(delays), RuntimeError("watch ended at once"))
            except _Gone:
                gone_in_a_row += 1
                if gone_in_a_row > 1:  # list and watch keep disagreeing: do not spin
                    self._pause(next(delays), ApiException(status=410, reason="Gone"))
            except Exception as exc:  # noqa: BLE001 - any API failure is retried until the consumer gives up
                if self._stopped.is_set():
                    break
                self._pause(next(delays), exc)

    def _pause(self, delay: float, exc: BaseException) -> None:
        self._emit(ApiTrouble(self.kind, describe_api_error(exc), getattr(exc, "status", None), delay))
        self._stopped.wait(delay)

    def _list(self) -> str | None:
        items: list[dict] = []
        token = None
        while True:
            kwargs = dict(
                limit=LIST_PAGE_SIZE,
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT_SECONDS, LIST_READ_TIMEOUT_SECONDS),
                **self._selector(),
            )
            if token:
                kwargs["_continue"] = token
            try:
                response = self._list_function(**kwargs)
            except ApiException as exc:
                if exc.status == 410:  # the continue token expired: start the list over
                    raise _Gone() from None
                raise
            try:
                body = json.loads(response.data)
            finally:
                response.release_conn()
            items.extend(body.get("items") or [])
            metadata = body.get("metadata") or {}
            token = metadata.get("continue")
            if not token:
                break
        self._emit(Snapshot(self.kind, tuple(items)))
        return metadata.get("resourceVersion")

    def _watch_once(self, version: str | None) -> tuple[str | None, bool]:
        """Watch from ``version`` until the server ends the window.

        Returns the last version and whether the window was healthy.
        """
        started = time.monotonic()
        response = self._list_function(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=self._window,
            _preload_content=False,
            _request_timeout=(CONNECT_TIMEOUT_SECONDS, self._window + 30),
            **self._selector(),
        )
        self._response = response
        saw_events = False
        try:
            if self._stopped.is_set() or self._relist.is_set():
                return version, False
            for line in iter_resp_lines(response):
                event = json.loads(line) if line.strip() else None
                if not isinstance(event, dict):
                    continue
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ApiException(status=obj.get("code"), reason=f"{obj.get('reason')}: {obj.get('message')}")
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    saw_events = True
                    self._emit(Change(self.kind, kind, obj))
                if self._stopped.is_set() or self._relist.is_set():
                    break
        except Exception:
            if self._stopped.is_set() or self._relist.is_set():  # we cut the connection ourselves
                return version, saw_events
            raise
        finally:
            self._response = None
            response.close()
            response.release_conn()
        return version, saw_events or time.monotonic() - started >= 1.0


class ClusterFeed:
    """Nodes and bound, non-terminal pods of the whole cluster, fed into ``emit`` by two watchers."""

    def __init__(
        self,
        api_client: client.ApiClient,
        emit: Callable[[Event], None],
        *,
        backoff_initial_seconds: float,
        backoff_max_seconds: float,
    ) -> None:
        core = client.CoreV1Api(api_client)
        settings = dict(backoff_initial_seconds=backoff_initial_seconds, backoff_max_seconds=backoff_max_seconds)
        self._watchers = (
            ResourceWatcher("nodes", core.list_node, emit, **settings),
            ResourceWatcher(
                "pods", core.list_pod_for_all_namespaces, emit, field_selector=BOUND_LIVE_PODS, **settings
            ),
        )

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(w.kind for w in self._watchers)

    def start(self) -> None:
        for watcher in self._watchers:
            watcher.start()

    def request_relist(self) -> None:
        for watcher in self._watchers:
            watcher.request_relist()

    def stop(self) -> None:
        for watcher in self._watchers:
            watcher.stop()

    def join(self, timeout: float | None = None) -> None:
        for watcher in self._watchers:
            watcher.join(timeout)
