"""A small real HTTP server that behaves like vLLM's OpenAI-compatible server, with scripted behaviour.

Endpoints: ``GET /health`` (200 empty body), ``GET /ready`` (200 only once loaded, like the chart's
middleware), ``GET /ping``, ``GET /version``, ``GET /v1/models``, ``POST /v1/chat/completions``,
``POST /v1/completions``, ``GET /metrics`` (minimal Prometheus text).

Loading: for ``startup_seconds`` the socket is bound but not listening (connection refused, as vLLM
while it loads weights); with ``startup_mode="unready"`` it serves at once but ``/ready`` and completions
answer 503 until loaded.

Scripting (in-process): ``server.script.push("/v1/chat/completions", Reply(status=500), Reply(latency=4))``
queues answers for the next requests to a path; ``Reply(reset=True)`` closes the connection with a TCP
reset instead of answering; ``Reply(content="")`` returns an empty completion. ``reset_rate`` resets that
share of completions after reading the request, evenly spaced (0.1: the 10th, 20th, ... completion request);
``ready_status``/``ready_body`` make ``/ready`` answer that status and body even once loaded. Every request is recorded
in ``server.requests`` (path, JSON body, client port, so keep-alive reuse can be checked).

CLI (also the local cluster's vLLM simulator)::

    python -m tests.support.fake_vllm --host 127.0.0.1 --port 8000 --model NAME \
        [--latency-seconds X] [--fail-rate R] [--startup-seconds S] [--startup-mode refuse|unready] \
        [--api-key KEY] [--seed N] [--reset-rate R] [--ready-status CODE --ready-body JSON]
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeVllm", "RecordedRequest", "Reply", "Script", "main"]

COMPLETION_PATHS = ("/v1/chat/completions", "/v1/completions")
DEFAULT_TEXT = "Hello! I am a simulated vLLM server answering your prompt with a fixed reply."


@dataclass(frozen=True)
class Reply:
    """A scripted answer: ``None`` fields fall back to the server's normal behaviour."""

    status: int | None = None
    body: Any = None  # dict/list -> JSON, str/bytes -> as is
    latency: float | None = None
    reset: bool = False
    content: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any
    client_port: int
    authorized: bool
    at: float


class Script:
    """Per-path queues of scripted replies; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, collections.deque[Reply]] = collections.defaultdict(collections.deque)

    def push(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._queues[path].extend(replies)

    def pop(self, path: str) -> Reply | None:
        with self._lock:
            queue = self._queues.get(path)
            return queue.popleft() if queue else None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    fake: FakeVllm


class FakeVllm:
    """The fake server; use as a context manager or call ``start()``/``stop()``."""

    def __init__(
        self,
        model: str = "fake-model",
        host: str = "127.0.0.1",
        port: int = 0,
        latency_seconds: float = 0.0,
        fail_rate: float = 0.0,
        startup_seconds: float = 0.0,
        startup_mode: str = "refuse",
        api_key: str | None = None,
        seed: int = 0,
        reset_rate: float = 0.0,
        ready_status: int | None = None,
        ready_body: Any = None,
    ) -> None:
        if startup_mode not in ("refuse", "unready"):
            raise ValueError("startup_mode must be 'refuse' or 'unready'")
        self.model = model
        self.latency_seconds = latency_seconds
        self.fail_rate = fail_rate
        self.startup_seconds = startup_seconds
        self.startup_mode = startup_mode
        self.api_key = api_key
        self.reset_rate = reset_rate
        self.ready_status = ready_status  # e.g. 503: /ready answers this (with ready_body) even once loaded
        self.ready_body = ready_body
        self.completion_requests = 0
        self.resets = 0
        self.script = Script()
        self.requests: list[RecordedRequest] = []
        self.completed = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loaded = threading.Event()
        self.serving = threading.Event()  # set once the socket accepts connections (after the startup delay)
        self._stopped = threading.Event()
        self._server = _Server((host, port), _Handler, bind_and_activate=False)
        self._server.fake = self
        self._server.server_bind()  # reserves the port; refuses connections until listening
        self._threads: list[threading.Thread] = []

    # lifecycle -------------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def start(self) -> FakeVllm:
        if self.startup_seconds <= 0:
            self._loaded.set()
            self._listen()
        elif self.startup_mode == "unready":
            self._listen()
            self._later(self.startup_seconds, self._loaded.set)
        else:
            self._later(self.startup_seconds, self._finish_loading)
        return self

    def _finish_loading(self) -> None:
        self._loaded.set()
        self._listen()

    def _listen(self) -> None:
        if self._stopped.is_set() or self.serving.is_set():
            return
        self._server.server_activate()
        self.serving.set()  # listen() is done: the kernel queues connections until serve_forever takes them
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _later(self, seconds: float, action) -> None:
        def run() -> None:
            if not self._stopped.wait(seconds):
                action()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._threads.append(thread)

    def load_now(self) -> None:
        """End the simulated model loading at once."""
        self._finish_loading()

    def stop(self) -> None:
        self._stopped.set()
        if self.serving.is_set():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeVllm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # behaviour ---------------------------------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def should_fail(self) -> bool:
        with self._lock:
            return self.fail_rate > 0 and self._rng.random() < self.fail_rate

    def should_reset(self) -> bool:
        """Whether this completion request is one of the evenly spaced ``reset_rate`` share to reset."""
        with self._lock:
            self.completion_requests += 1
            k = self.completion_requests
            reset = self.reset_rate > 0 and int(k * self.reset_rate + 1e-9) > int((k - 1) * self.reset_rate + 1e-9)
            self.resets += reset
            return reset

    def count_success(self) -> None:
        with self._lock:
            self.completed += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-vllm/1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid the 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    # plumbing ----------------------------------------------------------------------------------------
    def _send(self, status: int, body: Any = b"", content_type: str = "application/json") -> None:
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = body or b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0) instead of answering."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def _authorized(self) -> bool:
        key = self.server.fake.api_key
        return not key or self.headers.get("Authorization", "") == f"Bearer {key}"

    def do_GET(self) -> None:
        self._dispatch(None)

    def do_HEAD(self) -> None:
        self._dispatch(None)

    def do_POST(self) -> None:
        self._dispatch(self._read_body())

    def _dispatch(self, body: Any) -> None:
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        fake.record(
            RecordedRequest(self.command, path, body, self.client_address[1], self._authorized(), time.time())
        )
        reply = fake.script.pop(path) or Reply()
        if reply.reset or (path in COMPLETION_PATHS and self.command == "POST" and fake.should_reset()):
            self._reset()
            return
        latency = reply.latency
        if latency is None and path in COMPLETION_PATHS:
            latency = fake.latency_seconds
        if latency:
            time.sleep(latency)
        if reply.status is not None and reply.body is not None:
            self._send(reply.status, reply.body)
            return
        status, answer = self._answer(path, body, reply)
        if reply.status is not None:
            status = reply.status
        if isinstance(answer, str) and path == "/metrics":
            self._send(status, answer, "text/plain; version=0.0.4")
        else:
            self._send(status, answer)

    # vLLM behaviour ----------------------------------------------------------------------------------
    def _answer(self, path: str, body: Any, reply: Reply) -> tuple[int, Any]:
        fake = self.server.fake
        if path in ("/health", "/ping"):
            return 200, b""
        if path == "/ready":
            if fake.ready_status is not None:
                return fake.ready_status, fake.ready_body if fake.ready_body is not None else b""
            if fake.loaded:  # as the chart's vllm_ready_middleware answers
                return 200, {"status": "ready", "models": [fake.model]}
            return 503, {"status": "not ready", "reason": "model is loading"}
        if path == "/version":
            return 200, {"version": "0.11.0-fake"}
        if path == "/metrics":
            return 200, _metrics(fake)
        if path.startswith("/v1/") and not self._authorized():
            return 401, {"error": "Unauthorized"}
        if path == "/v1/models":
            return 200, {
                "object": "list",
                "data": [
                    {"id": fake.model, "object": "model", "owned_by": "vllm", "root": fake.model, "max_model_len": 4096}
                ],
            }
        if path in COMPLETION_PATHS:
            if self.command != "POST":
                return 405, _error("Method Not Allowed", "MethodNotAllowed", 405)
            if not fake.loaded:
                return 503, _error("model is still loading", "ServiceUnavailableError", 503)
            return self._completion(path, body, reply)
        return 404, {"detail": "Not Found"}

    def _completion(self, path: str, body: Any, reply: Reply) -> tuple[int, Any]:
        fake = self.server.fake
        if not isinstance(body, dict):
            return 400, _error("request body must be a JSON object", "BadRequestError", 400)
        if body.get("model") != fake.model:
            return 404, _error(f"The model `{body.get('model')}` does not exist.", "NotFoundError", 404)
        chat = path == "/v1/chat/completions"
        if chat and not isinstance(body.get("messages"), list):
            return 400, _error("messages: field required", "BadRequestError", 400)
        if not chat and not isinstance(body.get("prompt"), (str, list)):
            return 400, _error("prompt: field required", "BadRequestError", 400)
        if body.get("stream"):
            return 400, _error("streaming is not simulated", "BadRequestError", 400)
        if fake.should_fail():
            return 500, _error("simulated failure", "InternalServerError", 500)
        max_tokens = int(body.get("max_tokens") or 16)
        words = DEFAULT_TEXT.split() if reply.content is None else reply.content.split()
        text = " ".join(words[:max_tokens]) if reply.content is None else reply.content
        usage = {
            "prompt_tokens": 8,
            "completion_tokens": len(words[:max_tokens]),
            "total_tokens": 8 + len(words[:max_tokens]),
        }
        created = int(time.time())
        fake.count_success()
        if chat:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length",
                "logprobs": None,
            }
            return 200, {
                "id": f"chatcmpl-{created}",
                "object": "chat.completion",
                "created": created,
                "model": fake.model,
                "choices": [choice],
                "usage": usage,
            }
        choice = {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
        return 200, {
            "id": f"cmpl-{created}",
            "object": "text_completion",
            "created": created,
            "model": fake.model,
            "choices": [choice],
            "usage": usage,
        }


def _error(message: str, kind: str, code: int) -> dict[str, Any]:
    return {"object": "error", "message": message, "type": kind, "param": None, "code": code}


def _metrics(fake: FakeVllm) -> str:
    label = f'model_name="{fake.model}"'
    return (
        "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        f"vllm:num_requests_running{{{label}}} 0.0\n"
        "# HELP vllm:request_success_total Count of successfully processed requests.\n"
        "# TYPE vllm:request_success_total counter\n"
        f'vllm:request_success_total{{finished_reason="length",{label}}} {float(fake.completed)}\n'
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_vllm", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="fake-model", help="served model name")
    parser.add_argument("--latency-seconds", type=float, default=0.0, help="delay of every completion")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="fraction of completions answered 500")
    parser.add_argument("--startup-seconds", type=float, default=0.0, help="simulated model loading time")
    parser.add_argument("--startup-mode", choices=("refuse", "unready"), default="refuse")
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' on /v1/*")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reset-rate", type=float, default=0.0,
                        help="fraction of completions reset after the request was read (evenly spaced)")
    parser.add_argument("--ready-status", type=int, default=None, help="answer /ready with this status always")
    parser.add_argument("--ready-body", default=None, help="JSON body for --ready-status")
    args = parser.parse_args(argv)
    if not 0 <= args.fail_rate <= 1:
        parser.error("--fail-rate must be between 0 and 1")
    server = FakeVllm(
        model=args.model,
        host=args.host,
        port=args.port,
        latency_seconds=args.latency_seconds,
        fail_rate=args.fail_rate,
        startup_seconds=args.startup_seconds,
        startup_mode=args.startup_mode,
        api_key=args.api_key,
        seed=args.seed,
        reset_rate=args.reset_rate,
        ready_status=args.ready_status,
        ready_body=json.loads(args.ready_body) if args.ready_body else None,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(f"fake vLLM: model {args.model} on {server.url} (loaded after {args.startup_seconds:g}s)", flush=True)

    def announce() -> None:  # one line when connections are accepted, so a caller awaits it instead of polling
        server.serving.wait()
        print(f"fake vLLM: serving on {server.url}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
