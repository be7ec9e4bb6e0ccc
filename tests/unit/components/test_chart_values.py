"""components.chart_values: what each stack passes to the chart."""

from pathlib import Path

import pytest

from components.chart_values import chart_values
from components.config import validate_config
from tests.unit.components.test_config import stack_config
from tools.vllmenv.build import chart_app_version


def values_for(stack: str) -> dict:
    return chart_values(validate_config(stack_config(stack)))


def test_development_values_follow_the_workflow():
    values = values_for("development")
    assert values["fullnameOverride"] == "llama-7b-development"
    assert values["environment"] == "development"
    assert values["model"]["path"] == "meta-llama/Llama-2-7b-chat-hf"
    assert values["model"]["size"] == "small"
    assert values["resources"]["limits"] == {"nvidia.com/gpu": 1, "memory": "32Gi", "cpu": "8"}
    assert values["resources"]["requests"] == values["resources"]["limits"]
    assert values["nodeSelector"] == {"node-type": "gpu"}
    assert values["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    # the stack pins the release the chart runs (one place: Chart.yaml appVersion, see tests/unit/vllmenv)
    tag = chart_app_version((Path(__file__).resolve().parents[3] / "charts/vllm-deployment/Chart.yaml").read_text())
    assert values["image"] == {"repository": "vllm/vllm-openai", "tag": tag, "pullPolicy": "IfNotPresent"}
    assert values["startup"]["budgetSeconds"] == 1200
    assert values["rollout"] == {"mode": "recreate", "maxSurge": 1, "verifiedCondition": "vllm.deploy/verified"}
    assert values["podDisruptionBudget"]["enabled"] is False
    assert values["apiKey"] == {"existingSecret": "", "key": "api-key"}


def test_api_key_secret_reaches_chart_and_verification_alike():
    from components.config import validate_config as validate
    from tests.unit.components.test_config import base

    config = base()
    config["model"]["apiKeySecret"] = {"name": "vllm-api-key", "key": "key"}
    values = chart_values(validate(config))
    assert values["apiKey"] == {"existingSecret": "vllm-api-key", "key": "key"}


@pytest.mark.parametrize("stack,gpus,budget,tp", [("staging", 2, 3600, 2), ("production", 4, 5400, 4)])
def test_larger_stacks_get_their_size_presets(stack, gpus, budget, tp):
    values = values_for(stack)
    assert values["resources"]["limits"]["nvidia.com/gpu"] == gpus
    assert values["startup"]["budgetSeconds"] == budget
    assert values["model"]["tensorParallelSize"] == tp
    assert values["model"]["hfToken"] == {"existingSecret": "hf-token", "key": "token"}
    assert values["modelCache"]["persistence"]["enabled"] is True


def test_production_runs_two_replicas_with_a_disruption_budget():
    values = values_for("production")
    assert values["replicaCount"] == 2
    assert values["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_staging_and_production_roll_out_verified(stack):
    expected = {"mode": "verified", "maxSurge": 1, "verifiedCondition": "vllm.deploy/verified"}
    assert values_for(stack)["rollout"] == expected


def test_rollout_setting_reaches_the_chart():
    from tests.unit.components.test_config import base

    config = base()
    config["release"]["rollout"] = "verified"
    assert chart_values(validate_config(config))["rollout"]["mode"] == "verified"
    config["release"]["rollout"] = "recreate"
    assert chart_values(validate_config(config))["rollout"]["mode"] == "recreate"


def test_pod_annotations_reach_the_pod_template_values():
    from tests.unit.components.test_config import base

    config = base()
    config["release"]["podAnnotations"] = {"example.com/team": "ml"}
    assert chart_values(validate_config(config))["podAnnotations"] == {"example.com/team": "ml"}
    assert values_for("development")["podAnnotations"] == {}
