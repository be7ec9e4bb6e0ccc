"""Kubernetes resource quantities ("32Gi", "500m", "8") parsed into numbers (pure)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

__all__ = ["QuantityError", "parse_quantity", "is_quantity"]

_QUANTITY = re.compile(r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")

_MULTIPLIERS = {
    None: Decimal(1),
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """The quantity's value in base units (bytes, cores, devices); raises ``QuantityError``."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise QuantityError(f"{value!r} is not a Kubernetes quantity")
        return Decimal(str(value))
    if not isinstance(value, str):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    match = _QUANTITY.match(value.strip())
    if not match:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    suffix = match.group("suffix")
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from exc
    if suffix and suffix[0] in "eE":
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _MULTIPLIERS[suffix]


def is_quantity(value: object) -> bool:
    """Whether ``value`` parses as a Kubernetes quantity."""
    try:
        parse_quantity(value)
    except QuantityError:
        return False
    return True
