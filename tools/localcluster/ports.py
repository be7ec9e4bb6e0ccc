"""Port choice: each component's preferred loopback port when it is free, otherwise one the kernel picks."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping

from .layout import HOST


def port_free(port: int, host: str = HOST) -> bool:
    """Whether ``host:port`` can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def any_free_port(host: str = HOST) -> int:
    """A port the kernel reports free on ``host`` (free when asked; the caller binds it soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def choose_ports(preferred: Mapping[str, int], is_free: Callable[[int], bool] = port_free,
                 fallback: Callable[[], int] = any_free_port) -> dict[str, int]:
    """Name -> port: the preferred port if free and not taken by an earlier name, else a fallback port
    (asked again until it is one no earlier name has)."""
    ports: dict[str, int] = {}
    for name, want in preferred.items():
        port = want
        if port in ports.values() or not is_free(port):
            port = fallback()
            while port in ports.values():
                port = fallback()
        ports[name] = port
    return ports
