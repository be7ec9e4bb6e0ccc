"""service-proxy mode: the URL and credentials it sends, against a local stand-in for the API server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from kubernetes import client

from components.verification.checks import FAILED, PASSED
from components.verification.http_checks import HttpPlan, run_http_checks
from components.verification.transport import api_server_proxy_error, service_proxy_endpoint


class Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):
        Recorder.seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def api_client(host: str, token: str | None) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = host
    if token:
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(configuration)


def test_requests_go_through_the_service_proxy_path_with_the_kube_credentials(api_server):
    with service_proxy_endpoint(api_client(api_server, "kube-token"), "system", "llama", 8000) as endpoint:
        assert endpoint.client.get("/health").status_code == 200
    assert Recorder.seen == [("/api/v1/namespaces/system/services/llama:8000/proxy/health", "Bearer kube-token")]
    assert "service proxy to system/llama:8000" in endpoint.description


def test_a_vllm_api_key_cannot_be_sent_through_the_proxy(api_server):
    with pytest.raises(ValueError, match="cannot send a vLLM API key"):
        with service_proxy_endpoint(
            api_client(api_server, "kube-token"), "system", "llama", 8000, {"Authorization": "Bearer k"}
        ):
            pass


class FlakyProxy(BaseHTTPRequestHandler):
    """An API server whose service proxy cannot reach the Service for the first ``dial_failures`` requests."""

    dial_failures = 0
    seen: list = []
    STATUS_503 = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "ServiceUnavailable",
                             "message": 'no endpoints available for service "llama"', "code": 503}).encode()

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        FlakyProxy.seen.append(self.path)
        if FlakyProxy.dial_failures:
            FlakyProxy.dial_failures -= 1
            return self._answer(503, FlakyProxy.STATUS_503)
        if self.path.endswith("/ready"):  # vLLM's own 503: measured bad
            return self._answer(503, b'{"status": "not ready", "reason": "/v1/models lists no model"}')
        return self._answer(200, b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FlakyProxy.seen, FlakyProxy.dial_failures = [], 2
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_api_server_503_while_dialling_is_retried_and_vllms_own_503_is_measured_bad(flaky_proxy):
    plan = HttpPlan(model="m", samples=1, warmup_requests=0, unreachable_retry_seconds=20)
    lines: list[str] = []
    with service_proxy_endpoint(api_client(flaky_proxy, None), "system", "llama", 8000) as endpoint:
        outcome = run_http_checks(endpoint.client, plan, lines.append, proxy_error=endpoint.proxy_error)
    health, ready = outcome.results[:2]
    assert health.status == PASSED  # after two "could not measure" retries
    assert FlakyProxy.seen[:3] == ["/api/v1/namespaces/system/services/llama:8000/proxy/health"] * 3
    assert sum("could not measure (API server proxy: HTTP 503: no endpoints available" in line for line in lines) == 2
    assert ready.status == FAILED
    assert ready.observed == 'HTTP 503: {"status": "not ready", "reason": "/v1/models lists no model"}'


def test_api_server_proxy_error_is_recognised_by_its_status_body():
    status = httpx.Response(502, json={"kind": "Status", "message": "error trying to reach service: dial tcp: refused"})
    expected = "API server proxy: HTTP 502: error trying to reach service: dial tcp: refused"
    assert api_server_proxy_error(status) == expected
    assert api_server_proxy_error(httpx.Response(503, json={"status": "not ready"})) is None  # vLLM's own
    assert api_server_proxy_error(httpx.Response(503, text="upstream")) is None
    assert api_server_proxy_error(httpx.Response(200, json={"kind": "Status"})) is None
    not_found = httpx.Response(404, json={"kind": "Status", "message": 'services "llama" not found'})
    assert api_server_proxy_error(not_found) == 'API server proxy: HTTP 404: services "llama" not found'
