"""Kubernetes resource quantities ("32Gi", "500m", "8") parsed into exact numbers (pure).

The grammar is the API server's: apimachinery's ``resource.ParseQuantity`` after ``Quantity.UnmarshalJSON`` has
trimmed surrounding spaces (JSON sends tabs and newlines escaped, and those it refuses). Stricter in one way:
a missing number ("Gi", ".", "-") is refused, where the server reads 0.
``kubernetes.utils.parse_quantity`` is not used: it accepts what the API server refuses (``True``, ``"NaN"``,
``"inf"``, ``"1K"``, ``"1e3Gi"``, ``"2 Gi"``, ``"1_000"``, non-ASCII digits), refuses " 32Gi ", reads a YAML
float 0.1 as its binary expansion, rounds long values to 28 digits, and importing it costs 0.3 to 0.5 s of
every preview. tests/unit/components/test_quantity.py shows each of these against the shared case table,
tests/integration/components/test_quantity_on_server.py checks that table against a real kube-apiserver.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation, localcontext

__all__ = ["QuantityError", "parse_quantity", "is_quantity", "plain_number"]

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"  # ASCII digits only: "３" is not a number here
_QUANTITY = re.compile(rf"(?P<number>{_NUMBER})"
                       r"(?:(?P<binary>[KMGTPE])i|(?P<decimal>[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?")
_PLAIN_NUMBER = re.compile(rf"{_NUMBER}(?:[eE][+-]?[0-9]+)?")
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_EXPONENTS = {"K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """The quantity's exact value in base units (bytes, cores, devices); raises ``QuantityError``.

    Strings follow the Kubernetes grammar; ints and finite floats (YAML's bare numbers) are read as written.
    """
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, (int, float)):
        return Decimal(repr(value))
    match = _QUANTITY.fullmatch(value.strip(" ")) if isinstance(value, str) else None
    if not match:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    number, binary, decimal, exponent = match.group("number", "binary", "decimal", "exponent")
    try:
        if binary:
            with localcontext(prec=len(number) + 19):  # exact: 2**60 has 19 digits
                return Decimal(number) * (2 ** _BINARY_EXPONENTS[binary])
        return Decimal(f"{number}e{_DECIMAL_EXPONENTS[decimal] if decimal else exponent or 0}")
    except InvalidOperation:  # an exponent beyond what any quantity can hold
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from None


def is_quantity(value: object) -> bool:
    """Whether ``value`` parses as a Kubernetes quantity."""
    try:
        parse_quantity(value)
    except QuantityError:
        return False
    return True


def plain_number(value: object) -> float | None:
    """A number without a unit -- an int, a finite float, or a string such as "3", " 2.5 ", "1e3" -- as a float.

    None for anything else: booleans, NaN and infinities (also "nan", "inf", YAML's .nan/.inf, "1e999"), digits
    other than ASCII 0-9 ("３"), Python-only syntax ("1_000", "0x10"), units ("500m") and other types. The policy
    pack's ``reading.as_number`` is the same rule (tests/support/quantity_cases.py, column ``plain``).
    """
    if isinstance(value, str):
        if not _PLAIN_NUMBER.fullmatch(value.strip(" ")):
            return None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        return None
    return number if math.isfinite(number) else None
