"""The whole program under Pulumi mocks, per stack: resource graph, chart values, secrets and outputs."""

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from components.chart_values import chart_values
from components.config import validate_config
from components.vllm_model import COMPONENT_NAME
from tests.unit.components.test_config import stack_config

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("development", "staging", "production", "local")
COMPONENT = "vllm:index:VllmModel"
GATE = "pulumi-python:dynamic/vllm:GpuCapacityGate"
RELEASE = "kubernetes:helm.sh/v3:Release"
VERIFICATION = "pulumi-python:dynamic/vllm:DeploymentVerification"
REGISTRY = "pulumi-python:dynamic/vllm:ModelRegistryEntry"
PROVIDER = "pulumi:providers:kubernetes"
DRIFT = "pulumi-python:dynamic/vllm:ReleaseDrift"


def run_program(stack: str, config: dict | None = None) -> dict:
    args = [sys.executable, "-m", "tests.support.mock_program", stack]
    if config is not None:
        path = Path(f"/tmp/vllm-mock-config-{stack}.json")
        path.write_text(json.dumps(config))
        args += ["--config-json", str(path)]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@cache
def program(stack: str) -> dict:
    return run_program(stack)


def one(stack: str, type_: str) -> dict:
    matches = [r for r in program(stack)["registrations"] if r["type"] == type_]
    assert len(matches) == 1, [r["type"] for r in program(stack)["registrations"]]
    return matches[0]


@pytest.mark.parametrize("stack", STACKS)
def test_graph_is_component_with_gate_release_verification(stack):
    result = program(stack)
    assert result["error"] is None
    component = one(stack, COMPONENT)
    release_name = validate_config(stack_config(stack)).release.name
    assert component["name"] == COMPONENT_NAME  # fixed: a rename updates these resources, never makes new ones
    assert component["alias_names"] == [release_name]  # stacks deployed when it was named after the release
    registry = [REGISTRY] if validate_config(stack_config(stack)).registry.enabled else []
    expected = [COMPONENT, PROVIDER, GATE, RELEASE, VERIFICATION, DRIFT, *registry]
    assert sorted(r["type"] for r in result["registrations"]) == sorted(expected)
    for type_ in (PROVIDER, GATE, RELEASE, VERIFICATION, DRIFT, *registry):
        assert one(stack, type_)["parent"] == component["urn"], type_


def test_registry_is_enabled_in_staging_production_and_local_but_not_development():
    enabled = {stack: validate_config(stack_config(stack)).registry.enabled for stack in STACKS}
    assert enabled == {"development": False, "staging": True, "production": True, "local": True}


@pytest.mark.parametrize("stack", ["staging", "production", "local"])
def test_registry_entry_is_written_from_the_verification_and_keeps_the_url_secret(stack):
    config = validate_config(stack_config(stack))
    verification, entry = one(stack, VERIFICATION), one(stack, REGISTRY)
    assert verification["urn"] in entry["dependencies"]  # only after the verification passed
    for key in ("helm_revision", "verified_at", "p50_seconds", "p95_seconds"):
        assert verification["urn"] in entry["property_dependencies"][key], key
    assert "database_url" in entry["secret_inputs"]
    assert "database_url" in entry["additional_secret_outputs"]
    inputs = program(stack)["inputs"][f"{COMPONENT_NAME}-registry"]
    assert inputs["environment"] == config.environment
    assert inputs["served_model_name"] == config.model.served_model_name
    assert inputs["stack"] == f"vllm-deploy/{stack}"
    assert inputs["image"] == config.image.reference
    assert (inputs["helm_revision"], inputs["chart_version"], inputs["p95_seconds"]) == (1, "0.1.0", 0.2)
    assert inputs["verified_at"] == "2026-01-01T00:00:00Z"
    assert inputs["gpus_per_pod"] == config.resources.gpus and inputs["replicas"] == config.release.replicas
    assert inputs["routing_enabled"] is True and inputs["on_destroy"] == "retire"
    assert inputs["api_path"] == "/v1/chat/completions"
    assert program(stack)["outputs"]["registry"]["status"] == "active"


def test_development_has_no_registry_output():
    assert program("development")["outputs"]["registry"] is None


@pytest.mark.parametrize("stack", STACKS)
def test_release_waits_for_gate_and_verification_waits_for_release(stack):
    gate, release, verification = one(stack, GATE), one(stack, RELEASE), one(stack, VERIFICATION)
    assert gate["urn"] in release["dependencies"]
    assert release["urn"] in verification["dependencies"]
    assert release["urn"] in verification["property_dependencies"]["revision"]
    assert release["provider"].startswith(one(stack, PROVIDER)["urn"])


@pytest.mark.parametrize("stack", STACKS)
def test_release_carries_the_chart_values_of_the_stack(stack):
    config = validate_config(stack_config(stack))
    inputs = program(stack)["inputs"][f"{COMPONENT_NAME}-release"]
    assert inputs["name"] == config.release.name  # fixed, never auto-suffixed
    assert inputs["chart"] == "./charts/vllm-deployment"
    assert inputs["namespace"] == "system"
    assert inputs["values"] == json.loads(json.dumps(chart_values(config)))
    assert inputs["atomic"] is config.release.atomic
    assert inputs["skipAwait"] is (not config.release.helm_wait)
    assert inputs["timeout"] == config.release.timeout_seconds


@pytest.mark.parametrize("stack", STACKS)
def test_gate_and_verification_get_the_stack_settings(stack):
    config = validate_config(stack_config(stack))
    inputs = program(stack)["inputs"]
    gate = inputs[f"{COMPONENT_NAME}-gpu-capacity"]
    assert (gate["replicas"], gate["gpus_per_pod"]) == (config.release.replicas, config.resources.gpus)
    assert gate["node_selector"] == {"node-type": "gpu"}
    assert gate["timeout_seconds"] == config.gpu_wait.timeout_seconds
    assert (gate["allow_node_autoscaling"], gate["node_group_gpus"]) == (False, 0)
    verification = inputs[f"{COMPONENT_NAME}-verification"]
    assert verification["release_name"] == config.release.name
    assert verification["p95_limit_seconds"] == 3
    assert verification["samples"] == config.verification.samples
    assert verification["pod_ready_timeout_seconds"] == config.model.startup_budget_seconds
    assert verification["revision"] == 1
    assert verification["unschedulable_grace_seconds"] == config.verification.unschedulable_grace_seconds == 90
    assert (verification["api_key_secret_name"], verification["api_key_secret_key"]) == ("", "api-key")
    assert verification["image_pull_grace_seconds"] == config.verification.image_pull_grace_seconds
    assert verification["ready_grace_seconds"] == config.verification.ready_grace_seconds


@pytest.mark.parametrize("stack", STACKS)
def test_kubeconfig_is_a_secret_everywhere(stack):
    for type_ in (GATE, VERIFICATION, DRIFT):
        assert "kubeconfig" in one(stack, type_)["secret_inputs"], type_
    assert "kubeconfig" in one(stack, DRIFT)["additional_secret_outputs"]  # kept in outputs for refresh


@pytest.mark.parametrize("stack", STACKS)
def test_drift_check_follows_the_release_and_declares_no_drift(stack):
    config = validate_config(stack_config(stack))
    release, drift = one(stack, RELEASE), one(stack, DRIFT)
    assert release["urn"] in drift["dependencies"]
    assert release["urn"] in drift["property_dependencies"]["revision"]
    inputs = program(stack)["inputs"][f"{COMPONENT_NAME}-drift"]
    assert (inputs["namespace"], inputs["release_name"], inputs["revision"]) == ("system", config.release.name, 1)
    assert inputs["drift"] == [] and inputs["provider_version"] == "1"


@pytest.mark.parametrize("stack", STACKS)
def test_outputs(stack):
    config = validate_config(stack_config(stack))
    outputs = program(stack)["outputs"]
    assert outputs["release_name"] == config.release.name
    assert outputs["namespace"] == "system"
    assert outputs["revision"] == 1
    assert outputs["endpoint"] == f"{config.release.name}.system.svc.cluster.local:8000"
    assert outputs["gpu_wait"] == {"placeable_replicas": 2, "waited_seconds": 0.5}
    verification = outputs["verification"]
    assert verification["passed"] is True and verification["verified_revision"] == 1
    assert (verification["p95_seconds"], verification["n"]) == (0.2, config.verification.samples)
    assert verification["checks"] == [{"name": "pods ready", "status": "passed"}]


def test_invalid_config_fails_before_any_resource_is_registered():
    raw = {f"vllm-deploy:{k}": v for k, v in stack_config("development").items()}
    raw["vllm-deploy:model"]["size"] = "huge"
    raw["vllm-deploy:image"]["tag"] = "latest"
    result = run_program("development", raw)
    assert "vllm-deploy:model.size: 'huge' is not valid" in result["error"]
    assert "vllm-deploy:image.tag: 'latest' is not valid" in result["error"]
    assert result["registrations"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_rollout_setting_reaches_chart_gate_and_verification(stack):
    config = validate_config(stack_config(stack))
    inputs = program(stack)["inputs"]
    release = inputs[f"{COMPONENT_NAME}-release"]
    gate = inputs[f"{COMPONENT_NAME}-gpu-capacity"]
    verification = inputs[f"{COMPONENT_NAME}-verification"]
    expected = "verified" if stack in ("staging", "production") else "recreate"
    assert config.release.rollout == expected
    assert release["values"]["rollout"]["mode"] == gate["rollout"] == verification["rollout"] == expected
    assert verification["verified_condition"] == release["values"]["rollout"]["verifiedCondition"]
    assert gate["surge_pods"] == release["values"]["rollout"]["maxSurge"] == 1
    assert len(gate["release_revision"]) == 16
    if expected == "verified":  # Helm must not wait: the verification drives the rollout
        assert release["skipAwait"] is True and release["atomic"] is False


def test_the_gate_sees_every_update_that_rolls_out_pods_but_not_a_scale_change():
    from components.vllm_model import release_fingerprint

    values = chart_values(validate_config(stack_config("production")))
    changed_image = json.loads(json.dumps(values))
    changed_image["image"]["tag"] = "v0.11.1"
    scaled = {**values, "replicaCount": 3}
    assert release_fingerprint(changed_image) != release_fingerprint(values)
    assert release_fingerprint(scaled) == release_fingerprint(values)


@pytest.mark.parametrize("stack,warned", [("development", True), ("local", True), ("staging", False),
                                          ("production", False)])
def test_preview_warns_that_recreate_means_downtime(stack, warned):
    result = subprocess.run([sys.executable, "-m", "tests.support.mock_program", stack], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    warning = "release.rollout is recreate: an update deletes the pods serving"
    assert (warning in result.stderr) is warned
    if warned:
        assert "the model is DOWN during every update" in result.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_deployed_output_records_model_version_resources_and_arguments(stack):
    """The workflow's "Document configuration" step: model path and version, resources, custom arguments."""
    from components.deployed import chart_digest

    config = validate_config(stack_config(stack))
    deployed = program(stack)["outputs"]["deployed"]
    assert deployed["environment"] == config.environment
    assert deployed["model"] == {"path": config.model.path, "size": config.model.size,
                                 "served_model_name": config.model.served_model_name}
    assert deployed["image"] == {"repository": "vllm/vllm-openai", "tag": config.image.tag,
                                 "reference": f"vllm/vllm-openai:{config.image.tag}"}
    assert deployed["chart"]["name"] == "vllm-deployment" and deployed["chart"]["version"] == "0.1.0"
    assert deployed["chart"]["revision"] == 1
    assert deployed["chart"]["digest"] == chart_digest(ROOT / "charts" / "vllm-deployment")
    assert deployed["resources"]["limits"] == {"nvidia.com/gpu": config.resources.gpus,
                                               "memory": config.resources.memory_limit,
                                               "cpu": config.resources.cpu_limit}
    assert deployed["resources"]["replicas"] == config.release.replicas
    assert deployed["vllm_args"]["tensor_parallel_size"] == config.model.tensor_parallel_size
    assert deployed["vllm_args"]["extra_args"] == list(config.model.extra_args)
