"""How the HTTP checks reach vLLM: an httpx client for one of three access modes.

- ``port-forward``: the Kubernetes API's pod port-forward (a websocket through the API server, the same
  mechanism as ``kubectl port-forward``, without a subprocess) behind a listener on 127.0.0.1. Each TCP
  connection accepted there is piped into its own port-forward stream, so one keep-alive httpx
  connection is one stream for the whole latency loop.
- ``direct``: a base URL, e.g. the in-cluster ``http://{release}.{namespace}.svc.cluster.local:8000``.
- ``service-proxy``: the API server's service proxy ``/api/v1/namespaces/{ns}/services/{svc}:{port}/proxy``.

Each ``Endpoint`` tells "the transport could not reach vLLM" (a port-forward that could not be opened, an
API-server 502/503 while dialling: could not measure, retried) from answers and drops of vLLM itself.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from kubernetes import client
from kubernetes.stream import portforward

__all__ = [
    "Endpoint",
    "LocalForwarder",
    "api_server_proxy_error",
    "describe_open_error",
    "direct_endpoint",
    "port_forward_endpoint",
    "resolve_container_port",
    "service_proxy_endpoint",
]

CHUNK = 65536
# The API server refused the port-forward for good: unauthenticated, forbidden (RBAC), pod not found.
_HANDSHAKE_REFUSED = re.compile(r"Handshake status (401|403|404)\b")
# The kubelet's port-forward error when it could not connect to the pod's port ("failed to connect to
# localhost:8000 inside namespace ...: dial tcp4 127.0.0.1:8000: connect: connection refused"): the request never
# reached vLLM. A reset of an established connection ("connection reset by peer") is not a dial error.
_DIAL_ERROR = re.compile(r"\bdial\b|failed to connect|connection refused", re.IGNORECASE)


@dataclass
class Endpoint:
    """An httpx client with the base URL set, a description for messages, and the last transport error."""

    client: httpx.Client
    description: str
    last_error: Callable[[], str | None] = lambda: None
    hopeless: Callable[[], bool] = lambda: False  # True once retrying cannot help (forbidden, pod gone)
    dial_failures: Callable[[], int] = lambda: 0  # connections the transport could not carry to the pod
    proxy_error: Callable[[httpx.Response], str | None] = lambda _response: None  # a proxy's own 502/503


class RemoteSocket(Protocol):
    def fileno(self) -> int: ...

    def recv(self, size: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class LocalForwarder:
    """Listens on 127.0.0.1 (ephemeral port) and pipes every accepted connection to ``open_remote()``."""

    def __init__(
        self,
        open_remote: Callable[[], RemoteSocket],
        describe_error: Callable[[Any], str | None] = lambda _r: None,
    ):
        self._open_remote = open_remote
        self._describe_error = describe_error
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[Any] = set()
        self.last_error: str | None = None
        self.hopeless = False
        self.connections = 0
        self.dial_failures = 0  # connections that never reached the pod (counted before the client sees the close)
        self._thread = threading.Thread(target=self._accept_loop, name="verification-port-forward", daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def start(self) -> LocalForwarder:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept() (Linux)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(Exception):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the pipe thread's select at once
                with contextlib.suppress(Exception):
                    sock.close()
            self._open.clear()
        self._thread.join(timeout=2)

    def __enter__(self) -> LocalForwarder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                local, _ = self._listener.accept()
            except OSError:
                return
            if self._closed.is_set():
                local.close()
                return
            self.connections += 1
            threading.Thread(target=self._pipe, args=(local,), daemon=True).start()

    def _pipe(self, local: socket.socket) -> None:
        try:
            remote = self._open_remote()
        except Exception as exc:  # noqa: BLE001 - reported through last_error, the client sees a closed connection
            self.last_error = f"port-forward failed: {describe_open_error(exc)}"
            self.hopeless = _HANDSHAKE_REFUSED.search(self.last_error) is not None
            self.dial_failures += 1  # e.g. the API server answered the upgrade with 502/503: could not measure
            local.close()
            return
        for sock in (local, remote):  # small writes (headers, then body) must not wait for delayed ACKs
            with contextlib.suppress(Exception):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.update((local, remote))
        answered = 0
        try:
            answered = _splice(local, remote)
        finally:
            error = self._describe_error(remote)
            if error:
                if not answered and _DIAL_ERROR.search(error):  # the kubelet could not connect: nothing measured
                    self.dial_failures += 1
                self.last_error = f"port-forward error: {error}"
            for sock in (local, remote):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._open.difference_update((local, remote))


def api_server_proxy_error(response: httpx.Response) -> str | None:
    """The API server's own answer when its service proxy could not reach vLLM (not a measurement), else None.

    An error whose body is a Kubernetes ``Status`` was written by the API server: 502/503 while dialling ("error
    trying to reach service", "no endpoints available for service"), 404 (no such Service), 403 (RBAC). vLLM's
    own errors (e.g. ``/ready``'s 503, a 404 for an unknown model) never are a Status.
    """
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("kind") != "Status":
        return None
    return f"API server proxy: HTTP {response.status_code}: {body.get('message') or body.get('reason') or 'no message'}"


def describe_open_error(exc: BaseException) -> str:
    """One line for a failed port-forward: the handshake status and the API server's message, no headers.

    The client reports ``ApiException(0, "Handshake status 404 Not Found -+-+- {headers} -+-+- {body}")``.
    """
    text = str(getattr(exc, "reason", None) or exc)
    parts = [part.strip() for part in text.split("-+-+-")]
    summary = parts[0]
    if len(parts) >= 3:
        try:
            message = json.loads(parts[2]).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            summary += f": {message}"
    return " ".join(summary.split())


def _splice(a: Any, b: Any) -> int:
    """Copy bytes both ways until either side closes; return how many bytes came from ``b``."""
    peers = {a: b, b: a}
    from_b = 0
    while True:
        try:
            readable, _, _ = select.select([a, b], [], [], 1.0)
        except (OSError, ValueError):
            return from_b
        for sock in readable:
            try:
                data = sock.recv(CHUNK)
            except OSError:
                return from_b
            if not data:
                return from_b
            if sock is b:
                from_b += len(data)
            try:
                peers[sock].sendall(data)
            except OSError:
                return from_b


class _PodSocket:
    """A port-forward stream's socket, closing the websocket with it; ``error`` is the kubelet's error text."""

    def __init__(self, forward: Any, port: int):
        self._forward = forward
        self._port = port
        self._socket = forward.socket(port)
        self._socket.setblocking(True)

    def fileno(self) -> int:
        return self._socket.fileno()

    def recv(self, size: int) -> bytes:
        return self._socket.recv(size)

    def sendall(self, data: bytes) -> None:
        self._socket.sendall(data)

    def setsockopt(self, *args: Any) -> None:
        self._socket.setsockopt(*args)  # the client's wrapper ignores TCP options on its AF_UNIX pair

    def shutdown(self, how: int) -> None:
        with contextlib.suppress(Exception):
            self._socket.shutdown(how)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._forward.close()

    @property
    def error(self) -> str | None:
        try:
            return self._forward.error(self._port)
        except Exception:  # noqa: BLE001
            return None


def resolve_container_port(service: Mapping[str, Any] | None, pod: Mapping[str, Any] | None, service_port: int) -> int:
    """The pod port behind ``service_port``: the Service's targetPort (a number, or a named container port)."""
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        if int(port.get("port", -1)) != service_port:
            continue
        target = port.get("targetPort", service_port)
        if isinstance(target, int):
            return target
        if isinstance(target, str) and target.isascii() and target.isdigit():
            return int(target)
        for container in ((pod or {}).get("spec") or {}).get("containers") or []:
            for container_port in container.get("ports") or []:
                if container_port.get("name") == target:
                    return int(container_port["containerPort"])
    return service_port


def _client(base_url: str, headers: Mapping[str, str], **kwargs: Any) -> httpx.Client:
    # One connection: the latency loop measures sequential requests on a warm keep-alive connection.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.Client(base_url=base_url, headers=dict(headers), limits=limits, trust_env=False, **kwargs)


@contextlib.contextmanager
def direct_endpoint(base_url: str, headers: Mapping[str, str] = {}) -> Iterator[Endpoint]:  # noqa: B006 - read only
    """A client for ``base_url`` as is."""
    with _client(base_url, headers) as http:
        yield Endpoint(http, f"{base_url} (direct)")


@contextlib.contextmanager
def port_forward_endpoint(
    api_client: client.ApiClient, namespace: str, pod: str, port: int, headers: Mapping[str, str] = {}  # noqa: B006
) -> Iterator[Endpoint]:
    """A client for ``pod``:``port`` through the API server's port-forward."""
    core = client.CoreV1Api(api_client)

    def open_remote() -> _PodSocket:
        forward = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        return _PodSocket(forward, port)

    forwarder = LocalForwarder(open_remote, describe_error=lambda remote: getattr(remote, "error", None))
    with forwarder, _client(f"http://127.0.0.1:{forwarder.port}", headers) as http:
        yield Endpoint(
            http,
            f"port-forward to pod {namespace}/{pod}:{port}",
            lambda: forwarder.last_error,
            lambda: forwarder.hopeless,
            lambda: forwarder.dial_failures,
        )


@contextlib.contextmanager
def service_proxy_endpoint(
    api_client: client.ApiClient, namespace: str, service: str, port: int, headers: Mapping[str, str] = {}  # noqa: B006
) -> Iterator[Endpoint]:
    """A client for the Service through the API server's service proxy, authenticated as the kubeconfig is."""
    configuration = api_client.configuration
    if configuration.refresh_api_key_hook is not None:
        configuration.refresh_api_key_hook(configuration)
    auth = dict(headers)
    token = configuration.get_api_key_with_prefix("authorization")
    if token:
        if "Authorization" in auth:
            raise ValueError(
                "service-proxy mode cannot send a vLLM API key: Authorization authenticates to the API server"
            )
        auth["Authorization"] = token
    context = (
        ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        if configuration.verify_ssl
        else ssl.create_default_context()
    )
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    base_url = f"{configuration.host.rstrip('/')}/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy"
    with _client(base_url, auth, verify=context) as http:
        yield Endpoint(http, f"API server service proxy to {namespace}/{service}:{port}",
                       proxy_error=api_server_proxy_error)
