"""components.input_rules: the numbers the dynamic resources take from the engine (ints and floats, never strings)."""

import math

import pytest

from components.input_rules import finite_number, integer, whole_number
from components.quantity import plain_number
from tests.support.quantity_cases import CASES, case_id

NOT_NUMBERS = [float("nan"), float("inf"), float("-inf"), True, False, None, "3", "\uff13", "nan", [3], {"n": 3}]


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=ascii)
def test_non_finite_values_booleans_and_strings_are_no_engine_numbers(value):
    assert finite_number(value) is None and whole_number(value) is None


@pytest.mark.parametrize("value, number, whole", [(3, 3, 3), (3.0, 3.0, 3), (-2, -2, -2), (0.5, 0.5, None),
                                                  (0, 0, 0), (10**30, 10**30, 10**30), (1e300, 1e300, int(1e300))])
def test_finite_numbers_are_taken_and_whole_ones_become_ints(value, number, whole):
    assert finite_number(value) == number
    assert whole_number(value) == whole and (whole is None or type(whole_number(value)) is int)


@pytest.mark.parametrize("case", [c for c in CASES if not isinstance(c.value, str)], ids=case_id)
def test_engine_numbers_and_stack_config_numbers_agree_on_every_non_string(case):
    """The stack config (quantity.plain_number) also reads numeric strings; on YAML's numbers the two rules agree."""
    engine = finite_number(case.value)
    assert (engine is None) == (plain_number(case.value) is None)
    if engine is not None:
        assert math.isclose(float(engine), plain_number(case.value))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "3", 2.5, 0, 65536])
def test_the_integer_rule_names_what_is_allowed(value):
    assert integer(1, 65535)(value) == (value, "a whole number from 1 to 65535")


def test_the_integer_rule_converts_engine_floats():
    assert integer(1, 65535)(8000.0) == (8000, None)
    assert integer(1, 10, optional=True)(0.0) == (None, None)
