"""components.config's observability section and the chart values it produces (alerts, thresholds)."""

from pathlib import Path

import pytest
import yaml

from components.chart_values import chart_values
from components.config import ALERT_DEFAULTS, ConfigError, validate_config
from tests.unit.components.test_config import base, stack_config

CHART_VALUES = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "charts" / "vllm-deployment" / "values.yaml").read_text())


@pytest.mark.parametrize("stack,monitored", [("development", False), ("local", False), ("staging", True),
                                             ("production", True)])
def test_monitoring_is_on_by_default_in_staging_and_production(stack, monitored):
    observability = validate_config(stack_config(stack)).observability
    assert observability.prometheus_rule is monitored
    assert observability.service_monitor is monitored
    values = chart_values(validate_config(stack_config(stack)))
    assert values["prometheusRule"]["enabled"] is monitored
    assert values["serviceMonitor"]["enabled"] is monitored


def test_latency_threshold_defaults_to_the_verification_limit():
    config = base()
    config["verification"]["p95LimitSeconds"] = 2.5
    assert validate_config(config).observability.latency_p95_seconds == 2.5
    default = validate_config(base())
    assert default.observability.latency_p95_seconds == default.verification.p95_limit_seconds


def test_thresholds_reach_the_chart():
    config = base()
    config["observability"] = {"serviceMonitor": True, "prometheusRule": True, "latencyP95Seconds": 4,
                               "ttftP95Seconds": 1.5, "waitingRequests": 20, "kvCacheUsage": 0.95,
                               "containerRestarts": 3, "initializationWarnRatio": 0.5,
                               "ruleLabels": {"release": "kube-prometheus-stack"}}
    rule = chart_values(validate_config(config))["prometheusRule"]
    assert rule == {"enabled": True, "labels": {"release": "kube-prometheus-stack"},
                    "thresholds": {"latencyP95Seconds": 4.0, "ttftP95Seconds": 1.5, "waitingRequests": 20.0,
                                   "kvCacheUsage": 0.95, "containerRestarts": 3, "initializationWarnRatio": 0.5}}


def test_chart_defaults_equal_the_program_defaults():
    """values.yaml repeats ALERT_DEFAULTS for people using the chart alone: the two must not drift apart."""
    thresholds = CHART_VALUES["prometheusRule"]["thresholds"]
    assert {k: thresholds[k] for k in ALERT_DEFAULTS} == ALERT_DEFAULTS
    assert thresholds["latencyP95Seconds"] == validate_config(base()).verification.p95_limit_seconds
    assert set(thresholds) == {*ALERT_DEFAULTS, "latencyP95Seconds"}


@pytest.mark.parametrize("observability,message", [
    ({"kvCacheUsage": 90}, "vllm-deploy:observability.kvCacheUsage: 90 is not valid; expected a number > 0 and <= 1"),
    ({"containerRestarts": 0},
     "vllm-deploy:observability.containerRestarts: 0 is not valid; expected a whole number >= 1 and <= 1000"),
    ({"latencyP95Seconds": "fast"},
     "vllm-deploy:observability.latencyP95Seconds: 'fast' is not valid; expected a number > 0 and <= 600"),
    ({"prometheusRule": True},
     "vllm-deploy:observability.prometheusRule: True is not valid; the alerts select the series the chart's "
     "ServiceMonitor scrapes"),
    ({"ruleLabels": {"release": "not a label value!"}},
     "vllm-deploy:observability.ruleLabels.release: 'not a label value!' is not valid"),
    ({"latencyP95": 3}, "vllm-deploy:observability.latencyP95: unknown key; did you mean 'latencyP95Seconds'?"),
])
def test_bad_observability_settings_are_named(observability, message):
    config = base()
    config["observability"] = observability
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems
