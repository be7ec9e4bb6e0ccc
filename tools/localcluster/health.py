"""Health probes (HTTP(S) on loopback) and bounded waits with a diagnosis when they fail."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .processes import ClusterError


def client_ssl(pki: Path, cert: str = "admin") -> ssl.SSLContext:
    """TLS to the API server: our CA, and the client certificate ``cert`` (admin: system:masters)."""
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))
    return ctx


def insecure_ssl() -> ssl.SSLContext:
    """For /healthz of components serving our self-signed certificates on loopback."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def http_status(url: str, ctx: ssl.SSLContext | None = None, timeout: float = 3.0) -> int | None:
    """The HTTP status of GET ``url``, or None if nothing answered."""
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


def http_ok(url: str, ctx: ssl.SSLContext | None = None, timeout: float = 3.0) -> bool:
    status = http_status(url, ctx, timeout)
    return status is not None and 200 <= status < 300


def wait_for(what: str, check: Callable[[], bool], timeout: float, alive: Callable[[], bool] | None = None,
             last_words: Callable[[], str] | None = None, who: str = "the process") -> None:
    """Poll ``check`` with growing pauses (0.2 s to 2 s) until it holds; fail early when ``alive()`` says the
    process that should make it true has exited, with ``last_words()`` (its last log lines)."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise ClusterError(f"{who} exited while waiting for {what}; last log lines:\n"
                               f"{last_words() if last_words else '(none)'}")
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}"
                       + (f"; last log lines:\n{last_words()}" if last_words else ""))
