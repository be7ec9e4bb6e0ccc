"""components.quantity: the one Kubernetes quantity parser (stack config and the GPU gate)."""

from decimal import Decimal

import pytest

from components.quantity import QuantityError, is_quantity, parse_quantity


@pytest.mark.parametrize("value, expected", [
    ("32Gi", Decimal(32 * 2**30)), ("500m", Decimal("0.5")), ("8", Decimal(8)), ("1e3", Decimal(1000)),
    ("100n", Decimal("1e-7")), ("5u", Decimal("5e-6")), ("-1", Decimal(-1)), (2.0, Decimal(2)), (" 3 ", Decimal(3)),
])
def test_parses_kubernetes_quantities(value, expected):
    assert parse_quantity(value) == expected


@pytest.mark.parametrize("value", ["32GB", "", "Gi", "--1", "2 Gi", True, None, float("inf"), float("nan")])
def test_rejects_what_kubernetes_rejects(value):
    with pytest.raises(QuantityError):
        parse_quantity(value)
    assert not is_quantity(value)
