"""Values not known yet during `pulumi preview`, as dynamic providers receive them (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown

__all__ = ["UNKNOWN", "is_unknown", "is_unknown_value"]

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The wire sentinel (``pulumi.runtime.rpc.UNKNOWN``); newer SDKs hand ``check``/``diff`` an ``Unknown`` instead."""


def is_unknown_value(value: Any) -> bool:
    """Whether ``value`` itself (not its contents) is the engine's placeholder for an unknown."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def is_unknown(value: Any) -> bool:
    """Whether ``value`` or anything inside it (mapping keys and values, list items) is not known yet."""
    if is_unknown_value(value):
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(k) or is_unknown(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False
