from types import SimpleNamespace

import pytest
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE


@pytest.fixture
def unknown_values():
    """The sentinels the engine sends for values computed during the update."""
    return SimpleNamespace(string=UNKNOWN_STRING_VALUE, number=UNKNOWN_NUMBER_VALUE, object=UNKNOWN_OBJECT_VALUE)
