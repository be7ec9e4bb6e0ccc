"""The whole verification in direct mode against a fake vLLM, with the cluster side scripted."""

from __future__ import annotations

import pytest

import components.verification.verify as verify_module
from components.cancellation import Cancellation, OperationCancelled
from components.kube import KubeAccessError
from components.verification.pods import RolloutSnapshot
from components.verification.settings import settings_from
from components.verification.verify import verify_deployment
from tests.unit.verification.builders import RELEASE, deployment, pod, replicaset, waiting_pod

from .conftest import MODEL, script_latencies


class FakeApiClient:
    closed = False

    def close(self):
        self.closed = True


class StaticRollout:
    """KubeRollout stand-in: always the same pods."""

    pods: list = []

    def __init__(self, api_client, namespace, release, **_options):
        assert (namespace, release) == ("system", RELEASE)

    def snapshot(self):
        return RolloutSnapshot([deployment()], [replicaset(1), replicaset(2)], self.pods)

    def wait_for_change(self, timeout):
        pass

    def diagnose(self, name):
        return f"pod {name}: container vllm: waiting ImagePullBackOff"


@pytest.fixture
def rollout(monkeypatch):
    monkeypatch.setattr(verify_module, "KubeRollout", StaticRollout)
    return StaticRollout


def settings_for(server, **overrides):
    return settings_from(
        {
            "namespace": "system",
            "release_name": RELEASE,
            "revision": 4,
            "access_mode": "direct",
            "base_url": server.url,
            "served_model_name": MODEL,
            "samples": 20,
            "p95_limit_seconds": 0.3,
            "unreachable_retry_seconds": 3,
            "pod_ready_timeout_seconds": 5,
            **overrides,
        }
    )


def test_direct_mode_passes_and_exports_the_summary(fake_vllm, rollout):
    rollout.pods = [pod("llama-abc")]
    server = fake_vllm(latency_seconds=0.01)
    api = FakeApiClient()
    lines = []
    report = verify_deployment(settings_for(server), lambda: api, lines.append)
    assert report.passed, report.text()
    outputs = report.outputs()
    assert [row["status"] for row in outputs["summary"]] == ["passed"] * 6
    assert [row["name"] for row in outputs["summary"]] == [
        "pod Running", "pod Ready", "GET /health", "GET /ready", "POST /v1/chat/completions", "completion latency p95",
    ]
    assert outputs["n"] == 20 and 0.01 <= outputs["p50_seconds"] <= outputs["p95_seconds"] <= outputs["max_seconds"]
    assert outputs["verified_pods"] == ["llama-abc"] and outputs["endpoint"] == f"{server.url} (direct)"
    assert outputs["verified_at"].endswith("+00:00")
    assert api.closed
    assert "verification passed: release llama-7b-development in namespace system (revision 4)" in report.headline()
    assert any(line.startswith("pods: 1/1 pods Running and Ready") for line in lines)


def test_latency_failure_lists_every_check(fake_vllm, rollout):
    rollout.pods = [pod("llama-abc")]
    server = fake_vllm()
    script_latencies(server, [0.0] * 2 + [0.0] * 18 + [0.5, 0.6])  # 2 warm-ups, then 20 samples, the last 2 slow
    report = verify_deployment(settings_for(server), FakeApiClient)
    assert not report.passed
    text = report.text()
    assert "verification FAILED" in text
    for name in ("pod Running", "pod Ready", "GET /health", "GET /ready", "POST /v1/chat/completions"):
        assert f"  {name}" in text
    latency_row = next(line for line in text.splitlines() if line.strip().startswith("completion latency p95"))
    assert latency_row.split()[3:9] == ["failed", "p95", "<=", "0.30s", "(N=20)", "p95"]
    assert "> 0.30s (N=20, p50 " in latency_row and "max 0.6" in latency_row


def test_pods_not_ready_skip_the_http_checks_and_show_the_diagnosis(fake_vllm, rollout):
    rollout.pods = [waiting_pod("llama-abc", "ImagePullBackOff", message='Back-off pulling image "does-not-exist:1"')]
    server = fake_vllm()
    report = verify_deployment(settings_for(server), FakeApiClient)
    statuses = [r.status for r in report.results]
    assert statuses == ["failed", "failed", "skipped", "skipped", "skipped", "skipped"]
    assert "ImagePullBackOff" in report.results[1].observed and "does-not-exist:1" in report.results[1].observed
    assert "Diagnosis:\npod llama-abc: container vllm: waiting ImagePullBackOff" in report.text()
    assert server.requests == []


def test_unreadable_kubeconfig_is_an_error_row(fake_vllm, rollout):
    def broken():
        raise KubeAccessError("kubeconfig file /nope, context (current): file does not exist")

    report = verify_deployment(settings_for(fake_vllm()), broken)
    assert [r.status for r in report.results][:2] == ["error", "error"]
    assert "file does not exist" in report.results[0].observed


def test_default_direct_url_is_the_in_cluster_service_name():
    settings = settings_from({"namespace": "system", "release_name": RELEASE, "revision": 1, "access_mode": "direct"})
    assert settings.direct_url == "http://llama-7b-development.system.svc.cluster.local:8000"


def test_cancellation_during_the_http_checks_stops_before_the_next_request(fake_vllm, rollout):
    rollout.pods = [pod("llama-abc")]
    server = fake_vllm()
    cancellation = Cancellation()

    def progress(line: str) -> None:
        if line.startswith("HTTP checks via"):
            cancellation.cancel("cancelled by the user")

    with pytest.raises(OperationCancelled, match="cancelled by the user while running the HTTP checks"):
        verify_deployment(settings_for(server), FakeApiClient, progress, cancellation=cancellation)
    assert server.requests == []
