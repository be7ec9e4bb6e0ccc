"""HTTP check logic with httpx.MockTransport (no sockets); the real-server behaviour is in tests/integration."""

import httpx
import pytest

from components.verification.checks import ERROR, FAILED, PASSED, SKIPPED
from components.verification.http_checks import HttpPlan, body_start, completion_text, probe_readiness, run_http_checks

CHAT_OK = {"choices": [{"message": {"role": "assistant", "content": "Hi there"}}]}


def client_for(handler):
    return httpx.Client(base_url="http://vllm.test", transport=httpx.MockTransport(handler))


def plan(**overrides):
    return HttpPlan(**{"model": "m", "warmup_requests": 1, "samples": 3, "unreachable_retry_seconds": 2, **overrides})


def test_completion_body_is_fixed_with_temperature_zero():
    chat = HttpPlan(model="m", prompt="Hello", max_tokens=7).completion_body()
    assert chat == {"model": "m", "max_tokens": 7, "temperature": 0, "messages": [{"role": "user", "content": "Hello"}]}
    legacy = HttpPlan(model="m", completions_path="/v1/completions").completion_body()
    assert legacy["prompt"] == "Hello" and "messages" not in legacy


def test_completion_text():
    assert completion_text(CHAT_OK, chat=True) == "Hi there"
    assert completion_text({"choices": [{"text": "x"}]}, chat=False) == "x"
    assert completion_text({"choices": []}, chat=True) is None
    assert completion_text({"error": "x"}, chat=True) is None


def test_body_start_is_one_line_and_truncated():
    response = httpx.Response(500, text="line1\n  line2 " + "x" * 500)
    text = body_start(response)
    assert text.startswith("line1 line2 x") and text.endswith("...") and len(text) == 203
    assert body_start(httpx.Response(503)) == "(empty body)"


def test_all_pass_and_every_request_carries_the_same_body():
    bodies = []

    def handler(request):
        if request.url.path == "/v1/chat/completions":
            bodies.append(request.content)
            return httpx.Response(200, json=CHAT_OK)
        return httpx.Response(200)

    outcome = run_http_checks(client_for(handler), plan())
    assert [r.status for r in outcome.results] == [PASSED] * 4
    assert outcome.latency.n == 3 and len(bodies) == 4 and len(set(bodies)) == 1


def test_measured_bad_fails_at_once_without_retrying():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        if request.url.path == "/health":
            return httpx.Response(503, json={"detail": "engine dead"})
        return httpx.Response(200, json=CHAT_OK)

    outcome = run_http_checks(client_for(handler), plan())
    health = outcome.results[0]
    assert health.status == FAILED and health.observed == 'HTTP 503: {"detail":"engine dead"}'
    assert calls.count("/health") == 1
    assert outcome.results[1].status == PASSED  # later checks still run and are listed


def test_could_not_measure_is_retried_then_succeeds():
    attempts = {"n": 0}

    def handler(request):
        if request.url.path == "/health" and attempts["n"] < 2:
            attempts["n"] += 1
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, json=CHAT_OK)

    lines = []
    outcome = run_http_checks(client_for(handler), plan(), lines.append)
    assert outcome.results[0].status == PASSED and attempts["n"] == 2
    assert sum("could not measure" in line for line in lines) == 2


def test_could_not_measure_for_the_whole_window_is_an_error_and_skips_the_rest():
    def handler(request):
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    outcome = run_http_checks(
        client_for(handler), plan(unreachable_retry_seconds=0.5), explain_unreachable=lambda: "port-forward error: x"
    )
    statuses = [r.status for r in outcome.results]
    assert statuses == [ERROR, SKIPPED, SKIPPED, SKIPPED]
    observed = outcome.results[0].observed
    assert "could not connect for" in observed and "port-forward error: x" in observed


def test_empty_completion_fails():
    def handler(request):
        if request.url.path.endswith("completions"):
            return httpx.Response(200, json={"choices": [{"message": {"content": "  "}}]})
        return httpx.Response(200)

    outcome = run_http_checks(client_for(handler), plan())
    completions, latency = outcome.results[2:]
    assert completions.status == FAILED and "the completion is empty" in completions.observed
    assert latency.status == SKIPPED


def test_non_json_completion_fails():
    def handler(request):
        return httpx.Response(200, text="<html>proxy</html>")

    completions = run_http_checks(client_for(handler), plan()).results[2]
    assert completions.status == FAILED and "not JSON: <html>proxy</html>" in completions.observed


def test_a_failing_sample_fails_the_completions_check_with_its_position():
    count = {"n": 0}

    def handler(request):
        if request.url.path.endswith("completions"):
            count["n"] += 1
            if count["n"] == 3:  # warm-up 1, sample 1, then sample 2 fails
                return httpx.Response(500, json={"message": "boom"})
            return httpx.Response(200, json=CHAT_OK)
        return httpx.Response(200)

    completions, latency = run_http_checks(client_for(handler), plan()).results[2:]
    assert completions.observed.startswith("sample 2/3: HTTP 500")
    assert latency.status == SKIPPED


def test_timeout_in_a_sample_fails_completions_and_latency():
    count = {"n": 0}

    def handler(request):
        if request.url.path.endswith("completions"):
            count["n"] += 1
            if count["n"] == 2:
                raise httpx.ReadTimeout("timed out")
            return httpx.Response(200, json=CHAT_OK)
        return httpx.Response(200)

    completions, latency = run_http_checks(client_for(handler), plan(request_timeout_seconds=5)).results[2:]
    assert completions.status == FAILED and latency.status == FAILED
    assert latency.observed == "sample 1/3: no response within 5s"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_check_names_follow_the_paths(path):
    def handler(request):
        return httpx.Response(200, json={"choices": [{"message": {"content": "a"}, "text": "a"}]})

    names = [r.name for r in run_http_checks(client_for(handler), plan(completions_path=path)).results]
    assert names == ["GET /health", "GET /ready", f"POST {path}", "completion latency p95"]


def test_probe_readiness_reports_health_ready_and_the_ready_body():
    def handler(request):
        if request.url.path == "/health":
            return httpx.Response(200)
        return httpx.Response(503, json={"status": "not ready", "reason": "/v1/models lists no model"})

    probe = probe_readiness(client_for(handler), "/health", "/ready")
    assert probe.serving_but_unready and (probe.health_status, probe.ready_status) == (200, 503)
    assert probe.ready_body == '{"status":"not ready","reason":"/v1/models lists no model"}'


def test_probe_readiness_of_a_server_that_refuses_connections_is_no_answer():
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    probe = probe_readiness(client_for(handler), "/health", "/ready")
    assert not probe.serving_but_unready and probe.health_status is None and "refused" in probe.error


def test_a_completion_dropped_after_sending_is_not_retried():
    completions = []

    def handler(request):
        if request.url.path == "/v1/chat/completions":
            completions.append(1)
            if len(completions) == 2:  # warm-up 1, then sample 1
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            return httpx.Response(200, json=CHAT_OK)
        return httpx.Response(200)

    outcome = run_http_checks(client_for(handler), plan(samples=3))
    assert len(completions) == 2  # N=3 allows no unanswered sample: stop, never retry
    assert [r.status for r in outcome.results] == [PASSED, PASSED, FAILED, FAILED]
    expected = "sample 1/3: connection dropped after the request was sent (RemoteProtocolError"
    assert expected in outcome.results[2].observed
