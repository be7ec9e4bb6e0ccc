"""Noticing Ctrl-C inside a dynamic provider, so long waits end within moments instead of at their timeout.

On the first Ctrl-C the Pulumi engine sends the ``Cancel`` RPC to every provider and then waits for the
operations in flight: it calls ``Create``/``Update`` with a context that is never cancelled (``context.TODO()``
in pkg/resource/deploy/step.go), and the Python SDK's dynamic-provider server answers ``Cancel`` with a
no-op (``DynamicResourceProviderServicer.Cancel`` in pulumi/dynamic/__main__.py). Nothing reaches our code.

``install_engine_cancel_hook`` wraps the ``Cancel`` handler that process registered with its gRPC server, so
the RPC (still answered as before) also sets ``ENGINE_CANCELLATION``. The waits take a ``Cancellation`` and
raise ``OperationCancelled`` when it is set; the step then fails cleanly (no pending operation is left in
the state) and the CLI exits. Outside a dynamic-provider process the hook finds nothing and changes nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

__all__ = [
    "CANCEL_METHOD",
    "Cancellation",
    "ENGINE_CANCELLATION",
    "OperationCancelled",
    "install_engine_cancel_hook",
]

CANCEL_METHOD = "/pulumirpc.ResourceProvider/Cancel"


class OperationCancelled(RuntimeError):
    """The engine asked the provider to cancel (Ctrl-C) while it waited."""


class Cancellation:
    """A one-way flag with callbacks: waits subscribe to wake up the moment it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason = ""

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Set the flag (once) and call every subscriber."""
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on cancellation (at once if already cancelled); returns the unsubscribe function."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._unsubscribe(callback)
        callback()
        return lambda: None

    def _unsubscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True (at once) when cancelled."""
        return self._event.wait(max(0.0, seconds))

    def raise_if_cancelled(self, doing: str) -> None:
        if self._event.is_set():
            raise OperationCancelled(f"{self.reason} while {doing}")


ENGINE_CANCELLATION = Cancellation()
"""Set when this dynamic-provider process receives the engine's Cancel RPC (see the module docstring)."""

_installed = False
_install_lock = threading.Lock()


def _cancel_tables(candidates, handler_type) -> list[dict]:
    tables = []
    for obj in candidates:
        if isinstance(obj, handler_type):
            table = getattr(obj, "_method_handlers", None)
            if isinstance(table, dict) and CANCEL_METHOD in table:
                tables.append(table)
    return tables


def _served_handlers() -> list:
    """The generic handlers of the gRPC servers running in this process, from their serving threads.

    A started ``grpc.server`` runs ``_serve(state)`` in a thread whose ``state.generic_handlers`` are the handlers
    ``add_generic_rpc_handlers`` registered: looking there costs microseconds, where scanning every object of the
    process (the fallback) cost ~25 ms on the first ``check``, which the Helm release waits for.
    """
    handlers = []
    for thread in threading.enumerate():
        for arg in getattr(thread, "_args", ()):
            found = getattr(arg, "generic_handlers", None)
            if isinstance(found, list):
                handlers.extend(found)
    return handlers


def _cancel_handlers() -> list[dict]:
    """The method-handler tables of gRPC generic handlers in this process that serve the Cancel RPC."""
    import grpc._utilities  # noqa: PLC0415 - only in the provider process, where grpc is loaded anyway

    handler_type = grpc._utilities.DictionaryGenericHandler
    return _cancel_tables(_served_handlers(), handler_type) or _cancel_tables(gc.get_objects(), handler_type)


def install_engine_cancel_hook(cancellation: Cancellation = ENGINE_CANCELLATION) -> bool:
    """Make this process's ``Cancel`` RPC handler also set ``cancellation``; True when a handler was wrapped.

    Idempotent. Returns False outside a dynamic-provider process (no gRPC server serving Cancel).
    """
    global _installed
    with _install_lock:
        if _installed:
            return True
        try:
            tables = _cancel_handlers()
        except ImportError:
            return False
        for table in tables:
            table[CANCEL_METHOD] = _wrapped(table[CANCEL_METHOD], cancellation)
        _installed = bool(tables)
        return _installed


def _wrapped(handler, cancellation: Cancellation):
    original = handler.unary_unary

    def cancel(request, context):
        cancellation.cancel("cancelled by the user (Ctrl-C: the engine sent Cancel)")
        return original(request, context)

    return handler._replace(unary_unary=cancel)
