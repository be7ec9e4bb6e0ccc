"""How the dynamic providers' failures reach the user: our message alone, and a bug with its whole traceback.

The SDK's provider host (``pulumi.dynamic.__main__``, SDK 3.272) answers any exception a provider raises with
``traceback.format_exc()`` as the gRPC error text, which `pulumi up` prints: Python frames of the SDK and of the
provider above our message, and ``error: Traceback (most recent call last):`` as the resource's status line.
``format_exc`` honours ``sys.tracebacklimit``; at 0 it prints only the last line, ``<module>.<Type>: <message>``.

``plain_failures`` (a class decorator for the four providers) sets ``sys.tracebacklimit = 0`` in the provider host
process only (never in the program, whose own errors keep their frames); it lets the resource's failure exception
(``GpuCapacityGateFailed``, ...) and ``InvalidInputs`` (inputs that fail the rules at create) through as they are,
and turns any other exception, i.e. a bug, into ``ProviderBug`` whose message is the complete traceback, so the
limit hides nothing that could help.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from components.input_rules import InvalidInputs

__all__ = ["PROVIDER_METHODS", "ProviderBug", "in_provider_host", "plain_failures"]

PROVIDER_METHODS = ("check", "diff", "create", "read", "update", "delete")
"""The ResourceProvider methods the host calls with a resource (``configure`` only stores the config)."""

_FRAMES = 1000  # explicit: with limit=None, format_exception would read sys.tracebacklimit (0) and print no frame
_HOST_MODULE = "pulumi.dynamic.__main__"

P = TypeVar("P", bound=type)


class ProviderBug(RuntimeError):
    """An unexpected exception in a provider; the message is its traceback (what a bug report needs)."""


def in_provider_host() -> bool:
    """True in the SDK's dynamic-provider host process (``python -m pulumi.dynamic``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == _HOST_MODULE


def _wrapped(method: Callable[..., Any], expected: tuple[type[Exception], ...]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        if in_provider_host():
            sys.tracebacklimit = 0
        try:
            return method(*args, **kwargs)
        except expected:
            raise
        except Exception as exc:  # noqa: BLE001 - re-raised with its traceback as the message
            text = "".join(traceback.format_exception(exc, limit=_FRAMES)).rstrip()
            raise ProviderBug(text) from None

    call.expected_failures = expected  # type: ignore[attr-defined]
    return call


def plain_failures(*expected: type[Exception]) -> Callable[[P], P]:
    """Class decorator: the provider's ``expected`` failures show as their message only, anything else in full."""

    def decorate(cls: P) -> P:
        for name in PROVIDER_METHODS:
            method = cls.__dict__.get(name)
            if method is not None:
                setattr(cls, name, _wrapped(method, (*expected, InvalidInputs)))
        return cls

    return decorate
