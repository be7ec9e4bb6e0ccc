"""A loopback TCP proxy that can be taken down and brought back on the same port.

Put in front of the API server it looks, to a client, exactly like an API server restart: every open
connection (watches included) is cut, new connections are refused, and later the same address serves again.
The shared cluster itself is never disturbed.
"""

from __future__ import annotations

import select
import socket
import threading

LOOPBACK = "127.0.0.1"


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``upstream`` (a loopback host and port)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        if upstream_host not in (LOOPBACK, "localhost"):
            raise ValueError(f"refusing to proxy to a non-loopback address: {upstream_host}")
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._running = threading.Event()

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Listen (again) on the same port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running.set()
        threading.Thread(target=self._accept, args=(listener,), name="tcp-proxy-accept", daemon=True).start()

    def stop(self) -> None:
        """Cut every connection and stop listening: clients now get 'connection refused'."""
        self._running.clear()
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while self._running.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), name="tcp-proxy-pump", daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                if not self._running.is_set():
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._sockets.discard(a)
                self._sockets.discard(b)
            _close(a)
            _close(b)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
