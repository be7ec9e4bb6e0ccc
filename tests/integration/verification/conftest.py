"""Fixtures: fake vLLM servers on 127.0.0.1 ephemeral ports (started in-process, stopped after the test), and the
local cluster with an API client to it (for the cluster tests)."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from components.kube import KubeAccess, api_client_for
from components.verification.http_checks import HttpPlan
from tests.support.cluster import ensure_cluster
from tests.support.fake_vllm import FakeVllm, Reply

MODEL = "fake-model"


@pytest.fixture
def fake_vllm():
    """A factory: ``fake_vllm(latency_seconds=..., startup_seconds=...)`` -> a started FakeVllm."""
    servers: list[FakeVllm] = []

    def start(**kwargs) -> FakeVllm:
        server = FakeVllm(model=MODEL, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def client():
    """A factory for a one-connection keep-alive client to a server."""
    clients: list[httpx.Client] = []

    def make(server: FakeVllm, **kwargs) -> httpx.Client:
        http = httpx.Client(
            base_url=server.url, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1), **kwargs
        )
        clients.append(http)
        return http

    yield make
    for http in clients:
        with contextlib.suppress(Exception):
            http.close()


def plan(**overrides) -> HttpPlan:
    """Small, fast defaults: limit 0.3 s, "slow" is 0.6 s and "fast" ~1 ms (wide margins for a busy machine)."""
    values = {
        "model": MODEL,
        "warmup_requests": 0,
        "samples": 20,
        "p95_limit_seconds": 0.3,
        "request_timeout_seconds": 5.0,
        "unreachable_retry_seconds": 5.0,
    }
    values.update(overrides)
    return HttpPlan(**values)


def script_latencies(server: FakeVllm, latencies: list[float], path: str = "/v1/chat/completions") -> None:
    """The next completions take these latencies, in order."""
    server.script.push(path, *(Reply(latency=s) for s in latencies))


@pytest.fixture(scope="module")
def cluster():
    """The local cluster (started if it is not healthy)."""
    return ensure_cluster()


@pytest.fixture(scope="module")
def api(cluster):
    """An API client to the local cluster, closed after the module."""
    api_client = api_client_for(KubeAccess(str(cluster.kubeconfig), cluster.context))
    yield api_client
    api_client.close()
