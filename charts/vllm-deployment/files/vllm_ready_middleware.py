"""ASGI middleware that gives a stock vLLM OpenAI server a ``GET /ready`` endpoint.

vLLM has ``/health`` but no readiness route. Loaded with ``--middleware=vllm_ready_middleware.ReadyEndpoint``
(this file on PYTHONPATH), it answers ``GET|HEAD <VLLM_READY_PATH, default /ready>`` itself:
200 only when the wrapped app's own ``/health`` answers 200 AND ``/v1/models`` lists at least one model,
503 otherwise, with a small JSON body saying why. Every other request passes through untouched.
Standard library only: it runs inside the vLLM image.
"""

from __future__ import annotations

import json
import os

__all__ = ["ReadyEndpoint"]


class _Captured:
    """Collects the status and body of one in-process sub-request."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class ReadyEndpoint:
    """Answer the readiness path from the wrapped app's /health and /v1/models."""

    def __init__(self, app, path: str | None = None, health_path: str = "/health", models_path: str = "/v1/models"):
        self.app = app
        self.path = path or os.environ.get("VLLM_READY_PATH", "/ready")
        self.health_path = health_path
        self.models_path = models_path

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or scope.get("path") != self.path or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        status, detail = await self.readiness(scope)
        body = json.dumps(detail).encode()
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def readiness(self, scope) -> tuple[int, dict]:
        """(status, detail): 200 once the engine is healthy and serves at least one model."""
        try:
            health = await self._get(scope, self.health_path)
            if health.status != 200:
                return 503, {"status": "not ready", "reason": f"{self.health_path} answered {health.status}"}
            models = await self._get(scope, self.models_path)
            if models.status != 200:
                return 503, {"status": "not ready", "reason": f"{self.models_path} answered {models.status}"}
            names = [m.get("id") for m in json.loads(models.body or b"{}").get("data", []) if isinstance(m, dict)]
        except Exception as exc:  # the engine may be starting or dying: not ready, never a 500
            return 503, {"status": "not ready", "reason": f"{type(exc).__name__} while checking readiness"}
        if not names:
            return 503, {"status": "not ready", "reason": f"{self.models_path} lists no model"}
        return 200, {"status": "ready", "models": names}

    async def _get(self, scope, path: str) -> _Captured:
        headers = [
            (k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-length", b"authorization")
        ]
        api_key = os.environ.get("VLLM_API_KEY")
        if api_key:  # probes carry no credentials; the sub-request authenticates as the server itself
            headers.append((b"authorization", f"Bearer {api_key}".encode()))
        sub_scope = dict(scope, method="GET", path=path, raw_path=path.encode(), query_string=b"", headers=headers)
        captured = _Captured()

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        await self.app(sub_scope, receive, captured.send)
        return captured
