import pytest

from policies.rules.quantities import format_gibibytes, parse_quantity


@pytest.mark.parametrize("text, expected", [
    ("64Gi", 64 * 2**30), ("512Mi", 512 * 2**20), ("1Ti", 2**40), ("16G", 16e9), ("500M", 500e6),
    ("500m", 0.5), ("8", 8.0), (" 2 ", 2.0), ("1.5Gi", 1.5 * 2**30), ("1e3", 1000.0), ("100k", 1e5),
    (4, 4.0), (1.0, 1.0),
])
def test_parses_kubernetes_quantities(text, expected):
    assert parse_quantity(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "Gi", "lots", "12 Gb", "1.2.3", True, None, [1]])
def test_rejects_what_is_not_a_quantity(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_formats_gibibytes_for_messages():
    assert format_gibibytes(32 * 2**30) == "32Gi"
    assert format_gibibytes(16e9) == "14.9012Gi"
