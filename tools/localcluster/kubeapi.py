"""The smallest Kubernetes API client the local cluster needs (standard library only): kubectl for the
control plane set-up, and JSON requests and watches over the admin certificate for the pod runner."""

from __future__ import annotations

import json
import ssl
import subprocess
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
