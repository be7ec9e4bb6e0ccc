"""Kubernetes resource quantities ("64Gi", "500m", 2) as plain numbers."""

from __future__ import annotations

import re

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "K": 1e3,
                     "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*$")

GIBIBYTE = 2**30


def parse_quantity(value: object) -> float:
    """Return a quantity's value in base units (bytes, cores, GPUs); raise ValueError if it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a quantity: {value!r}")
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = match.groups()
    if suffix in _BINARY_SUFFIXES:
        return float(number) * _BINARY_SUFFIXES[suffix]
    if suffix in _DECIMAL_SUFFIXES:
        return float(number) * _DECIMAL_SUFFIXES[suffix]
    raise ValueError(f"unknown quantity suffix {suffix!r} in {value!r}")


def format_gibibytes(num_bytes: float) -> str:
    """64 * 2**30 -> "64Gi" (for messages)."""
    gib = num_bytes / GIBIBYTE
    return f"{gib:g}Gi"
