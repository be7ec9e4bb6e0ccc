"""The shipped stacks, run under Pulumi mocks (tests/support/mock_program.py), pass every policy: the resources,
their inputs and their dependencies are the ones the real program registers."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from pulumi_policy import PolicyResource, ResourceValidationPolicy, StackValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from policies.rules.catalog import all_policies

from .builders import resource_args

ROOT = Path(__file__).resolve().parents[3]
STACKS = [path.name.split(".")[1] for path in sorted(ROOT.glob("Pulumi.*.yaml"))]


@cache
def registered(stack: str) -> tuple[tuple[PolicyResource, dict], ...]:
    """(resource, raw inputs) for every custom resource the program registers for stack, dependencies resolved."""
    result = subprocess.run([sys.executable, "-m", "tests.support.mock_program", stack], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    registrations = [r for r in data["registrations"] if r["custom"]]
    assert registrations, f"no resources registered for {stack}: {data['error']}"
    inputs = {r["urn"]: data["inputs"].get(r["name"], {}) for r in registrations}
    by_urn = {r["urn"]: PolicyResource(r["type"], unknown_checking_proxy(inputs[r["urn"]]), r["urn"], r["name"],
                                       None, None, None, [], {}) for r in registrations}
    for registration in registrations:
        resource = by_urn[registration["urn"]]
        resource.dependencies = [by_urn[urn] for urn in registration["dependencies"] if urn in by_urn]
        resource.property_dependencies = {key: [by_urn[urn] for urn in urns if urn in by_urn]
                                          for key, urns in registration["property_dependencies"].items()}
    return tuple((by_urn[urn], inputs[urn]) for urn in by_urn)


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_registers_a_vllm_release_and_its_verification(stack):
    types = [resource.resource_type for resource, _ in registered(stack)]
    assert "kubernetes:helm.sh/v3:Release" in types
    assert "pulumi-python:dynamic/vllm:DeploymentVerification" in types


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_passes_every_policy(stack):
    found: list[str] = []
    resources = [resource for resource, _ in registered(stack)]
    for policy in all_policies():
        report = lambda message, urn=None, name=policy.name: found.append(f"[{name}] {message}")  # noqa: E731
        if isinstance(policy, ResourceValidationPolicy):
            for resource, inputs in registered(stack):
                policy.validate(resource_args(inputs, resource.resource_type, resource.name), report)
        else:
            policy.validate(StackValidationArgs(resources, {}), report)
    assert found == []
