"""The smallest Kubernetes API client the local cluster needs (standard library only): kubectl for the
control plane set-up, and JSON requests and watches over the admin certificate for the pod runner."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .layout import CONTEXT
from .processes import ClusterError


def kubectl(kubectl_bin: Path, kubeconfig: Path, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [str(kubectl_bin), f"--kubeconfig={kubeconfig}", f"--context={CONTEXT}", *args]
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class PortForwardError(RuntimeError):
    """A port-forward the API server accepted but could not complete (the message of its error channel)."""


# WebSocket opcodes (RFC 6455) the port-forward stream uses.
WS_TEXT, WS_BINARY, WS_CLOSE = 0x1, 0x2, 0x8


def read_ws_frame(stream) -> tuple[int, bytes]:
    """One WebSocket frame from a server (unmasked): (opcode, payload). EOFError when the stream ends."""

    def exactly(n: int) -> bytes:
        data = stream.read(n)
        if len(data) < n:
            raise EOFError("the WebSocket stream ended inside a frame")
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(exactly(8), "big")
    mask = exactly(4) if second & 0x80 else b""
    payload = exactly(length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return first & 0x0F, payload


def port_forward_channels(frames) -> tuple[bytes, bytes]:
    """(data, error) of the first forwarded port from v4.channel.k8s.io frames (opcode, payload): each payload
    starts with its channel (0 data, 1 error), and each channel's first message starts with the port (2 bytes)."""
    streams: dict[int, bytes] = {}
    for opcode, payload in frames:
        if opcode not in (WS_TEXT, WS_BINARY) or not payload:
            continue
        channel, body = payload[0], payload[1:]
        streams[channel] = streams[channel] + body if channel in streams else body[2:]
    return streams.get(0, b""), streams.get(1, b"")


class Api:
    """JSON requests to the API server at ``server`` with the TLS context ``ctx``."""

    def __init__(self, server: str, ctx: ssl.SSLContext, timeout: float = 30):
        self.server, self.ctx, self.timeout = server.rstrip("/"), ctx, timeout

    def request(self, method: str, path: str, body: dict | list | None = None,
                content_type: str = "application/json", query: dict | None = None) -> dict:
        url = self.server + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=self.timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace")[:500]) from None
        return json.loads(raw) if raw else {}

    def get(self, path: str, **query) -> dict:
        return self.request("GET", path, query=query or None)

    def create(self, path: str, body: dict) -> dict:
        return self.request("POST", path, body)

    def apply(self, path: str, name: str, body: dict) -> dict:
        """Create ``body`` in the collection ``path``, or replace the object ``name`` if it exists."""
        try:
            return self.create(path, body)
        except ApiError as exc:
            if exc.status != 409:
                raise
        current = self.get(f"{path}/{name}")
        body = {**body, "metadata": {**body["metadata"],
                                     "resourceVersion": current["metadata"]["resourceVersion"]}}
        return self.request("PUT", f"{path}/{name}", body)

    def delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except ApiError as exc:
            if exc.status != 404:
                raise

    def patch_status(self, path: str, status: dict) -> dict:
        """Strategic merge patch of ``path``/status (conditions merge by type; containerStatuses are replaced)."""
        return self.request("PATCH", f"{path}/status", {"status": status},
                            content_type="application/strategic-merge-patch+json")

    def port_forward_read(self, namespace: str, pod: str, port: int, until: bytes = b"\n",
                          timeout: float = 3) -> bytes:
        """What ``port`` of the pod sends through the API server's port-forward (the WebSocket protocol
        v4.channel.k8s.io, as kubectl's and the Python client's), up to and including ``until``, or all that came
        within ``timeout`` seconds. ApiError when the API server refuses, PortForwardError with the forwarder's
        message."""
        url = urllib.parse.urlsplit(self.server)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /api/v1/namespaces/{namespace}/pods/{pod}/portforward?ports={port} HTTP/1.1\r\n"
                   f"Host: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n")
        deadline = time.monotonic() + timeout
        frames: list[tuple[int, bytes]] = []
        with socket.create_connection((url.hostname, url.port), timeout=timeout) as raw, \
                self.ctx.wrap_socket(raw, server_hostname=url.hostname) as sock:
            sock.sendall(request.encode())
            stream = sock.makefile("rb")
            status = stream.readline().decode(errors="replace").strip()
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            parts = status.split()
            if parts[1:2] != ["101"]:
                code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                raise ApiError(code, f"port-forward to {namespace}/{pod}:{port} refused: {status!r}")
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    frames.append(read_ws_frame(stream))
                except (EOFError, TimeoutError):
                    break
                data, error = port_forward_channels(frames)
                if error:
                    raise PortForwardError(error.decode(errors="replace"))
                if frames[-1][0] == WS_CLOSE or until in data:
                    break
        data = port_forward_channels(frames)[0]
        return data[:data.index(until) + len(until)] if until in data else data

    def watch(self, path: str, resource_version: str, timeout_seconds: int = 300, **query) -> Iterator[dict]:
        """Watch events ({"type", "object"}) of the collection ``path`` from ``resource_version``."""
        params = {**query, "watch": "1", "resourceVersion": resource_version,
                  "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        url = f"{self.server}{path}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout_seconds + 30) as r:
                for line in r:
                    if line.strip():
                        yield json.loads(line)
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace")[:500]) from None
