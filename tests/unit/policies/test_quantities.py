"""policies.rules.quantities and reading.as_number: the pack's own quantity parser (it cannot import components/).

Tested against tests/support/quantity_cases.py, the table components.quantity is tested against: the two agree.
"""

import math
import re
from decimal import Decimal

import pytest

from policies.rules.quantities import format_gibibytes, parse_quantity
from policies.rules.reading import UNKNOWN, as_number
from policies.rules.sizing import MODEL_SIZES_SCHEMA
from tests.support.quantity_cases import CASES, REFUSED, VALID, case_id


@pytest.mark.parametrize("case", VALID, ids=case_id)
def test_parses_kubernetes_quantities_exactly(case):
    value = parse_quantity(case.value)
    assert isinstance(value, Decimal) and value == case.expected


@pytest.mark.parametrize("case", REFUSED, ids=case_id)
def test_refuses_what_is_not_a_kubernetes_quantity(case):
    with pytest.raises(ValueError, match="not a quantity: "):
        parse_quantity(case.value)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_as_number_reads_plain_finite_numbers_only(case):
    """A number without a unit, as a float; None for units ("500m"), non-finite values and non-quantities."""
    number = as_number(case.value)
    if case.plain and math.isfinite(float(case.expected)):
        assert number == float(case.expected)
    else:
        assert number is None


def test_as_number_skips_unknowns():
    assert as_number(UNKNOWN) is None


def test_formats_gibibytes_for_messages():
    assert format_gibibytes(32 * 2**30) == "32Gi"
    assert format_gibibytes(16e9) == "14.9012Gi"
    assert format_gibibytes(parse_quantity("16G")) == "14.9012Gi"


@pytest.mark.parametrize("case", [case for case in CASES if isinstance(case.value, str)], ids=case_id)
def test_min_memory_config_schema_admits_only_quantities(case):
    """The pack config's minMemory pattern admits no value the parser refuses (it used to admit "64K", "1.2.3")."""
    pattern = MODEL_SIZES_SCHEMA["additionalProperties"]["properties"]["minMemory"]["pattern"]
    if re.search(pattern.removesuffix("$") + r"\Z", case.value):  # JSON Schema's $ (ECMA-262): the very end only
        assert parse_quantity(case.value) == case.expected
