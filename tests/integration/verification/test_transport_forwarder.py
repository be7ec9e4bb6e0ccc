"""The port-forward plumbing (local listener piping into a remote stream) against a fake vLLM.

The remote stream here is a plain TCP connection to the fake server on 127.0.0.1; against the cluster it
is the Kubernetes port-forward websocket (tests/integration/verification/test_cluster.py).
"""

from __future__ import annotations

import socket
import time

import httpx

from components.verification.checks import ERROR, PASSED, SKIPPED
from components.verification.http_checks import run_http_checks
from components.verification.transport import LocalForwarder, direct_endpoint
from tests.support.fake_vllm import Reply

from .conftest import plan


def tcp_to(server):
    return lambda: socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_checks_pass_through_the_forwarder_on_one_forwarded_connection(fake_vllm):
    server = fake_vllm(latency_seconds=0.01)
    with (
        LocalForwarder(tcp_to(server)) as forwarder,
        httpx.Client(base_url=f"http://127.0.0.1:{forwarder.port}") as http,
    ):
        outcome = run_http_checks(http, plan(samples=20, warmup_requests=2, p95_limit_seconds=3.0))
    assert [r.status for r in outcome.results] == [PASSED] * 4
    assert forwarder.connections == 1 and len({r.client_port for r in server.requests}) == 1


def test_remote_that_cannot_be_opened_is_explained(fake_vllm):
    def broken():
        raise RuntimeError("(403) Forbidden: pods/portforward is forbidden")

    with LocalForwarder(broken) as forwarder, httpx.Client(base_url=f"http://127.0.0.1:{forwarder.port}") as http:
        outcome = run_http_checks(
            http, plan(samples=2, unreachable_retry_seconds=0.5), explain_unreachable=lambda: forwarder.last_error
        )
    health = outcome.results[0]
    assert health.status == ERROR
    assert "port-forward failed: (403) Forbidden: pods/portforward is forbidden" in health.observed


def test_a_dropped_stream_is_retried_on_a_new_one(fake_vllm):
    server = fake_vllm()
    opened = []

    def open_remote():
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        opened.append(sock)
        return sock

    with LocalForwarder(open_remote) as forwarder, httpx.Client(base_url=f"http://127.0.0.1:{forwarder.port}") as http:
        assert http.get("/health").status_code == 200
        opened[0].shutdown(socket.SHUT_RDWR)  # the stream dies (pod restarted, API server dropped the websocket)
        outcome = run_http_checks(http, plan(samples=3))
    assert [r.status for r in outcome.results] == [PASSED] * 4 and len(opened) == 2


def test_closing_the_forwarder_closes_open_streams(fake_vllm):
    server = fake_vllm()
    forwarder = LocalForwarder(tcp_to(server)).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{forwarder.port}") as http:
        assert http.get("/health").status_code == 200
        forwarder.close()
        try:
            http.get("/health", timeout=2)
            reached = True
        except httpx.TransportError:
            reached = False
    assert not reached


def test_direct_endpoint(fake_vllm):
    server = fake_vllm()
    with direct_endpoint(server.url, {"X-Test": "1"}) as endpoint:
        assert endpoint.client.get("/health").status_code == 200
        assert endpoint.description == f"{server.url} (direct)"


def test_a_refused_port_forward_stops_the_retries_at_once(fake_vllm):
    from kubernetes.client.exceptions import ApiException

    def forbidden():
        raise ApiException(
            status=0,
            reason=(
                'Handshake status 403 Forbidden -+-+- {} -+-+- '
                '{"message": "pods \\"p\\" is forbidden: User \\"ci\\" cannot create resource \\"pods/portforward\\""}'
            ),
        )

    lines: list[str] = []
    with LocalForwarder(forbidden) as forwarder, httpx.Client(base_url=f"http://127.0.0.1:{forwarder.port}") as http:
        started = time.monotonic()
        outcome = run_http_checks(
            http, plan(samples=2, unreachable_retry_seconds=60), lines.append,
            explain_unreachable=lambda: forwarder.last_error, hopeless=lambda: forwarder.hopeless,
        )
    print(f"\nmeasured: a refused port-forward ended the checks after {time.monotonic() - started:.2f}s (window 60s)")
    # one port-forward attempt and no retry announced: not retried through the 60 s window
    assert forwarder.connections == 1 and not [line for line in lines if "retry" in line], lines
    assert outcome.results[0].status == ERROR
    expected = (
        'Handshake status 403 Forbidden: pods "p" is forbidden: User "ci" cannot create resource "pods/portforward"'
    )
    assert expected in outcome.results[0].observed


def test_a_port_forward_the_api_server_answers_503_is_could_not_measure_not_a_dropped_sample(fake_vllm):
    """API server 502/503 on the port-forward upgrade while dialling: retried (error), never "measured bad"."""
    server = fake_vllm()
    failing = {"left": 0}

    def flaky():
        if failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("Handshake status 503 Service Unavailable -+-+- {} -+-+- "
                               '{"kind":"Status","message":"error dialing backend: dial tcp: i/o timeout"}')
        return socket.create_connection(("127.0.0.1", server.port), timeout=5)

    with LocalForwarder(flaky) as forwarder, httpx.Client(base_url=f"http://127.0.0.1:{forwarder.port}") as http:
        assert http.get("/health").status_code == 200  # opens the keep-alive stream used by the checks ...
        failing["left"] = 2  # ... the next two dials get the API server's 503 (after the reset below)
        server.script.push("/v1/chat/completions", Reply(), Reply(), Reply(reset=True))  # drops the stream
        outcome = run_http_checks(http, plan(samples=20, p95_limit_seconds=3.0, unreachable_retry_seconds=10.0),
                                  explain_unreachable=lambda: forwarder.last_error,
                                  dial_failures=lambda: forwarder.dial_failures)
    # the reset itself (vLLM dropped a sent request) is a failed sample; the 503 dials after it are retried
    assert forwarder.dial_failures == 2 and forwarder.connections == 4
    completions = outcome.results[2]
    assert completions.status == PASSED and "1 of 20 samples without an answer" in completions.observed
    assert len(server.requests_to("/v1/chat/completions")) == 20  # the 503 dials never reached vLLM


def test_only_dial_failures_make_the_run_an_error(fake_vllm):
    def unavailable():
        raise RuntimeError("Handshake status 502 Bad Gateway")

    with LocalForwarder(unavailable) as forwarder, httpx.Client(base_url=f"http://127.0.0.1:{forwarder.port}") as http:
        outcome = run_http_checks(http, plan(samples=3, unreachable_retry_seconds=1.0),
                                  explain_unreachable=lambda: forwarder.last_error,
                                  dial_failures=lambda: forwarder.dial_failures)
    assert [r.status for r in outcome.results] == [ERROR, SKIPPED, SKIPPED, SKIPPED]
    assert "port-forward failed: Handshake status 502 Bad Gateway" in outcome.results[0].observed
    assert not forwarder.hopeless


class StreamWithError:
    """A forwarded stream that the remote end closes at once, reporting ``error`` as the kubelet would."""

    def __init__(self, error: str):
        self.error = error
        self._a, self._b = socket.socketpair()
        self._b.close()  # EOF at once: nothing answered

    def fileno(self):
        return self._a.fileno()

    def recv(self, size):
        return self._a.recv(size)

    def sendall(self, data):
        try:
            self._a.sendall(data)
        except OSError:
            pass

    def close(self):
        self._a.close()


def test_kubelet_dial_error_is_a_dial_failure_but_a_reset_is_not():
    errors = iter([
        "error forwarding port 8000 to pod p, uid : failed to connect to localhost:8000 inside namespace x, IPv4: "
        "dial tcp4 127.0.0.1:8000: connect: connection refused",
        "error copying from remote stream to local connection: readfrom tcp4 127.0.0.1:8000: connection reset by peer",
    ])
    forwarder = LocalForwarder(lambda: StreamWithError(next(errors)), describe_error=lambda remote: remote.error)
    with forwarder:
        for expected in (1, 1):
            with socket.create_connection(("127.0.0.1", forwarder.port), timeout=5) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    assert sock.recv(10) == b""  # closed without an answer ...
                except ConnectionResetError:
                    pass  # ... or reset, when the forwarder closed before reading the request
            # the forwarder counts the failure and records the error before it closes the client's connection
            assert "port-forward error" in (forwarder.last_error or "") and forwarder.dial_failures == expected
            forwarder.last_error = None
