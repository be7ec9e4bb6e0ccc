"""Every HTTP check against a real local server that behaves like vLLM (tests/support/fake_vllm.py)."""

from __future__ import annotations

import re
import time

import pytest

from components.verification.checks import ERROR, FAILED, PASSED, SKIPPED
from components.verification.http_checks import run_http_checks
from tests.support.fake_vllm import Reply

from .conftest import MODEL, plan, script_latencies

SLOW, FAST = 0.6, 0.0
CHAT = "/v1/chat/completions"


def statuses(outcome):
    return [r.status for r in outcome.results]


def test_every_check_passes_against_a_healthy_server(fake_vllm, client):
    server = fake_vllm(latency_seconds=0.01)
    outcome = run_http_checks(client(server), plan(warmup_requests=2, p95_limit_seconds=3.0))
    assert statuses(outcome) == [PASSED] * 4
    assert outcome.latency.n == 20 and 0.01 <= outcome.latency.p50 < 1.0
    assert len(server.requests_to(CHAT)) == 22


def test_requests_are_sequential_on_one_keep_alive_connection_with_a_fixed_body(fake_vllm, client):
    server = fake_vllm()
    run_http_checks(client(server), plan(warmup_requests=2, samples=5, prompt="Say hi", max_tokens=9))
    assert len({r.client_port for r in server.requests}) == 1
    bodies = [r.body for r in server.requests_to(CHAT)]
    assert len(bodies) == 7 and all(b == bodies[0] for b in bodies)
    assert bodies[0] == {
        "model": MODEL,
        "max_tokens": 9,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Say hi"}],
    }


@pytest.mark.parametrize("path, name_index", [("/health", 0), ("/ready", 1)])
def test_wrong_status_fails_at_once_with_status_and_body(fake_vllm, client, path, name_index):
    server = fake_vllm()
    server.script.push(path, Reply(status=503, body={"status": "not ready", "reason": "engine dead"}))
    outcome = run_http_checks(client(server), plan(samples=3))
    result = outcome.results[name_index]
    assert result.status == FAILED
    assert result.observed == 'HTTP 503: {"status": "not ready", "reason": "engine dead"}'
    assert len(server.requests_to(path)) == 1  # measured bad: not retried


def test_ready_answers_503_while_loading_in_unready_mode(fake_vllm, client):
    server = fake_vllm(startup_seconds=30, startup_mode="unready")
    outcome = run_http_checks(client(server), plan(samples=3))
    health, ready, completions, latency = outcome.results
    assert health.status == PASSED and ready.status == FAILED and '"reason": "model is loading"' in ready.observed
    assert completions.status == FAILED and "HTTP 503" in completions.observed and latency.status == SKIPPED


def test_completion_error_status_fails_at_once(fake_vllm, client):
    server = fake_vllm()
    server.script.push(
        CHAT, Reply(status=500, body={"object": "error", "message": "CUDA error: an illegal memory access"})
    )
    outcome = run_http_checks(client(server), plan(warmup_requests=1))
    completions, latency = outcome.results[2:]
    assert completions.status == FAILED and completions.observed.startswith("warm-up 1/1: HTTP 500: ")
    assert "illegal memory access" in completions.observed
    assert latency.status == SKIPPED and len(server.requests_to(CHAT)) == 1


def test_wrong_model_name_shows_vllms_404(fake_vllm, client):
    server = fake_vllm()
    outcome = run_http_checks(client(server), plan(model="other-model", samples=2))
    observed = outcome.results[2].observed
    assert "HTTP 404" in observed and "The model `other-model` does not exist." in observed


def test_empty_completion_fails(fake_vllm, client):
    server = fake_vllm()
    script = [Reply()] * 3 + [Reply(content="")]
    server.script.push(CHAT, *script)
    completions = run_http_checks(client(server), plan(samples=10)).results[2]
    assert completions.status == FAILED and completions.observed.startswith(
        "sample 4/10: HTTP 200 but the completion is empty"
    )


def test_legacy_completions_endpoint(fake_vllm, client):
    server = fake_vllm()
    outcome = run_http_checks(client(server), plan(completions_path="/v1/completions", samples=3))
    assert statuses(outcome) == [PASSED] * 4 and server.requests_to("/v1/completions")[0].body["prompt"] == "Hello"


# --- p95 arithmetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, slow_positions, expected",
    [
        (19, [], PASSED),
        (19, [18], FAILED),  # N=19: the p95 is the maximum, one slow sample fails
        (20, [19], PASSED),  # N=20: one slow sample is allowed
        (20, [0, 19], FAILED),
        (21, [10], PASSED),
        (21, [3, 20], FAILED),
    ],
)
def test_p95_by_nearest_rank(fake_vllm, client, n, slow_positions, expected):
    # A wider margin than plan()'s 0.3 s: with N <= 19 a single fast sample stalled past the limit by a busy
    # machine (two test workers, two clusters) would fail the all-fast case; "slow" stays clearly over it.
    limit, slow = 1.0, 1.5
    server = fake_vllm()
    script_latencies(server, [slow if i in slow_positions else FAST for i in range(n)])
    latency = run_http_checks(client(server), plan(samples=n, p95_limit_seconds=limit)).results[3]
    assert latency.status == expected, latency.observed
    if expected == PASSED and slow_positions:
        assert f"(N={n}," in latency.observed and "max 1.5" in latency.observed


def test_p95_failure_message_lists_expected_and_observed(fake_vllm, client):
    server = fake_vllm()
    script_latencies(server, [FAST] * 18 + [0.65, 0.85])
    latency = run_http_checks(client(server), plan(samples=20)).results[3]
    assert latency.expected == "p95 <= 0.30s (N=20)"
    assert re.fullmatch(
        r"p95 0\.6\ds > 0\.30s \(N=20, p50 [0-9.e-]+s, max 0\.8\ds\)", latency.observed
    ), latency.observed


def test_early_stop_after_the_warmup_once_the_p95_cannot_pass(fake_vllm, client):
    server = fake_vllm()
    script_latencies(server, [SLOW, FAST, SLOW, SLOW] + [FAST] * 17)  # warm-up slow, then samples FAST, SLOW, SLOW
    lines = []
    outcome = run_http_checks(client(server), plan(samples=20, warmup_requests=1), lines.append)
    latency = outcome.results[3]
    assert latency.status == FAILED and outcome.latency.n == 3
    assert "stopped early after 3 of 20: 2 over 0.30s" in latency.observed
    assert len(server.requests_to(CHAT)) == 4
    assert any(line.startswith("stopping after 3 samples") for line in lines)


def test_early_stop_counts_requests_exactly(fake_vllm, client):
    server = fake_vllm()
    script_latencies(server, [SLOW, SLOW] + [FAST] * 18)
    outcome = run_http_checks(client(server), plan(samples=20))
    assert outcome.results[3].status == FAILED and outcome.latency.n == 2
    assert len(server.requests_to(CHAT)) == 2
    assert re.match(
        r"p95 >= 0\.6\ds > 0\.30s \(stopped early after 2 of 20: 2 over 0\.30s", outcome.results[3].observed
    )


def test_warmup_requests_are_excluded(fake_vllm, client):
    server = fake_vllm()
    script_latencies(server, [0.8, 0.8] + [FAST] * 20)  # slow first requests (CUDA graphs, caches)
    outcome = run_http_checks(client(server), plan(samples=20, warmup_requests=2))
    assert outcome.results[3].status == PASSED and outcome.latency.max < 0.3
    assert len(server.requests_to(CHAT)) == 22


def test_without_warmup_the_slow_first_request_counts(fake_vllm, client):
    server = fake_vllm()
    script_latencies(server, [0.8] + [FAST] * 18)
    assert run_http_checks(client(server), plan(samples=19, warmup_requests=0)).results[3].status == FAILED


# --- timeouts ----------------------------------------------------------------------------------------


def test_request_timeout_is_honoured(fake_vllm, client):
    server = fake_vllm()
    script_latencies(server, [FAST, 30.0])
    started = time.monotonic()
    outcome = run_http_checks(client(server), plan(samples=5, request_timeout_seconds=0.5, p95_limit_seconds=0.4))
    print(f"\nmeasured: the checks ended {time.monotonic() - started:.2f}s after they started (timeout 0.5s)")
    answered = server.completed  # the 30 s reply is still being prepared if the client did not wait for it
    completions, latency = outcome.results[2:]
    assert completions.status == FAILED and completions.observed == "sample 2/5: no response within 0.5s"
    assert latency.status == FAILED
    assert answered == 1, "the client waited for the slow reply"
    assert len(server.requests_to(CHAT)) == 2  # the timed-out sample is not sent again; it decides the p95


def test_health_timeout_is_measured_bad(fake_vllm, client):
    server = fake_vllm()
    server.script.push("/health", Reply(latency=2.0))
    outcome = run_http_checks(client(server), plan(samples=2, request_timeout_seconds=0.3))
    assert outcome.results[0].status == FAILED and outcome.results[0].observed == "no response within 0.3s"


# --- could not measure -------------------------------------------------------------------------------


def test_connection_refused_while_loading_then_success(fake_vllm, client):
    server = fake_vllm(startup_seconds=1.5)  # bound, not listening: connection refused
    lines = []
    outcome = run_http_checks(client(server), plan(samples=3, unreachable_retry_seconds=20), lines.append)
    assert statuses(outcome) == [PASSED] * 4
    assert any("could not measure" in line and "ConnectError" in line for line in lines)


def test_loading_longer_than_the_window_is_an_error(fake_vllm, client):
    # the server starts listening after 60 s: retries that outlived the 1 s window (e.g. the default 120 s
    # window instead of the planned one) would reach it and pass
    server = fake_vllm(startup_seconds=60)
    lines: list[str] = []
    started = time.monotonic()
    outcome = run_http_checks(client(server), plan(samples=3, unreachable_retry_seconds=1.0), lines.append)
    print(f"\nmeasured: gave up after {time.monotonic() - started:.2f}s (window 1s): {outcome.results[0].observed}")
    assert not server.requests  # no retry reached the server
    assert statuses(outcome) == [ERROR, SKIPPED, SKIPPED, SKIPPED]
    assert "could not connect for" in outcome.results[0].observed and "window 1s" in outcome.results[0].observed
    assert all("(retrying for up to 1s)" in line for line in lines), lines  # the planned window, no other


def test_resets_of_untimed_checks_are_retried(fake_vllm, client):
    server = fake_vllm()
    server.script.push("/health", Reply(reset=True), Reply(reset=True))
    outcome = run_http_checks(client(server), plan(samples=5))
    assert statuses(outcome) == [PASSED] * 4 and outcome.latency.n == 5
    assert len(server.requests_to("/health")) == 3 and len(server.requests_to(CHAT)) == 5


def test_a_completion_reset_after_sending_is_a_failed_sample_never_a_silent_retry(fake_vllm, client):
    server = fake_vllm()
    server.script.push(CHAT, Reply(), Reply(reset=True))  # the second sample is reset after it was sent
    outcome = run_http_checks(client(server), plan(samples=20, unreachable_retry_seconds=5.0))
    assert len(server.requests_to(CHAT)) == 20  # 20 samples, no retry of the reset one
    completions, latency = outcome.results[2:]
    assert outcome.latency.n == 20 and outcome.latency.failed == 1 and outcome.latency.exceeded == 1
    assert completions.status == latency.status == PASSED  # N=20 allows one sample over the limit
    assert "1 of 20 samples without an answer (not retried; counted as over the limit): sample 2/20: connection " \
           "dropped after the request was sent" in completions.observed


def test_a_server_that_resets_10_percent_of_completions_fails_and_the_table_says_why(fake_vllm, client):
    server = fake_vllm(reset_rate=0.1)
    outcome = run_http_checks(client(server), plan(samples=20, warmup_requests=0, p95_limit_seconds=3.0))
    completions, latency = outcome.results[2:]
    assert server.resets == 2 and len(server.requests_to(CHAT)) == 20  # the 10th and 20th: none retried
    assert completions.status == FAILED and latency.status == FAILED
    assert "2 of 20 samples without an answer" in completions.observed
    assert latency.observed.startswith(
        "p95 no answer > 3.00s (N=20, 2 without an answer: connection dropped after the request was sent, counted as "
        "over the limit; 0 of 18 answered over the limit")
    assert "RemoteProtocolError" in completions.observed or "ReadError" in completions.observed


def test_resets_before_any_request_is_answered_stop_the_run_once_the_p95_cannot_pass(fake_vllm, client):
    server = fake_vllm()
    server.script.push(CHAT, *[Reply(reset=True)] * 200)
    outcome = run_http_checks(client(server), plan(samples=3, unreachable_retry_seconds=1.0))
    completions, latency = outcome.results[2:]
    assert len(server.requests_to(CHAT)) == 1  # N=3: the first unanswered sample decides
    assert completions.status == latency.status == FAILED
    assert latency.observed.startswith("p95 no answer > 0.30s (stopped early after 1 of 3, 1 without an answer")


def test_fail_rate_produces_measured_failures(fake_vllm, client):
    server = fake_vllm(fail_rate=1.0)
    completions = run_http_checks(client(server), plan(samples=3)).results[2]
    observed = completions.observed
    assert completions.status == FAILED and "HTTP 500" in observed and "simulated failure" in observed


def test_auth_failures_show_the_status_but_never_the_credentials(fake_vllm, client):
    server = fake_vllm(api_key="right-key")
    outcome = run_http_checks(client(server, headers={"Authorization": "Bearer wrong-key"}), plan(samples=2))
    completions = outcome.results[2]
    assert completions.status == FAILED and "HTTP 401" in completions.observed
    text = " ".join(r.observed for r in outcome.results)
    assert "wrong-key" not in text and "Bearer" not in text
    good = run_http_checks(client(server, headers={"Authorization": "Bearer right-key"}), plan(samples=2))
    assert statuses(good) == [PASSED] * 4
