"""The chart's PrometheusRule and dashboard under the real promtool: valid rules, and every alert firing and not
firing on synthetic series (tests/prometheus/alerts_test.yaml)."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from xml.etree import ElementTree

import pytest
import yaml

from tests.support.prometheus import RULE_TESTS, alerting_rules, dashboard_queries, metric_names, render_rules
from tests.support.tools import require_tool

pytestmark = pytest.mark.tools

RELEASE, NAMESPACE = "llama-7b-production", "system"
ALERTS = ("VllmServerDown", "VllmCompletionLatencyHigh", "VllmTimeToFirstTokenHigh", "VllmRequestBacklog",
          "VllmKvCacheNearlyFull", "VllmContainerRestarting", "VllmModelInitializationSlow")


def promtool(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(require_tool("promtool")), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> dict:
    return render_rules(RELEASE, NAMESPACE, values_dir=tmp_path_factory.mktemp("values"))


def test_the_chart_ships_every_required_alert_with_for_severity_summary_and_description(rules):
    found = {rule["alert"]: rule for rule in alerting_rules(rules)}
    assert tuple(found) == ALERTS
    for name, rule in found.items():
        assert rule["for"], name
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"].strip(), name
        assert len(rule["annotations"]["description"]) > 80, name  # says what to do, not only what happened


def test_promtool_check_rules_accepts_the_rendered_rules(rules, tmp_path):
    path = tmp_path / "vllm-rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


UNIT_TESTS = yaml.safe_load(RULE_TESTS.read_text())["tests"]


@pytest.fixture(scope="module")
def unit_test_dir(rules, tmp_path_factory):
    """The promtool test file next to the rendered rules. Annotations are left out of this copy (promtool compares
    them verbatim; check rules above validates their templates); expressions, for: and labels are the chart's."""
    directory = tmp_path_factory.mktemp("promtool")
    stripped = copy.deepcopy(rules)
    for rule in alerting_rules(stripped):
        rule.pop("annotations")
    (directory / "vllm-rules.yaml").write_text(yaml.safe_dump(stripped, sort_keys=False))
    shutil.copy(RULE_TESTS, directory / RULE_TESTS.name)
    return directory


@pytest.mark.parametrize("group", [test["name"] for test in UNIT_TESTS])
def test_promtool_unit_test(group, unit_test_dir):
    """One test group of tests/prometheus/alerts_test.yaml (each alert firing, and not firing, on synthetic series)."""
    report = unit_test_dir / f"junit-{abs(hash(group))}.xml"
    result = promtool("test", "rules", f"--junit={report}", f"--run=^{re.escape(group)}$", RULE_TESTS.name,
                      cwd=unit_test_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    ran = [case.get("name") for case in ElementTree.parse(report).iter("testcase")]
    assert ran == [group]  # --run matching nothing would also say SUCCESS


def test_the_unit_tests_cover_each_alert_both_ways():
    cases = [case for test in UNIT_TESTS for case in test["alert_rule_test"]]
    for alert in ALERTS:
        outcomes = [bool(case["exp_alerts"]) for case in cases if case["alertname"] == alert]
        assert True in outcomes and False in outcomes, alert


def test_thresholds_and_durations_from_values_reach_the_expressions(tmp_path):
    spec = render_rules("llama-13b-staging", "inference", {
        "startup": {"budgetSeconds": 3600},
        "prometheusRule": {"rateWindow": "2m", "for": {"serverDown": "1m", "latency": "30s", "ttft": "2m",
                                                        "backlog": "3m", "kvCache": "4m", "restarts": "5m",
                                                        "initialization": "6m"},
                           "thresholds": {"latencyP95Seconds": 2.5, "ttftP95Seconds": 1.5, "waitingRequests": 7,
                                          "kvCacheUsage": 0.8, "containerRestarts": 2,
                                          "initializationWarnRatio": 0.5}},
    }, values_dir=tmp_path)
    rules = {rule["alert"]: rule for rule in alerting_rules(spec)}
    selector = 'job="llama-13b-staging", namespace="inference"'
    assert rules["VllmServerDown"]["expr"] == f"absent(up{{{selector}}} == 1)"
    latency = rules["VllmCompletionLatencyHigh"]["expr"]
    assert latency.startswith("histogram_quantile(0.95, sum by (le, model_name)")
    assert f"rate(vllm:e2e_request_latency_seconds_bucket{{{selector}}}[2m]))) > 2.5" in latency
    assert rules["VllmCompletionLatencyHigh"]["for"] == "30s"
    assert rules["VllmTimeToFirstTokenHigh"]["expr"].endswith("> 1.5")
    assert rules["VllmRequestBacklog"]["expr"].endswith("> 7")
    assert rules["VllmKvCacheNearlyFull"]["expr"].endswith("> 0.8")
    assert ">= 2" in rules["VllmContainerRestarting"]["expr"]
    assert "> 1800" in rules["VllmModelInitializationSlow"]["expr"]  # 0.5 x 3600 s
    assert 'pod=~"llama-13b-staging-[a-z0-9]{6,10}-[a-z0-9]{5}"' in rules["VllmModelInitializationSlow"]["expr"]
    assert [rules[a]["for"] for a in ALERTS] == ["1m", "30s", "2m", "3m", "4m", "5m", "6m"]


def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool parses every panel query (as a recording rule) and each reads at least one metric."""
    queries = dashboard_queries()
    assert len(queries) >= 10
    groups = [{"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": q}
                                              for i, (_title, q) in enumerate(queries)]}]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    for title, query in queries:
        assert metric_names(query), title


def test_dashboard_covers_the_serving_metrics_and_initialization_time():
    names = set().union(*(metric_names(q) for _t, q in dashboard_queries()))
    assert {"vllm:request_success_total", "vllm:e2e_request_latency_seconds_bucket",
            "vllm:time_to_first_token_seconds_bucket", "vllm:inter_token_latency_seconds_bucket",
            "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
            "kube_pod_status_ready_time", "kube_pod_created"} <= names
    # Names vLLM 0.11 hides and later versions removed:
    assert not names & {"vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds_bucket"}


@pytest.mark.parametrize("values_file,monitored", [("values.yaml", False), ("values-development.yaml", False),
                                                   ("values-staging.yaml", True), ("values-production.yaml", True)])
def test_staging_and_production_values_turn_the_rules_and_the_service_monitor_on(values_file, monitored):
    from tests.unit.charts.test_chart_render import by_kind, render

    docs = render(values_file=values_file)
    assert bool(by_kind(docs, "PrometheusRule")) is monitored
    assert bool(by_kind(docs, "ServiceMonitor")) is monitored
