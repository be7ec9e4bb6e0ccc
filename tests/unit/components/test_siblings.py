"""The dynamic resources (gpu_gate, verification, registry, drift) share one shape and one set of names."""

import dataclasses

import pytest

import components.drift.resource as drift
import components.gpu_gate.resource as gate
import components.registry.resource as registry
import components.verification.resource as verification
from components.resource_args import ResourceArgs

SIBLINGS = [
    (gate, gate.GpuCapacityGateArgs, gate.GpuCapacityGateFailed),
    (verification, verification.DeploymentVerificationArgs, verification.VerificationFailed),
    (registry, registry.ModelRegistryEntryArgs, registry.RegistrationFailed),
    (drift, drift.ReleaseDriftArgs, drift.ReleaseDriftFailed),
]


@pytest.mark.parametrize("module, args, failed", SIBLINGS, ids=lambda x: getattr(x, "__name__", ""))
def test_each_dynamic_resource_has_the_shared_shape(module, args, failed):
    assert isinstance(module.PROVIDER_VERSION, str) and module.PROVIDER_VERSION
    assert isinstance(module.OUTPUT_KEYS, tuple) and module.OUTPUT_KEYS
    assert {"PROVIDER_VERSION", "OUTPUT_KEYS", args.__name__, failed.__name__} <= set(module.__all__)
    assert dataclasses.is_dataclass(args) and issubclass(args, ResourceArgs)  # one to_inputs()
    assert args.PROVIDER_VERSION == module.PROVIDER_VERSION
    assert issubclass(failed, RuntimeError) and failed.__name__.endswith("Failed")
    assert not hasattr(args, "to_props")


def test_class_names_are_unique_across_components():
    """Two classes with one name (there were two VerificationSettings) make readers guess which one is meant."""
    import ast
    from collections import Counter
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "components"
    names = Counter(node.name for path in root.rglob("*.py")
                    for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef))
    assert [name for name, count in names.items() if count > 1] == []
