"""The API server's way into the "cluster network": an HTTP CONNECT proxy on a unix socket.

The API server dials kubelets (kwok: port-forward, logs, exec) and pods or Services (its pod and service
proxy) through its egress selector ``cluster``, which points here. This proxy lets through 127.0.0.1, maps a
pod IP's port 8000 to the pod's own process (the pod runner's state), and refuses everything else. So pod IPs
can come from a non-loopback range (EndpointSlices refuse loopback addresses, and a Service needs endpoints),
and still nothing the cluster does ever leaves 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import socketserver
import threading
from pathlib import Path

from .layout import HOST, POD_CIDR, SIM_CONTAINER_PORT


class EgressRefused(Exception):
    pass


def egress_target(host: str, port: int, pods: dict) -> tuple[str, int]:
    """Where a CONNECT to ``host:port`` goes, given the pod runner's pods ({key: {"pod_ip", "port"}})."""
    if host in (HOST, "localhost"):
        return HOST, port
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise EgressRefused(f"{host}: the local cluster resolves no names") from None
    if ip not in ipaddress.ip_network(POD_CIDR):
        raise EgressRefused(f"{host}: the local cluster reaches only {HOST} and pod IPs ({POD_CIDR})")
    for key, pod in pods.items():
        if pod.get("pod_ip") == host and pod.get("pid"):
            if port != SIM_CONTAINER_PORT:
                raise EgressRefused(f"pod {key} serves only port {SIM_CONTAINER_PORT}, not {port}")
            return HOST, pod["port"]
    raise EgressRefused(f"no process serves pod IP {host} (only the pod runner's pods have one)")


def read_head(conn: socket.socket, limit: int = 16384) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > limit:
            break
        data += chunk
    return data


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(socketserver.BaseRequestHandler):
    runner_state: Path

    def handle(self) -> None:
        head = read_head(self.request)
        parts = head.split(b"\r\n", 1)[0].decode(errors="replace").split()
        if len(parts) < 2 or parts[0] != "CONNECT":
            return self.refuse(405, "only CONNECT")
        host, _, port = parts[1].rpartition(":")
        try:
            target = egress_target(host.strip("[]"), int(port), self.pods())
            upstream = socket.create_connection(target, timeout=10)
        except (EgressRefused, ValueError) as exc:
            return self.refuse(403, str(exc))
        except OSError as exc:
            return self.refuse(502, f"{parts[1]}: {exc}")
        upstream.settimeout(None)
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        back = threading.Thread(target=pipe, args=(upstream, self.request), daemon=True)
        back.start()
        pipe(self.request, upstream)
        back.join()
        upstream.close()

    def pods(self) -> dict:
        try:
            return json.loads(self.runner_state.read_text()).get("pods", {})
        except (OSError, ValueError):
            return {}

    def refuse(self, status: int, message: str) -> None:
        body = message.encode()
        self.request.sendall(f"HTTP/1.1 {status} Refused\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)


def serve(socket_path: Path, runner_state: Path) -> int:
    socket_path.unlink(missing_ok=True)
    handler = type("BoundHandler", (Handler,), {"runner_state": runner_state})
    socketserver.ThreadingUnixStreamServer.daemon_threads = True
    with socketserver.ThreadingUnixStreamServer(str(socket_path), handler) as server:
        print(f"egress proxy on {socket_path}", flush=True)
        server.serve_forever()
    return 0


def egress_config(socket_path: Path) -> str:
    """The API server's --egress-selector-config-file: cluster traffic through this proxy."""
    return (
        "apiVersion: apiserver.k8s.io/v1beta1\n"
        "kind: EgressSelectorConfiguration\n"
        "egressSelections:\n"
        "- name: cluster\n"
        "  connection:\n"
        "    proxyProtocol: HTTPConnect\n"
        "    transport:\n"
        "      uds:\n"
        f"        udsName: {socket_path}\n"
    )
