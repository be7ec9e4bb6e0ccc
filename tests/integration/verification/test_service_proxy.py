"""service-proxy mode: the URL and credentials it sends, against a local stand-in for the API server."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from components.verification.transport import service_proxy_endpoint


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
        with service_proxy_endpoint(api_client(api_server, "kube-token"), "system", "llama", 8000, {"Authorization": "Bearer k"}):
            pass
