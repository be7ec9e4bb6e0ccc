"""components.unknowns: both forms in which preview hands a dynamic provider an unknown value."""

from pulumi.output import Unknown

from components.unknowns import UNKNOWN, is_unknown_value


def test_wire_sentinel_and_sdk_object_are_unknown():
    assert is_unknown_value(UNKNOWN)
    assert is_unknown_value(Unknown())


def test_known_values_are_not_unknown():
    for value in ("", "3", 3, 3.0, None, {}, [UNKNOWN]):
        assert not is_unknown_value(value)
