"""The one table of Kubernetes quantity cases that every quantity parser of the project is tested against.

components/quantity.py (program, GPU gate, drift) and policies/rules/quantities.py (the policy pack, which
cannot import components/) must agree on each row: the exact value as a Decimal, or INVALID. Strings follow
the API server (apimachinery's ParseQuantity after Quantity.UnmarshalJSON trims surrounding spaces); ints and
finite floats are YAML's bare numbers, read as written. tests/integration/components/test_quantity_on_server.py
sends every row to a real kube-apiserver.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

INVALID = "invalid"


class Case(NamedTuple):
    value: object
    expected: Decimal | str
    plain: bool = False
    """A plain number too (no unit suffix): what components.quantity.plain_number and the pack's as_number read."""


def _case(value: object, expected: Decimal | str | int, plain: bool = False) -> Case:
    return Case(value, expected if isinstance(expected, (Decimal, str)) else Decimal(expected), plain)


CASES: tuple[Case, ...] = (
    # bare numbers (strings)
    _case("0", 0, True), _case("8", 8, True), _case("+1", 1, True), _case("-1", -1, True),
    _case("0.5", Decimal("0.5"), True), _case(".5", Decimal("0.5"), True), _case("5.", 5, True),
    _case("007", 7, True),
    # exponents
    _case("1e3", 1000, True), _case("1E3", 1000, True), _case("1e+3", 1000, True),
    _case("1e-3", Decimal("0.001"), True), _case("2.5e2", 250, True), _case("-1e3", -1000, True),
    # decimal SI suffixes
    _case("100n", Decimal("1e-7")), _case("5u", Decimal("5e-6")), _case("500m", Decimal("0.5")),
    _case("-500m", Decimal("-0.5")), _case("100k", 10**5), _case("16M", 16 * 10**6), _case("16G", 16 * 10**9),
    _case("2T", 2 * 10**12), _case("3P", 3 * 10**15), _case("4E", 4 * 10**18), _case("1E", 10**18),
    # binary SI suffixes
    _case("1Ki", 2**10), _case("512Mi", 512 * 2**20), _case("32Gi", 32 * 2**30), _case("1Ti", 2**40),
    _case("1Pi", 2**50), _case("8Ei", 8 * 2**60),
    # decimals with suffixes
    _case("0.5Gi", 2**29), _case(".5Gi", 2**29), _case("1.5Gi", 3 * 2**29), _case("1.Gi", 2**30),
    _case("0.1k", 100),
    # surrounding spaces are trimmed (not tabs or newlines: JSON sends those escaped, and the server refuses them)
    _case(" 3 ", 3, True), _case(" 32Gi  ", 32 * 2**30), _case("\t32Gi\n", INVALID), _case("3\n", INVALID),
    # YAML's bare numbers
    _case(8, 8, True), _case(0, 0, True), _case(-2, -2, True), _case(2.0, 2, True),
    _case(0.1, Decimal("0.1"), True), _case(1.5, Decimal("1.5"), True), _case(1e20, 10**20, True),
    # very large and very small values stay exact
    _case(10**30, 10**30, True), _case("9223372036854775808", 2**63, True), _case("1e100", 10**100, True),
    _case("123456789012345678901234567890Ei", 123456789012345678901234567890 * 2**60),
    _case("1e-30", Decimal("1e-30"), True),
    # refused here, though the API server reads a missing number as 0 (no stack needs them)
    _case("Gi", INVALID), _case("e3", INVALID), _case("-", INVALID), _case("+", INVALID), _case(".", INVALID),
    # not quantities
    _case("", INVALID), _case("   ", INVALID), _case("--1", INVALID), _case("+-1", INVALID),
    _case("1.2.3", INVALID), _case("1,5", INVALID), _case("2 Gi", INVALID), _case("32GB", INVALID),
    _case("32gi", INVALID), _case("1K", INVALID), _case("1KB", INVALID), _case("1ki", INVALID),
    _case("1mi", INVALID), _case("1ni", INVALID), _case("1e", INVALID), _case("1e3Gi", INVALID),
    _case("1e3k", INVALID), _case("1e1.5", INVALID), _case("1Gi5", INVALID), _case("0x10", INVALID),
    _case("1_000", INVALID), _case("\uff11", INVALID), _case("one", INVALID),
    _case("1e99999999999999999999", INVALID),
    # non-finite numbers
    _case("inf", INVALID), _case("-inf", INVALID), _case("Infinity", INVALID), _case("nan", INVALID),
    _case("NaN", INVALID), _case("sNaN", INVALID), _case(float("inf"), INVALID), _case(float("-inf"), INVALID),
    _case(float("nan"), INVALID),
    # other YAML types
    _case(True, INVALID), _case(False, INVALID), _case(None, INVALID), _case([1], INVALID), _case({"a": 1}, INVALID),
)


def case_id(case: Case) -> str:
    return f"{type(case.value).__name__}:{case.value!r}"


VALID = tuple(case for case in CASES if case.expected != INVALID)
REFUSED = tuple(case for case in CASES if case.expected == INVALID)
