"""In-memory stand-ins for the Kubernetes side of the GPU gate: a feed of events and a list/watch function."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable

from components.gpu_gate.cluster_feed import ApiTrouble, Change, Snapshot


class FakeFeed:
    """Emits the given snapshots on start; the test pushes further events with ``send``."""

    kinds = ("nodes", "pods")

    def __init__(self, emit: Callable, nodes: list, pods: list, *, silent: bool = False) -> None:
        self._emit = emit
        self._silent = silent
        self._initial = (Snapshot("nodes", tuple(nodes)), Snapshot("pods", tuple(pods)))
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.relists = 0

    def start(self) -> None:
        for snapshot in () if self._silent else self._initial:
            self._emit(snapshot)
        self.started.set()

    def request_relist(self) -> None:
        self.relists += 1

    def stop(self) -> None:
        self.stopped.set()

    def delete(self, kind: str, obj: dict) -> None:
        self._emit(Change(kind, "DELETED", obj))

    def add(self, kind: str, obj: dict) -> None:
        self._emit(Change(kind, "ADDED", obj))

    def trouble(self, kind: str, message: str, status: int | None = None) -> None:
        self._emit(ApiTrouble(kind, message, status, 0.5))


class FeedFactory:
    """``feed_factory`` for ``wait_for_gpu_capacity`` that remembers the feed it made."""

    def __init__(self, nodes: list, pods: list, *, start_with: list | None = None, silent: bool = False) -> None:
        self.nodes, self.pods, self.start_with, self.silent = nodes, pods, start_with or [], silent
        self.feed: FakeFeed | None = None
        self.made = threading.Event()

    def __call__(self, emit: Callable) -> FakeFeed:
        for event in self.start_with:
            emit(event)
        self.feed = FakeFeed(emit, self.nodes, self.pods, silent=self.silent)
        self.made.set()
        return self.feed


class FakeResponse:
    """A urllib3-like streaming response of watch lines; ``shutdown`` ends a blocked read."""

    def __init__(self, *, data: bytes = b"", lines: list | None = None, hold_open: bool = False) -> None:
        self.data = data
        self._lines: queue.Queue = queue.Queue()
        for line in lines or []:
            self._lines.put(line)
        if not hold_open:
            self._lines.put(None)

    def stream(self, amt=None, decode_content=False):
        while True:
            line = self._lines.get()
            if line is None:
                return
            yield (json.dumps(line) + "\n").encode()

    def shutdown(self) -> None:
        self._lines.put(None)

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class ScriptedApi:
    """A list function: each call takes the next scripted step (a FakeResponse or an exception to raise)."""

    def __init__(self, steps: list) -> None:
        self._steps: queue.Queue = queue.Queue()
        for step in steps:
            self._steps.put(step)
        self.calls: list[dict] = []
        self.exhausted = threading.Event()

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        try:
            step = self._steps.get_nowait()
        except queue.Empty:
            self.exhausted.set()
            return FakeResponse(hold_open=True) if kwargs.get("watch") else FakeResponse(data=b'{"items": []}')
        if isinstance(step, BaseException):
            raise step
        return step


def list_body(items: list, version: str = "100", continue_token: str | None = None) -> bytes:
    metadata = {"resourceVersion": version}
    if continue_token:
        metadata["continue"] = continue_token
    return json.dumps({"items": items, "metadata": metadata}).encode()
