"""The shipped stack configurations, turned into Release inputs the way components/ does, pass every policy."""

from pathlib import Path

import pytest
import yaml

from .builders import release_props, stack_resource, stack_violations, violations, verification_props
from policies.rules.catalog import all_policies
from policies.rules.subjects import HELM_RELEASE_TYPE, VERIFICATION_TYPE

ROOT = Path(__file__).resolve().parents[3]
config_module = pytest.importorskip("components.config")
chart_values_module = pytest.importorskip("components.chart_values")


def shipped_config(stack: str):
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        pytest.skip(f"{path.name} is not shipped")
    raw = yaml.safe_load(path.read_text())["config"]
    return config_module.validate_config({key.split(":", 1)[1]: value for key, value in raw.items()})


def props_of(config) -> dict:
    release = config.release
    return release_props(
        config.environment, values=chart_values_module.chart_values(config), name=release.name,
        chart="./charts/vllm-deployment", namespace=release.namespace, atomic=release.atomic,
        cleanupOnFail=release.atomic, skipAwait=not release.helm_wait, timeout=release.timeout_seconds)


@pytest.mark.parametrize("stack", ["development", "staging", "production", "local"])
def test_shipped_stack_passes_every_resource_policy(stack):
    props = props_of(shipped_config(stack))
    for policy in all_policies():
        if policy.name != "vllm-post-deploy-verification":
            assert violations(policy.name, props) == [], policy.name


@pytest.mark.parametrize("stack", ["development", "staging", "production", "local"])
def test_shipped_stack_passes_the_verification_policy(stack):
    config = shipped_config(stack)
    release = stack_resource(HELM_RELEASE_TYPE, f"{config.release.name}-release", props_of(config))
    verify = config.verification
    verification = stack_resource(VERIFICATION_TYPE, f"{config.release.name}-verification", verification_props(
        config.environment, release_name=config.release.name, p95_limit_seconds=verify.p95_limit_seconds,
        pod_ready_timeout_seconds=verify.pod_ready_timeout_seconds), dependencies=[release])
    assert stack_violations([release, verification]) == []
