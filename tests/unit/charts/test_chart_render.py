"""charts/vllm-deployment rendered by a real helm binary: lint, schema, and what each manifest must carry."""

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.chart_values import chart_values
from components.config import validate_config
from tests.support.tools import require_tool
from tests.unit.components.test_config import STACKS, stack_config

CHART = Path(__file__).resolve().parents[3] / "charts" / "vllm-deployment"
VALUES_FILES = ("values.yaml", "values-development.yaml", "values-staging.yaml", "values-production.yaml")
SCHEMA = json.loads((CHART / "values.schema.json").read_text())

pytestmark = pytest.mark.tools


def helm(*args: str, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([str(require_tool("helm")), *args], capture_output=True, text=True, check=check,
                          env={"HOME": "/tmp", "HELM_CACHE_HOME": "/tmp/helm-cache",
                               "HELM_CONFIG_HOME": "/tmp/helm-config", "HELM_DATA_HOME": "/tmp/helm-data",
                               "PATH": "/usr/bin:/bin"})


def render(values: dict | None = None, values_file: str | None = None, release="llama-7b-development") -> list[dict]:
    args = ["template", release, str(CHART), "--namespace", "system"]
    if values_file:
        args += ["-f", str(CHART / values_file)]
    if values is not None:
        path = Path(f"/tmp/vllm-values-{release}.json")
        path.write_text(json.dumps(values))
        args += ["-f", str(path)]
    return [doc for doc in yaml.safe_load_all(helm(*args).stdout) if doc]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_lint_is_clean(values_file):
    result = helm("lint", "--strict", str(CHART), "-f", str(CHART / values_file), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_values_files_match_the_schema(values_file):
    merged = yaml.safe_load((CHART / "values.yaml").read_text())
    _deep_merge(merged, yaml.safe_load((CHART / values_file).read_text()))
    jsonschema.validate(merged, SCHEMA)


@pytest.mark.parametrize("stack", STACKS)
def test_program_values_match_the_schema_and_render(stack):
    values = chart_values(validate_config(stack_config(stack)))
    merged = yaml.safe_load((CHART / "values.yaml").read_text())
    _deep_merge(merged, values)
    jsonschema.validate(merged, SCHEMA)
    docs = render(values, release=values["fullnameOverride"])
    deployment = by_kind(docs, "Deployment")[0]
    assert deployment["metadata"]["name"] == values["fullnameOverride"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == values["resources"]["limits"]["nvidia.com/gpu"]
    assert f"--model={values['model']['path']}" in container["args"]


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_rendered_deployment_is_gpu_ready(values_file):
    docs = render(values_file=values_file)
    deployment = by_kind(docs, "Deployment")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == "llama-7b-development"  # the workflow's pod selector
    assert labels["app.kubernetes.io/name"] == "vllm"
    assert {"app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} <= set(labels)
    assert pod["nodeSelector"] == {"node-type": "gpu"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # no spare GPU needed to update
    gpus = container["resources"]["limits"]["nvidia.com/gpu"]
    assert container["resources"]["requests"]["nvidia.com/gpu"] == gpus
    assert f"--tensor-parallel-size={gpus}" in container["args"]
    assert ":latest" not in container["image"] and ":" in container["image"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory" and shm["emptyDir"]["sizeLimit"]
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_HOME"]["value"] == "/models-cache"
    assert "--middleware=vllm_ready_middleware.ReadyEndpoint" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "initialDelaySeconds" not in container["livenessProbe"]


@pytest.mark.parametrize("values_file,budget", [("values-development.yaml", 1200), ("values-staging.yaml", 3600),
                                                ("values-production.yaml", 5400)])
def test_startup_probe_covers_the_model_loading_budget(values_file, budget):
    container = by_kind(render(values_file=values_file), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    probe = container["startupProbe"]
    assert probe["httpGet"]["path"] == "/health"
    assert probe["periodSeconds"] * probe["failureThreshold"] >= budget


def test_ready_middleware_ships_in_a_configmap_identical_to_the_tested_file():
    docs = render(values_file="values-development.yaml")
    config_map = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("ready-middleware")
    )
    shipped = config_map["data"]["vllm_ready_middleware.py"]
    assert shipped.strip() == (CHART / "files" / "vllm_ready_middleware.py").read_text().strip()


def test_hf_token_only_from_an_existing_secret():
    docs = render({"model": {"hfToken": {"existingSecret": "hf-token", "key": "token"}}})
    container = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    token = next(e for e in container["env"] if e["name"] == "HF_TOKEN")
    assert token == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}
    result = helm("template", "x", str(CHART), "--set", "extraEnv[0].name=HF_TOKEN", "--set",
                  "extraEnv[0].value=hf_literal", check=False)
    assert result.returncode != 0 and "values don't meet the specifications of the schema" in result.stderr


def test_persistent_cache_and_production_extras():
    docs = render(values_file="values-production.yaml")
    assert by_kind(docs, "PersistentVolumeClaim")[0]["spec"]["resources"]["requests"]["storage"] == "500Gi"
    assert by_kind(docs, "PodDisruptionBudget")[0]["spec"]["maxUnavailable"] == 1
    assert by_kind(docs, "Deployment")[0]["spec"]["replicas"] == 2


def test_service_and_helm_test_hook():
    docs = render(values_file="values-development.yaml")
    service = by_kind(docs, "Service")[0]
    assert service["metadata"]["name"] == "llama-7b-development"
    assert service["spec"]["ports"][0]["port"] == 8000
    hook = next(d for d in docs if d["kind"] == "Pod")
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = hook["spec"]["containers"][0]["args"][0]
    assert "/health" in script and "/ready" in script and "/v1/chat/completions" in script


def test_optional_observability_is_off_by_default_and_renders_when_enabled():
    assert not by_kind(render(values_file="values.yaml"), "ServiceMonitor")
    docs = render({"serviceMonitor": {"enabled": True}, "grafanaDashboard": {"enabled": True}})
    assert by_kind(docs, "ServiceMonitor")[0]["spec"]["endpoints"][0]["path"] == "/metrics"
    dashboard = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard"))
    assert json.loads(next(iter(dashboard["data"].values())))["title"] == "vLLM"


@pytest.mark.parametrize("override,message", [
    ({"image": {"tag": "latest"}}, "at '/image/tag'"),
    ({"model": {"size": "huge"}}, "at '/model/size': value must be one of 'small', 'medium', 'large'"),
    ({"resources": {"limits": {"nvidia.com/gpu": 0}}},
     "at '/resources/limits/nvidia.com~1gpu': minimum: got 0, want 1"),
    ({"resources": {"limits": {"memory": "32GB"}}}, "at '/resources/limits/memory'"),
])
def test_schema_rejects_bad_values(override, message):
    path = Path("/tmp/vllm-bad-values.json")
    path.write_text(json.dumps(override))
    result = helm("template", "x", str(CHART), "-f", str(path), check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_tensor_parallel_above_gpus_fails_with_a_clear_message():
    result = helm("template", "x", str(CHART), "--set", "model.tensorParallelSize=2", check=False)
    assert result.returncode != 0
    assert 'model.tensorParallelSize (2) must not exceed resources.limits["nvidia.com/gpu"] (1)' in result.stderr


def _deep_merge(base: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
