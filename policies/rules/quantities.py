"""Kubernetes resource quantities ("64Gi", "500m", 2) as exact numbers.

The pack cannot import components/, so it keeps this copy of components/quantity.py's grammar;
tests/support/quantity_cases.py is the one table both are tested against.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation, localcontext

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_QUANTITY = re.compile(rf"(?P<number>{_NUMBER})(?:(?P<unit>[KMGTPE]i|[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?")
_PLAIN_NUMBER = re.compile(rf"{_NUMBER}(?:[eE][+-]?[0-9]+)?")
_UNIT_EXPONENTS = {"n": (10, -9), "u": (10, -6), "m": (10, -3), "k": (10, 3), "M": (10, 6), "G": (10, 9),
                   "T": (10, 12), "P": (10, 15), "E": (10, 18), "Ki": (2, 10), "Mi": (2, 20), "Gi": (2, 30),
                   "Ti": (2, 40), "Pi": (2, 50), "Ei": (2, 60)}

GIBIBYTE = 2**30


def parse_quantity(value: object) -> Decimal:
    """Return a quantity's exact value in base units (bytes, cores, GPUs); raise ValueError if it is not one."""
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    found = _QUANTITY.fullmatch(value.strip(" ")) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"not a quantity: {value!r}")
    number, unit = found["number"], found["unit"]
    base, power = _UNIT_EXPONENTS[unit] if unit else (10, found["exponent"] or 0)
    try:
        if base == 10:
            return Decimal(f"{number}e{power}")
        with localcontext(prec=len(number) + 19):  # exact: 2**60 has 19 digits
            return Decimal(number) * base**power
    except InvalidOperation:  # an exponent beyond what any quantity can hold
        raise ValueError(f"not a quantity: {value!r}") from None


def is_plain_number(value: object) -> bool:
    """An int, a finite float or a numeric string without a unit ("1500", "2.5", "1e3")."""
    if isinstance(value, str):
        return _PLAIN_NUMBER.fullmatch(value.strip(" ")) is not None
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_gibibytes(num_bytes: float | Decimal) -> str:
    """64 * 2**30 -> "64Gi" (for messages)."""
    gib = float(num_bytes) / GIBIBYTE
    return f"{gib:g}Gi"
