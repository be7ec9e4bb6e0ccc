"""The chart's own vLLM container spec (helm template) run by the real vLLM 0.32 CPU build, no cluster:
the pod runner's translation (tools/vllmenv/podspec.py) against the real server. One server for the module."""

from __future__ import annotations

import httpx
import pytest

from tests.support.real_vllm import (
    chart_metric_names,
    exported_metric_names,
    require_vllm_env,
    running,
    start,
    stop,
    wait_exit,
    wait_ready,
)
from tests.unit.charts.test_chart_render import render

pytestmark = [pytest.mark.tools, pytest.mark.vllm]

API_KEY = "test-api-key"
SERVED = "llama-7b"


def chart_pod(values: dict) -> tuple[dict, dict]:
    docs = render(values, release="llama-7b")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = {"metadata": {"name": "llama-7b-0", "namespace": "system", "uid": "u"},
           "spec": deployment["spec"]["template"]["spec"]}
    objects = {("configmap", d["metadata"]["name"]): d["data"] for d in docs if d["kind"] == "ConfigMap"}
    objects[("secret", "llama-key")] = {"api-key": API_KEY}
    return pod, objects


def lookup(objects):
    return lambda kind, namespace, name: objects.get((kind, name))


VALUES = {"model": {"servedModelName": SERVED, "maxModelLen": 1024},
          "apiKey": {"existingSecret": "llama-key", "key": "api-key"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = require_vllm_env()
    pod, objects = chart_pod(VALUES)
    with running(pod, env, tmp_path_factory.mktemp("pod"), lookup(objects)) as srv:
        wait_ready(srv)
        yield srv


def test_ready_answers_without_credentials_while_the_api_needs_the_key(server):
    ready = httpx.get(server.base_url + "/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "models": [SERVED]}
    assert httpx.get(server.base_url + "/v1/models", timeout=10).status_code == 401
    models = httpx.get(server.base_url + "/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    assert models.status_code == 200 and [m["id"] for m in models.json()["data"]] == [SERVED]


def test_metrics_hold_every_metric_the_chart_dashboard_and_alerts_use(server):
    names = chart_metric_names()
    assert names, "the chart queries no vllm:* metric: the scrape would prove nothing"
    done = httpx.post(server.base_url + "/v1/completions", headers={"Authorization": f"Bearer {API_KEY}"},
                      json={"model": SERVED, "prompt": "Hello", "max_tokens": 8}, timeout=120)
    assert done.status_code == 200, done.text
    scraped = exported_metric_names(httpx.get(server.base_url + "/metrics", timeout=10).text)
    missing = sorted(names - scraped)
    assert not missing, f"the chart uses metrics vLLM does not export: {missing}"


def test_a_wrong_chart_argument_makes_the_server_exit(tmp_path):
    env = require_vllm_env()
    pod, objects = chart_pod({**VALUES, "model": {**VALUES["model"], "extraArgs": ["--no-such-flag=1"]}})
    srv = start(pod, env, tmp_path, lookup(objects))
    try:
        assert wait_exit(srv) != 0
        assert "--no-such-flag" in srv.output()
    finally:
        stop(srv)
