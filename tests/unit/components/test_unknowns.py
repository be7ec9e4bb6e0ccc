"""components.unknowns: both forms in which preview hands a dynamic provider an unknown value."""

from pulumi.output import Unknown

from components.unknowns import UNKNOWN, is_unknown_value


def test_wire_sentinel_and_sdk_object_are_unknown():
    assert is_unknown_value(UNKNOWN)
    assert is_unknown_value(Unknown())


def test_known_values_are_not_unknown():
    for value in ("", "3", 3, 3.0, None, {}, [UNKNOWN]):
        assert not is_unknown_value(value)


def test_is_unknown_looks_inside_mappings_and_lists():
    from components.unknowns import is_unknown

    assert is_unknown(UNKNOWN) and is_unknown(Unknown())
    assert is_unknown([{"key": "nvidia.com/gpu", "value": UNKNOWN}])
    assert is_unknown({UNKNOWN: "gpu"}) and is_unknown(("a", Unknown()))
    for value in ("", "3", 3, None, {}, [], {"node-type": "gpu"}, [{"operator": "Exists"}]):
        assert not is_unknown(value)


def test_every_dynamic_resource_uses_the_one_is_unknown():
    """The sibling packages share components.unknowns.is_unknown instead of keeping their own copies."""
    import components.drift.resource as drift
    import components.gpu_gate.inputs as gate
    import components.input_rules as input_rules
    import components.registry.settings as registry
    import components.unknowns as unknowns
    import components.verification.settings as verification

    for module in (gate, verification, input_rules, drift):
        assert module.is_unknown is unknowns.is_unknown, module.__name__
    assert getattr(registry, "is_unknown", unknowns.is_unknown) is unknowns.is_unknown  # via input_rules
