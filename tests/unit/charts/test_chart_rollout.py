"""charts/vllm-deployment, rendered by a real helm: the verified and recreate rollouts and the graceful drain."""

import json

import jsonschema
import pytest
import yaml

from components.chart_values import chart_values
from components.config import validate_config
from components.presets import ROLLOUT_SURGE_PODS, VERIFIED_CONDITION
from tests.unit.components.test_config import stack_config

from .test_chart_render import CHART, SCHEMA, by_kind, helm, render

pytestmark = pytest.mark.tools


def pod_spec(values: dict) -> tuple[dict, dict]:
    deployment = by_kind(render(values, release=values.get("fullnameOverride", "llama-7b-development")),
                         "Deployment")[0]
    return deployment, deployment["spec"]["template"]["spec"]


def test_verified_rollout_surges_one_pod_keeps_every_old_one_and_gates_readiness():
    values = chart_values(validate_config(stack_config("production")))
    deployment, pod = pod_spec(values)
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": ROLLOUT_SURGE_PODS, "maxUnavailable": 0}}
    assert pod["readinessGates"] == [{"conditionType": VERIFIED_CONDITION}]


@pytest.mark.parametrize("stack", ["development", "local"])
def test_recreate_rollout_has_no_gate(stack):
    deployment, pod = pod_spec(chart_values(validate_config(stack_config(stack))))
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "readinessGates" not in pod


def test_the_chart_alone_defaults_to_recreate_and_its_defaults_name_the_programs_condition():
    # Without the program's verification nothing would open the gate: the standalone default must be recreate.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert defaults["rollout"] == {"mode": "recreate", "maxSurge": ROLLOUT_SURGE_PODS,
                                   "verifiedCondition": VERIFIED_CONDITION}
    deployment, pod = pod_spec({})
    assert deployment["spec"]["strategy"] == {"type": "Recreate"} and "readinessGates" not in pod


def test_graceful_drain_prestop_pause_and_grace_period_cover_the_longest_request():
    _, pod = pod_spec({"drain": {"preStopSeconds": 20, "longestRequestSeconds": 900}})
    container = pod["containers"][0]
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "20"]}}
    assert pod["terminationGracePeriodSeconds"] == 920
    _, defaults = pod_spec({})
    assert defaults["terminationGracePeriodSeconds"] == 615  # 15 s pause + 600 s longest request
    _, no_pause = pod_spec({"drain": {"preStopSeconds": 0, "longestRequestSeconds": 60}})
    assert "lifecycle" not in no_pause["containers"][0] and no_pause["terminationGracePeriodSeconds"] == 60


@pytest.mark.parametrize("bad", [{"rollout": {"mode": "rolling"}}, {"rollout": {"maxSurge": 0}},
                                 {"rollout": {"verifiedCondition": "not a condition"}},
                                 {"drain": {"preStopSeconds": -1}}])
def test_schema_refuses_bad_rollout_and_drain_values(bad):
    merged = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, value in bad.items():
        merged[key].update(value)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged, SCHEMA)
    key = next(iter(bad))
    result = helm("template", "x", str(CHART), "--set-json", f"{key}={json.dumps(merged[key])}", check=False)
    assert result.returncode != 0 and "values don't meet the specifications of the schema" in result.stderr


def test_every_new_key_is_described_in_the_schema():
    for key in ("rollout", "drain"):
        section = SCHEMA["properties"][key]
        assert section["description"]
        assert all(prop["description"] for prop in section["properties"].values())
