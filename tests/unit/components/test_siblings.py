"""The dynamic resources (gpu_gate, verification, registry, drift) share one shape and one set of names."""

import dataclasses

import pulumi
import pytest

import components.drift.resource as drift
import components.gpu_gate.resource as gate
import components.registry.resource as registry
import components.verification.resource as verification
from components.resource_args import ClusterArgs, ResourceArgs

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


def _gate_inputs():
    from components.gpu_gate.inputs import NEED_INPUTS, SETTING_INPUTS
    return {"kubeconfig", "context", *NEED_INPUTS, *SETTING_INPUTS}


def _verification_inputs():
    from components.verification.settings import REVERIFY_KEYS, SECRET_KEYS
    return {*REVERIFY_KEYS, *SECRET_KEYS}


def _registry_inputs():
    from components.registry.settings import REGISTER_KEYS, RegistrySettings
    keys = {*REGISTER_KEYS, "connect_timeout_seconds", "retry_timeout_seconds"}
    assert keys == {field.name for field in dataclasses.fields(RegistrySettings)}
    return keys


@pytest.mark.parametrize("args, provider_reads", [
    (gate.GpuCapacityGateArgs, _gate_inputs),
    (verification.DeploymentVerificationArgs, _verification_inputs),
    (registry.ModelRegistryEntryArgs, _registry_inputs),
    (drift.ReleaseDriftArgs, lambda: set(drift.INPUT_KEYS)),
], ids=lambda x: getattr(x, "__name__", ""))
def test_the_args_declare_exactly_the_inputs_the_provider_reads(args, provider_reads):
    """The Args (what VllmModel passes) and the provider's input keys are two lists of one set of names."""
    assert {field.name for field in dataclasses.fields(args)} | {"provider_version"} == provider_reads()


def test_cluster_args_keep_the_kubeconfig_secret_and_take_the_provider_version_from_the_class(monkeypatch):
    monkeypatch.setattr(pulumi.Output, "secret", lambda value: ("secret", value))
    args = drift.ReleaseDriftArgs(namespace="system", release_name="llama", revision=3, kubeconfig="apiVersion: v1")
    inputs = args.to_inputs()
    assert inputs["kubeconfig"] == ("secret", "apiVersion: v1") and inputs["context"] == ""
    assert inputs["provider_version"] == drift.PROVIDER_VERSION
    assert registry.ModelRegistryEntryArgs.SECRET_INPUT == "database_url"
    assert {f.name for f in dataclasses.fields(ClusterArgs)} == {"kubeconfig", "context"}
