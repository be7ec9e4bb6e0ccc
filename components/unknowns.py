"""Values not known yet during `pulumi preview`, as dynamic providers receive them (pure)."""

from __future__ import annotations

from typing import Any

from pulumi.output import Unknown

__all__ = ["UNKNOWN", "is_unknown_value"]

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The wire sentinel (``pulumi.runtime.rpc.UNKNOWN``); newer SDKs hand ``check``/``diff`` an ``Unknown`` instead."""


def is_unknown_value(value: Any) -> bool:
    """Whether ``value`` itself (not its contents) is the engine's placeholder for an unknown."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)
