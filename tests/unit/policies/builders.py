"""Resources as the policy pack receives them: a vLLM release and its verification, good by default."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.rules.catalog import all_policies
from policies.rules.subjects import HELM_RELEASE_TYPE, VERIFICATION_TYPE

UNKNOWN_STRING = UNKNOWN_STRING_VALUE
UNKNOWN_NUMBER = UNKNOWN_NUMBER_VALUE
PROJECT_URN = "urn:pulumi:{stack}::vllm-deploy::vllm:index:VllmModel${type}::{name}"

# (size, GPUs, memory, startup budget, Helm timeout) per environment, as the shipped stacks set them.
_ENVIRONMENTS = {
    "development": ("small", 1, "32Gi", 1200, 1500, False, 1),
    "staging": ("medium", 2, "96Gi", 3600, 4500, True, 1),
    "production": ("large", 4, "256Gi", 5400, 6300, True, 2),
}


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """base with changes deep-merged in; a change of None removes the key."""
    result = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def release_name(environment: str) -> str:
    return {"development": "llama-7b-development", "staging": "llama-13b-staging",
            "production": "llama-70b-production"}[environment]


def vllm_values(environment: str = "development", **changes: Any) -> dict[str, Any]:
    """Helm values of a compliant release in environment (the shape of components/chart_values.py)."""
    size, gpus, memory, budget, _, _, replicas = _ENVIRONMENTS[environment]
    values = {
        "fullnameOverride": release_name(environment),
        "environment": environment,
        "replicaCount": replicas,
        "image": {"repository": "vllm/vllm-openai", "tag": "v0.11.0", "pullPolicy": "IfNotPresent"},
        "model": {"path": "meta-llama/Llama-2-7b-chat-hf", "size": size, "servedModelName": "llama",
                  "tensorParallelSize": gpus, "hfToken": {"existingSecret": "hf-token", "key": "token"}},
        "resources": {"limits": {"nvidia.com/gpu": gpus, "memory": memory, "cpu": "8"},
                      "requests": {"nvidia.com/gpu": gpus, "memory": memory, "cpu": "8"}},
        "startup": {"budgetSeconds": budget, "periodSeconds": 10},
        "rollout": {"mode": "verified" if environment in ("staging", "production") else "recreate", "maxSurge": 1,
                    "verifiedCondition": "vllm.deploy/verified"},
        "podDisruptionBudget": {"enabled": replicas > 1, "maxUnavailable": 1},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "extraEnv": [{"name": "VLLM_LOGGING_LEVEL", "value": "INFO"}],
    }
    return merged(values, changes)


def release_props(environment: str = "development", values: Mapping[str, Any] | None = None,
                  **changes: Any) -> dict[str, Any]:
    """Inputs of a compliant vLLM helm.v3.Release (camelCase wire names, as policy packs see them)."""
    _, _, _, _, timeout, atomic, _ = _ENVIRONMENTS[environment]
    props = {
        "name": release_name(environment),
        "chart": "./charts/vllm-deployment",
        "namespace": "vllm",
        "createNamespace": True,
        "atomic": atomic,
        "cleanupOnFail": atomic,
        "skipAwait": False,
        "timeout": timeout,
        "maxHistory": 5,
        "values": vllm_values(environment) if values is None else dict(values),
    }
    return merged(props, changes)


def verification_props(environment: str = "development", **changes: Any) -> dict[str, Any]:
    budget = _ENVIRONMENTS[environment][3]
    props = {"namespace": "vllm", "release_name": release_name(environment), "p95_limit_seconds": 3.0,
             "pod_ready_timeout_seconds": float(budget), "samples": 20.0, "access_mode": "port-forward"}
    return merged(props, changes)


def urn(resource_type: str, name: str, stack: str = "development") -> str:
    return PROJECT_URN.format(stack=stack, type=resource_type, name=name)


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def resource_args(props: Mapping[str, Any], resource_type: str = HELM_RELEASE_TYPE, name: str = "llama-release",
                  config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    """ResourceValidationArgs as the analyzer builds them: props behind the unknown-checking proxy."""
    return ResourceValidationArgs(resource_type, unknown_checking_proxy(copy.deepcopy(dict(props))),
                                  urn(resource_type, name), name, _options(), None, config or {})


def policy_named(name: str) -> Policy:
    return next(policy for policy in all_policies() if policy.name == name)


def violations(policy_name: str, props: Mapping[str, Any], resource_type: str = HELM_RELEASE_TYPE,
               config: Mapping[str, Any] | None = None, name: str = "llama-release") -> list[str]:
    """Messages the named resource policy reports for props."""
    found: list[str] = []
    policy_named(policy_name).validate(resource_args(props, resource_type, name, config),
                                       lambda message, urn=None: found.append(message))
    return found


def stack_resource(resource_type: str, name: str, props: Mapping[str, Any],
                   dependencies: list[PolicyResource] | None = None,
                   property_dependencies: dict[str, list[PolicyResource]] | None = None) -> PolicyResource:
    return PolicyResource(resource_type, unknown_checking_proxy(copy.deepcopy(dict(props))),
                          urn(resource_type, name), name, _options(), None, None,
                          list(dependencies or []), dict(property_dependencies or {}))


def release_resource(environment: str = "development", **changes: Any) -> PolicyResource:
    return stack_resource(HELM_RELEASE_TYPE, f"{release_name(environment)}-release",
                          release_props(environment, **changes))


def verification_resource(release: PolicyResource | None, environment: str = "development", *,
                          via: str = "depends_on", **changes: Any) -> PolicyResource:
    """A verification depending on release through depends_on or through its revision input."""
    deps = [release] if release is not None and via == "depends_on" else []
    prop_deps = {"revision": [release]} if release is not None and via == "revision" else {}
    return stack_resource(VERIFICATION_TYPE, f"{release_name(environment)}-verification",
                          verification_props(environment, **changes), deps, prop_deps)


def stack_violations(resources: list[PolicyResource], config: Mapping[str, Any] | None = None,
                     policy_name: str = "vllm-post-deploy-verification") -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    policy_named(policy_name).validate(StackValidationArgs(resources, config or {}),
                                       lambda message, urn=None: found.append((message, urn)))
    return found
