"""The list-then-watch loop of one kind, against a scripted list/watch function; the cluster view it feeds."""

from __future__ import annotations

import itertools
import queue

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from components.gpu_gate.cluster_feed import (
    MIN_DELAY_SECONDS,
    ApiTrouble,
    Change,
    ResourceWatcher,
    Snapshot,
    describe_api_error,
    jittered_delays,
)
from components.gpu_gate.cluster_view import ClusterView

from .builders import node
from .fakes import FakeResponse, ScriptedApi, list_body

BOUNDED = 10.0


def started_watcher(api: ScriptedApi, **settings) -> tuple[ResourceWatcher, queue.Queue]:
    events: queue.Queue = queue.Queue()
    options = dict(backoff_initial_seconds=0.01, backoff_max_seconds=0.02)
    options.update(settings)
    watcher = ResourceWatcher("nodes", api, events.put, **options)
    watcher.start()
    return watcher, events


def next_of(events: queue.Queue, kind: type):
    """The next event of ``kind`` (others are skipped)."""
    while True:
        event = events.get(timeout=BOUNDED)
        if isinstance(event, kind):
            return event


def test_lists_all_pages_then_watches_from_the_list_version() -> None:
    api = ScriptedApi([
        FakeResponse(data=list_body([node("g0")], version="7", continue_token="page2")),
        FakeResponse(data=list_body([node("g1")], version="7")),
        FakeResponse(lines=[
            {"type": "ADDED", "object": node("g2") | {"metadata": {"name": "g2", "resourceVersion": "9"}}},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}},
        ]),
    ])
    watcher, events = started_watcher(api)
    try:
        snapshot = next_of(events, Snapshot)
        assert [n["metadata"]["name"] for n in snapshot.items] == ["g0", "g1"]
        change = next_of(events, Change)
        assert (change.type, change.obj["metadata"]["name"]) == ("ADDED", "g2")
        assert api.exhausted.wait(BOUNDED)
    finally:
        watcher.stop()
        watcher.join(BOUNDED)
    assert api.calls[1]["_continue"] == "page2"
    assert api.calls[2]["watch"] is True and api.calls[2]["resource_version"] == "7"
    assert api.calls[3]["resource_version"] == "12"  # the next window resumes from the bookmark


def test_gone_during_the_watch_lists_again() -> None:
    api = ScriptedApi([
        FakeResponse(data=list_body([node("g0")], version="5")),
        FakeResponse(lines=[{"type": "ERROR", "object": {"code": 410, "reason": "Expired", "message": "too old"}}]),
        FakeResponse(data=list_body([node("g0"), node("g1")], version="50")),
    ])
    watcher, events = started_watcher(api)
    try:
        assert len(next_of(events, Snapshot).items) == 1
        assert len(next_of(events, Snapshot).items) == 2
        assert api.exhausted.wait(BOUNDED)
    finally:
        watcher.stop()
        watcher.join(BOUNDED)
    assert api.calls[3]["resource_version"] == "50"


def test_api_errors_are_reported_and_retried_with_backoff() -> None:
    refused = urllib3.exceptions.MaxRetryError(None, "/api/v1/nodes", reason=ConnectionRefusedError("refused"))
    api = ScriptedApi([
        refused,
        ApiException(status=503, reason="Service Unavailable"),
        FakeResponse(data=list_body([node("g0")])),
    ])
    watcher, events = started_watcher(api)
    try:
        first = next_of(events, ApiTrouble)
        assert first.message == "MaxRetryError: refused" and first.status is None
        assert first.retry_in <= max(0.02, MIN_DELAY_SECONDS)
        second = next_of(events, ApiTrouble)
        assert (second.message, second.status) == ("HTTP 503 Service Unavailable", 503)
        assert next_of(events, Snapshot).items[0]["metadata"]["name"] == "g0"
    finally:
        watcher.stop()
        watcher.join(BOUNDED)


def test_watch_error_events_other_than_gone_are_api_trouble() -> None:
    api = ScriptedApi([
        FakeResponse(data=list_body([])),
        FakeResponse(lines=[{"type": "ERROR", "object": {"code": 500, "reason": "InternalError", "message": "boom"}}]),
    ])
    watcher, events = started_watcher(api)
    try:
        trouble = next_of(events, ApiTrouble)
        assert trouble.status == 500 and "InternalError" in trouble.message
        assert len(next_of(events, Snapshot).items) == 0  # retried from a fresh list
    finally:
        watcher.stop()
        watcher.join(BOUNDED)


def test_stop_and_relist_interrupt_a_quiet_watch() -> None:
    api = ScriptedApi([
        FakeResponse(data=list_body([node("g0")])),
        FakeResponse(hold_open=True),
        FakeResponse(data=list_body([node("g0"), node("g1")])),
        FakeResponse(hold_open=True),
    ])
    watcher, events = started_watcher(api)
    next_of(events, Snapshot)
    watcher.request_relist()
    assert len(next_of(events, Snapshot).items) == 2
    watcher.stop()
    watcher.join(BOUNDED)
    assert not watcher._thread.is_alive()


def test_jittered_delays_grow_exponentially_under_the_cap() -> None:
    delays = list(itertools.islice(jittered_delays(1, 8), 200))
    assert all(MIN_DELAY_SECONDS <= d <= 8 for d in delays)
    assert delays[0] <= 1 and delays[1] <= 2 and delays[2] <= 4
    assert max(delays[10:]) > 4  # capped values are still drawn from the full range


def test_api_errors_are_described_without_the_response_body() -> None:
    error = ApiException(status=403, reason="Forbidden")
    error.body = '{"message": "secret-ish details"}'
    assert describe_api_error(error) == "HTTP 403 Forbidden"
    assert len(describe_api_error(RuntimeError("x" * 500))) == 200


def test_cluster_view_applies_snapshots_and_changes() -> None:
    view = ClusterView()
    assert not view.complete
    view.apply(Snapshot("nodes", (node("g0"), node("g1"))))
    assert not view.complete
    view.apply(Snapshot("pods", ()))
    assert view.complete
    view.apply(Change("nodes", "DELETED", node("g0")))
    view.apply(Change("nodes", "MODIFIED", node("g1", 4)))
    view.apply(Change("nodes", "ADDED", node("g2")))
    names = {n["metadata"]["name"]: n["status"]["allocatable"]["nvidia.com/gpu"] for n in view.objects("nodes")}
    assert names == {"g1": 4, "g2": 2}
    view.apply(Snapshot("nodes", (node("g9"),)))
    assert [n["metadata"]["name"] for n in view.objects("nodes")] == ["g9"]


@pytest.mark.parametrize("kind", ["nodes", "pods"])
def test_cluster_view_rejects_unknown_kinds(kind) -> None:
    view = ClusterView([kind])
    with pytest.raises(KeyError):
        view.apply(Snapshot("secrets", ()))


def test_connection_errors_are_described_without_the_connection_repr() -> None:
    connection = urllib3.connection.HTTPSConnection("127.0.0.1", 26443)
    cause = urllib3.exceptions.NewConnectionError(
        connection, "Failed to establish a new connection: [Errno 111] Connection refused")
    refused = urllib3.exceptions.MaxRetryError(None, "/api/v1/nodes", reason=cause)
    assert describe_api_error(refused) == (
        "MaxRetryError: Failed to establish a new connection: [Errno 111] Connection refused"
    )
