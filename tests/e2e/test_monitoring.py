"""Monitoring against a real Prometheus: it scrapes the local cluster's vLLM simulator and evaluates the chart's
rules (rendered by helm, as the Prometheus Operator would load the PrometheusRule) and the dashboard's queries;
a slowed simulator drives the latency alert. And `pulumi up` exports the model initialization time.

Known gaps of this scrape, asserted exactly (a name that appears later makes the test fail, so the list stays true):
- the local cluster runs no kube-state-metrics, so the restart and initialization alerts' and the initialization
  panel's kube_* series are absent (promtool's unit tests cover those alerts);
- llm-d-inference-sim v0.10.2 registers vllm:request_queue_time_seconds but never observes it (nothing writes to
  its reqQueueTimeChan), so the dashboard's "Queue time" panel has no series here; vLLM 0.11 and 0.32 serve it.
"""

from __future__ import annotations

import datetime as dt
import threading
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client

from tests.support.cluster import ensure_cluster, restart_simulator
from tests.support.prometheus import PrometheusServer, alerting_rules, dashboard_queries, metric_names, render_rules
from tests.support.tools import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

RELEASE, NAMESPACE = "llama-7b-local", "system"
SCRAPED_POD = f"{RELEASE}-simulator"  # the label a ServiceMonitor scrape would attach
RATE_WINDOW = "30s"  # shortened from 5m so a short load moves the p95 (scrape and evaluation every second)
SHORT_FOR = {"serverDown": "1m", "latency": "5s", "ttft": "5s", "backlog": "5s", "kvCache": "5s",
             "restarts": "5s", "initialization": "5s"}
SLOW_TTFT = "--time-to-first-token=3500ms"
MAX_SLOW_REQUESTS = 12
SIMULATOR_GAPS = {"vllm:request_queue_time_seconds_bucket"}


@pytest.fixture(scope="module")
def sim() -> dict:
    for tool in ("prometheus", "helm", "kube-apiserver", "kwok", "llm-d-inference-sim"):
        require_tool(tool)
    info = ensure_cluster()
    return {"url": info.sim_url, "model": info.sim_model}


@pytest.fixture(scope="module")
def rules(sim, tmp_path_factory) -> dict:
    return render_rules(RELEASE, NAMESPACE, {"prometheusRule": {"rateWindow": RATE_WINDOW, "for": SHORT_FOR}},
                        values_dir=tmp_path_factory.mktemp("values"))


@pytest.fixture(scope="module")
def prometheus(sim, rules, tmp_path_factory) -> Iterator[PrometheusServer]:
    target = urllib.parse.urlsplit(sim["url"]).netloc
    scrape = [{"job_name": RELEASE, "metrics_path": "/metrics",
               "static_configs": [{"targets": [target], "labels": {"namespace": NAMESPACE, "pod": SCRAPED_POD}}]}]
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), scrape, rules)
    server.start()
    yield server
    server.stop()


def complete(sim: dict, max_tokens: int = 8) -> float:
    response = httpx.post(f"{sim['url']}/v1/chat/completions", timeout=60, json={
        "model": sim["model"], "max_tokens": max_tokens, "messages": [{"role": "user", "content": "Hello"}]})
    response.raise_for_status()
    return response.elapsed.total_seconds()


def test_rules_and_dashboard_read_scraped_metrics_and_evaluate_without_error(sim, rules, prometheus):
    prometheus.wait_until(lambda: prometheus.query(f'up{{job="{RELEASE}"}} == 1'), "the simulator scraped", 60)
    for _ in range(5):
        complete(sim)
    counted = f'increase(vllm:e2e_request_latency_seconds_count{{job="{RELEASE}"}}[{RATE_WINDOW}]) > 0'
    prometheus.wait_until(lambda: prometheus.query(counted), "the test's requests in the scraped rates", 60)

    rule_exprs = [rule["expr"] for rule in alerting_rules(rules)]
    queries = dashboard_queries({"$__rate_interval": RATE_WINDOW, "$namespace": NAMESPACE,
                                 "$model_name": sim["model"]})
    names = set().union(*(metric_names(e) for e in rule_exprs), *(metric_names(q) for _t, q in queries))
    missing = {name for name in names if not prometheus.query(f'{{__name__="{name}"}}')}
    print(f"names read by rules and dashboard: {sorted(names)}; not in the local scrape: {sorted(missing)}")
    assert missing == {n for n in names if n.startswith("kube_")} | SIMULATOR_GAPS, missing
    assert {n for n in names if n.startswith("vllm:")} and "up" in names

    for expr in rule_exprs:
        prometheus.query(expr)  # raises PromQLError with Prometheus' message on an invalid expression
    for title, query in queries:
        result = prometheus.query(query)
        if not metric_names(query) & missing:
            assert result, f"dashboard panel {title!r}: {query} returned no series"

    def evaluated_rules():
        groups = prometheus.api("rules", type="alert")["groups"]
        evaluated = [r for g in groups for r in g["rules"] if not r["lastEvaluation"].startswith("0001-")]
        return evaluated if len(evaluated) == len(rule_exprs) else None

    evaluated = prometheus.wait_until(evaluated_rules, "every rule evaluated once", timeout=30)
    assert [(r["name"], r["health"], r.get("lastError", "")) for r in evaluated] == [
        (r["alert"], "ok", "") for r in alerting_rules(rules)]


def test_slow_simulator_drives_the_completion_latency_alert(sim, prometheus):
    def latency_alert():
        alerts = prometheus.api("alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "VllmCompletionLatencyHigh"
                and a["state"] in ("pending", "firing")]

    prometheus.wait_until(lambda: prometheus.query(f'up{{job="{RELEASE}"}} == 1'), "the simulator scraped", 60)
    assert not latency_alert()
    restart_simulator([SLOW_TTFT])
    done = threading.Event()
    latencies: list[float] = []

    def load() -> None:  # bounded: at most MAX_SLOW_REQUESTS requests, one at a time, until the alert is seen
        for _ in range(MAX_SLOW_REQUESTS):
            if done.is_set():
                return
            latencies.append(complete(sim))

    worker = threading.Thread(target=load, daemon=True)
    try:
        worker.start()
        alert = prometheus.wait_until(latency_alert, "VllmCompletionLatencyHigh pending or firing", timeout=120)[0]
    finally:
        done.set()
        worker.join(timeout=120)
        restart_simulator([])
    print(f"alert {alert['labels']['alertname']} {alert['state']} with p95 {alert['value']} s after "
          f"{len(latencies)} slow request(s): {[round(s, 2) for s in latencies]}")
    assert alert["labels"]["model_name"] == sim["model"]
    assert alert["labels"]["severity"] == "warning"
    assert float(alert["value"]) > 3.0
    assert min(latencies) >= 3.5


def test_up_exports_the_model_initialization_time(deployed_project, kube):
    project = deployed_project()
    result = project.up()
    assert result.ok, result.output
    verification = project.outputs()["verification"]
    pods = client.CoreV1Api(kube).list_namespaced_pod(
        project.namespace, label_selector=f"app.kubernetes.io/instance={project.release}").items
    expected = []
    for pod in pods:
        ready = next(c.last_transition_time for c in pod.status.conditions if c.type == "Ready" and c.status == "True")
        expected.append((ready - pod.metadata.creation_timestamp) / dt.timedelta(seconds=1))
    print(f"initialization: {verification['initialization_seconds']} s from creation, "
          f"{verification['initialization_from_scheduled_seconds']} s from scheduling; pods {expected}")
    assert verification["initialization_seconds"] == max(expected)
    assert 0 <= verification["initialization_from_scheduled_seconds"] <= verification["initialization_seconds"]
