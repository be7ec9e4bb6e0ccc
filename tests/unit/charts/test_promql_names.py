"""tests.support.prometheus.metric_names: which metrics a PromQL expression reads (the e2e test relies on it)."""

import pytest

from tests.support.prometheus import dashboard_queries, metric_names


@pytest.mark.parametrize("expr,names", [
    ('absent(up{job="x", namespace="y"} == 1)', {"up"}),
    ('histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:e2e_request_latency_seconds_bucket{job="a"}[5m])))'
     " > 3", {"vllm:e2e_request_latency_seconds_bucket"}),
    ('increase(kube_pod_container_status_restarts_total{pod=~"a-[a-z0-9]{6,10}-x"}[15m]) >= 1 or '
     'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) == 1',
     {"kube_pod_container_status_restarts_total", "kube_pod_container_status_waiting_reason"}),
    ('(time() - kube_pod_created{namespace="s"}) > 960 and on (namespace, pod) '
     '(kube_pod_status_ready{condition="true"} == 0)', {"kube_pod_created", "kube_pod_status_ready"}),
    ("vllm:num_requests_waiting > 1e3", {"vllm:num_requests_waiting"}),
])
def test_metric_names(expr, names):
    assert metric_names(expr) == names


def test_dashboard_variables_are_filled_in():
    queries = dashboard_queries({"$__rate_interval": "30s", "$namespace": "system", "$model_name": "llama-7b"})
    assert queries and not any("$" in query for _title, query in queries)
    assert any('model_name=~"llama-7b"' in query and "[30s]" in query for _title, query in queries)
