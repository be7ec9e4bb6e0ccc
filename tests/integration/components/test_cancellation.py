"""components.cancellation inside the Python SDK's real dynamic-provider server (``python -m pulumi.dynamic``).

The engine's Ctrl-C reaches a dynamic provider only as the Cancel RPC, which the SDK answers with a no-op.
Here the test plays the engine: Check, Create (which waits), then Cancel, over gRPC to the real server.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from grpc._utilities import DictionaryGenericHandler
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import proto, rpc
from pulumi.runtime.proto import provider_pb2_grpc

from components.cancellation import Cancellation, _cancel_tables, _served_handlers, install_engine_cancel_hook
from tests.support.cancel_probe import WaitsForEngineCancel

ROOT = Path(__file__).resolve().parents[3]
URN = "urn:pulumi:test::vllm-deploy::pulumi-python:dynamic:Resource::probe"
BOUND_SECONDS = 120  # the Create's own limit: reaching it means Cancel was not noticed


@pytest.fixture
def provider_server():
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    port = process.stdout.readline().strip()
    assert port.isdigit(), process.stderr.read()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield provider_pb2_grpc.ResourceProviderStub(channel)
    channel.close()
    process.kill()
    process.wait(timeout=30)


def serialized(props: dict):
    return asyncio.run(rpc.serialize_properties(props, {}))


def test_the_engines_cancel_rpc_ends_a_wait_in_a_dynamic_provider(provider_server):
    props = serialized({"__provider": serialize_provider(WaitsForEngineCancel()), "wait_seconds": BOUND_SECONDS})
    provider_server.Check(proto.CheckRequest(urn=URN, olds=serialized({}), news=props), timeout=60)
    created = provider_server.Create.future(proto.CreateRequest(urn=URN, properties=props))
    provider_server.Cancel(empty_pb2.Empty(), timeout=30)  # answered as before ...
    response = created.result()  # ... and the wait ends on it: "cancelled" is False when it ran out instead
    outs = rpc.deserialize_properties(response.properties)
    assert outs["hooked"] is True and outs["cancelled"] is True


def test_outside_a_provider_process_the_hook_changes_nothing():
    assert install_engine_cancel_hook(Cancellation()) is False


def test_a_cancellation_calls_subscribers_once_and_late_subscribers_at_once():
    cancellation, calls = Cancellation(), []
    unsubscribe = cancellation.subscribe(lambda: calls.append("early"))
    dropped = cancellation.subscribe(lambda: calls.append("dropped"))
    dropped()
    cancellation.cancel("stop")
    cancellation.cancel("again")
    cancellation.subscribe(lambda: calls.append("late"))
    unsubscribe()
    assert calls == ["early", "late"] and cancellation.cancelled and cancellation.reason == "stop"
    assert cancellation.wait(3600) is True



def test_the_cancel_handler_is_found_from_the_servers_thread_without_scanning_every_object():
    """The fast path of install_engine_cancel_hook (the first check waits for it) finds what the scan finds."""
    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(provider_pb2_grpc.ResourceProviderServicer(), server)
    server.add_insecure_port("127.0.0.1:0")
    server.start()
    serving = [t for t in threading.enumerate() if any(hasattr(a, "generic_handlers") for a in getattr(t, "_args", ()))]
    try:
        found = _cancel_tables(_served_handlers(), DictionaryGenericHandler)
        scanned = _cancel_tables(gc.get_objects(), DictionaryGenericHandler)
        assert len(found) == 1 and any(table is found[0] for table in scanned)
    finally:
        server.stop(0).wait(30)
        for thread in serving:
            thread.join(30)  # later tests see no gRPC server in this process
