"""components.quantity: the program's Kubernetes quantity parser (stack config, GPU gate, drift).

Tested against tests/support/quantity_cases.py, the table the policy pack's parser is tested against too.
"""

import math
from decimal import Decimal

import pytest
from kubernetes.utils import parse_quantity as upstream_parse_quantity

from components.quantity import QuantityError, is_quantity, parse_quantity, plain_number
from tests.support.quantity_cases import CASES, INVALID, REFUSED, VALID, case_id


@pytest.mark.parametrize("case", VALID, ids=case_id)
def test_parses_kubernetes_quantities_exactly(case):
    value = parse_quantity(case.value)
    assert isinstance(value, Decimal) and value == case.expected
    assert is_quantity(case.value)


@pytest.mark.parametrize("case", REFUSED, ids=case_id)
def test_refuses_what_is_not_a_kubernetes_quantity(case):
    with pytest.raises(QuantityError, match="is not a Kubernetes quantity"):
        parse_quantity(case.value)
    assert not is_quantity(case.value)


def _upstream(value: object) -> Decimal | str:
    try:
        return upstream_parse_quantity(value)
    except ValueError:
        return INVALID


def test_kubernetes_client_parser_is_not_enough():
    """Why components.quantity does not wrap kubernetes.utils.parse_quantity (kubernetes==37.0.2): against the
    same table it accepts what Kubernetes refuses, gets exact values wrong and refuses a value the API server
    takes; on every other row it agrees (it is the oracle for the values of the table)."""
    disagree = {case_id(case): _upstream(case.value) for case in CASES if _upstream(case.value) != case.expected}
    assert {key for key, got in disagree.items() if got == INVALID} == {
        "str:' 32Gi  '",  # spaces around a suffixed quantity, which the API server trims
    }
    assert {key for key, got in disagree.items() if got != INVALID} == {
        "bool:True", "bool:False",  # Decimal(True) == 1
        "float:inf", "float:-inf", "float:nan", "str:'inf'", "str:'-inf'", "str:'Infinity'", "str:'NaN'",
        "str:'sNaN'",  # non-finite
        "str:'1K'", "str:'1e3Gi'", "str:'1e3k'",  # a suffix Kubernetes does not know, or two of them
        "str:'2 Gi'", "str:'3\\n'", "str:'1_000'", "str:'\uff11'",  # Python's number syntax, not Kubernetes'
        "float:0.1",  # the float's binary expansion, not the number written in YAML
        "str:'123456789012345678901234567890Ei'",  # rounded to 28 digits
    }
    assert disagree["float:0.1"] == Decimal(0.1) != Decimal("0.1")
    assert disagree["str:'123456789012345678901234567890Ei'"] == Decimal("1.423359869420436337655244274E+47")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_plain_number_reads_finite_numbers_without_a_unit_only(case):
    """The stack config's numbers (replicas, timeouts, ...): the row's value as a float where the table marks it a
    plain finite number, else None -- the same rule as the policy pack's reading.as_number (tested on this table)."""
    number = plain_number(case.value)
    if case.plain and math.isfinite(float(case.expected)):
        assert isinstance(number, float) and number == float(case.expected)
    else:
        assert number is None


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "+inf", "Infinity", "1e999", "-1e999",
                                   float("nan"), float("inf"), float("-inf"), 10**400,
                                   "\uff13", "\u0663", "\u00b2", "1_000", "0x10", "3Gi", "", True, False, None])
def test_plain_number_refuses_non_finite_values_and_other_digits(value):
    """NaN and the infinities (as strings, YAML floats, or beyond a float's range), digits other than ASCII 0-9
    (full-width, Arabic-Indic, superscript), Python-only syntax, units, booleans: none is a plain number."""
    assert plain_number(value) is None
