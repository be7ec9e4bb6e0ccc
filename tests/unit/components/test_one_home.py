"""Each default has one home (components/presets.py, components/config.py): the dynamic resources, the chart and
the stack config cannot drift apart."""

from pathlib import Path

import pytest
import yaml

from components import presets
from components.config import validate_config
from components.gpu_gate.inputs import DEFAULTS as GATE_DEFAULTS
from components.gpu_gate.inputs import input_problems
from components.verification.settings import DEFAULTS as VERIFICATION_INPUT_DEFAULTS
from tests.unit.components.test_config import base

ROOT = Path(__file__).resolve().parents[3]
CHART_VALUES = yaml.safe_load((ROOT / "charts/vllm-deployment/values.yaml").read_text())


def bare_config():
    """The development stack without the sections whose defaults are under test."""
    raw = base()
    for section in ("gpuWait", "verification", "scheduling"):
        raw.pop(section, None)
    raw.get("model", {}).pop("apiKeySecret", None)
    return validate_config(raw)


def test_gate_fallbacks_are_the_stack_config_defaults():
    config = bare_config()
    assert GATE_DEFAULTS["backoff_initial_seconds"] == config.gpu_wait.initial_backoff_seconds
    assert GATE_DEFAULTS["backoff_max_seconds"] == config.gpu_wait.max_backoff_seconds
    assert GATE_DEFAULTS["progress_interval_seconds"] == config.gpu_wait.progress_interval_seconds
    assert GATE_DEFAULTS["node_selector"] == config.scheduling.node_selector
    assert GATE_DEFAULTS["tolerations"] == list(config.scheduling.tolerations)


def test_verification_fallbacks_are_the_stack_config_defaults():
    config = bare_config()
    for key, value in presets.VERIFICATION_DEFAULTS.items():
        assert VERIFICATION_INPUT_DEFAULTS[key] == value
        if hasattr(config.verification, key):
            assert getattr(config.verification, key) == value, key
    assert config.model.api_key_secret_key == VERIFICATION_INPUT_DEFAULTS["api_key_secret_key"]
    assert VERIFICATION_INPUT_DEFAULTS["service_port"] == presets.SERVICE_PORT


def test_the_chart_defaults_are_the_presets():
    assert CHART_VALUES["service"]["port"] == presets.SERVICE_PORT
    assert CHART_VALUES["tolerations"] == [presets.GPU_TOLERATION]
    assert CHART_VALUES["nodeSelector"] == presets.GPU_NODE_SELECTOR


def test_one_service_endpoint():
    config = bare_config()
    host = presets.service_host(config.release.name, config.release.namespace)
    assert config.endpoint == host == f"{config.release.name}.{config.release.namespace}.svc.cluster.local:8000"
    assert presets.service_url(config.release.name, config.release.namespace, presets.SERVICE_PORT) == f"http://{host}"


@pytest.mark.parametrize("name, ok", [("llama-7b", True), ("llama.7b", False), ("Llama", False), ("a" * 54, False)])
def test_the_gate_refuses_release_names_the_stack_config_refuses(name, ok):
    raw = base()
    raw["release"]["name"] = name
    try:
        validate_config(raw)
        config_ok = True
    except ValueError:
        config_ok = False
    gate = input_problems({"namespace": "system", "release_name": name, "replicas": 1, "gpus_per_pod": 1})
    assert config_ok is ok and (not gate) is ok, gate
