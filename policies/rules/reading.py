"""Reading resource properties that may hold values unknown during preview.

Policy packs receive properties wrapped in pulumi-policy's unknown-checking proxies: touching an
unknown raises UnknownValueError. These helpers turn that into the UNKNOWN sentinel, so a rule can
skip just the check that needs the value instead of the whole policy failing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pulumi_policy.proxy import UnknownValueError, _is_unknown

from .quantities import is_plain_number, parse_quantity


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""A value that is not known yet (computed during the update)."""

_MISSING = object()


def is_unknown(value: object) -> bool:
    """True for UNKNOWN and for the raw preview sentinels (unproxied properties)."""
    return value is UNKNOWN or _is_unknown(value)


def is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def lookup(container: object, *path: Any, default: Any = None) -> Any:
    """Follow keys/indexes through nested mappings and lists; UNKNOWN if a step is unknown, default if absent."""
    current = container
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        try:
            if is_mapping(current):
                if key not in current:
                    return default
                current = current[key]
            elif is_list(current) and isinstance(key, int):
                if not -len(current) <= key < len(current):
                    return default
                current = current[key]
            else:
                return default
        except UnknownValueError:
            return UNKNOWN
    return UNKNOWN if is_unknown(current) else current


def items(mapping: object) -> Iterator[tuple[Any, Any]]:
    """(key, value) pairs of a mapping, values UNKNOWN where unknown; nothing for a non-mapping."""
    if not is_mapping(mapping):
        return
    for key in list(mapping):
        yield key, lookup(mapping, key)


def elements(sequence: object) -> Iterator[Any]:
    """Elements of a list, UNKNOWN where unknown; nothing for a non-list."""
    if not is_list(sequence):
        return
    for index in range(len(sequence)):
        yield lookup(sequence, index)


def walk(value: object, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf under value as (dotted path, leaf), descending into mappings and lists."""
    if is_mapping(value):
        for key, child in items(value):
            yield from walk(child, f"{path}.{key}" if path else str(key))
    elif is_list(value):
        for index, child in enumerate(elements(value)):
            yield from walk(child, f"{path}[{index}]")
    else:
        yield path, value


def as_number(value: object) -> float | None:
    """Numbers arrive as floats (1.0) or numeric strings; None when it is not a finite number without a unit."""
    if is_unknown(value) or not is_plain_number(value):
        return None
    try:
        number = float(parse_quantity(value))
    except ValueError:  # an exponent beyond what any number can hold
        return None
    return number if math.isfinite(number) else None


def as_bool(value: object) -> bool | None:
    """True/False (also from "true"/"false"); None when unknown or not a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def show(value: object) -> str:
    """A value as it should appear in a message."""
    if value is None:
        return "(not set)"
    if isinstance(value, Decimal):  # a parsed quantity reads like the float it used to be
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
