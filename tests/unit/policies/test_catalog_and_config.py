"""The pack's policy list and the per-environment config files the engine will be given."""

import json
from pathlib import Path

import jsonschema
import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policies.rules.catalog import DEFAULT_ENFORCEMENT, all_policies

CONFIG_DIR = Path(__file__).resolve().parents[3] / "policies" / "config"
ENVIRONMENTS = ("development", "staging", "production")
LEVELS = {level.value for level in EnforcementLevel}


def load_config(environment: str) -> dict:
    return json.loads((CONFIG_DIR / f"{environment}.json").read_text())


def effective_levels(config: dict) -> dict[str, str]:
    """Enforcement per policy as the engine resolves it: the policy's entry, else "all", else the pack's default."""
    levels = {}
    for policy in all_policies():
        entry = config.get(policy.name)
        level = entry if isinstance(entry, str) else (entry or {}).get("enforcementLevel")
        default = (policy.enforcement_level or DEFAULT_ENFORCEMENT).value
        levels[policy.name] = level or config.get("all") or default
    return levels


def test_policy_names_are_unique_and_of_both_kinds():
    policies = all_policies()
    assert len({p.name for p in policies}) == len(policies) == 12
    assert sum(isinstance(p, StackValidationPolicy) for p in policies) == 1
    assert sum(isinstance(p, ResourceValidationPolicy) for p in policies) == 11


def test_without_config_everything_but_pod_security_is_mandatory():
    assert {name for name, level in effective_levels({}).items() if level != "mandatory"} == {"vllm-pod-security"}


def test_development_is_advisory():
    assert set(effective_levels(load_config("development")).values()) == {"advisory"}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_staging_and_production_are_mandatory_except_pod_security(environment):
    levels = effective_levels(load_config(environment))
    assert levels.pop("vllm-pod-security") == "advisory"
    assert set(levels.values()) == {"mandatory"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_files_name_known_policies_and_match_their_schemas(environment):
    policies = {p.name: p for p in all_policies()}
    for key, entry in load_config(environment).items():
        if key == "all":
            assert entry in LEVELS
            continue
        assert key in policies, f"{environment}.json configures unknown policy {key}"
        if isinstance(entry, str):
            assert entry in LEVELS
            continue
        assert entry.get("enforcementLevel", "advisory") in LEVELS
        properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        schema = policies[key].config_schema
        assert properties == {} or schema is not None, f"{key} takes no config"
        if schema is not None:
            jsonschema.validate(properties, {"type": "object", "properties": schema.properties,
                                             "additionalProperties": False})


def test_config_schemas_are_valid_json_schemas():
    for policy in all_policies():
        if policy.config_schema is not None:
            jsonschema.Draft7Validator.check_schema({"type": "object", "properties": policy.config_schema.properties})


def test_p95_limit_may_not_be_loosened_by_config():
    schema = next(p for p in all_policies() if p.name == "vllm-post-deploy-verification").config_schema
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"maxP95Seconds": 5}, {"type": "object", "properties": schema.properties})
