"""The HTTP checks: ``/health``, ``/ready``, and completions with warm-up, timed samples and early stop.

Two kinds of trouble are kept apart (as Argo Rollouts / Flagger analyses do):
- "could not measure" -- connection refused, connect timeout, the transport could not reach the pod (a
  port-forward that could not be opened, an API-server 502/503 while dialling the Service): retried with
  backoff within ``unreachable_retry_seconds``; still failing after that, the check ends in status ``error``;
- "measured bad" -- a wrong status, an empty completion, no answer within the request timeout, a p95
  over the limit: the check fails at once, showing the status and the start of the body.

A completion whose connection drops after the request was sent (ReadError, RemoteProtocolError: the server
reset or closed it) is not retried: it is a failed sample, counted as over the latency limit, and the table
says how many there were and why. ``/health`` and ``/ready`` are not timed, so their drops are retried.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import backoff
import httpx

from .checks import ERROR, FAILED, PASSED, CheckResult, skipped_after
from .pods import ReadinessProbe
from .report import describe_latency
from .report import seconds as format_seconds
from .stats import LatencySummary, p95_can_still_pass, summarize

__all__ = [
    "HttpOutcome",
    "HttpPlan",
    "body_start",
    "completion_text",
    "probe_readiness",
    "run_http_checks",
    "skipped_http_checks",
]

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the server never saw the request
DROPPED = (httpx.ReadError, httpx.WriteError, httpx.CloseError, httpx.RemoteProtocolError)  # after it was sent
UNREACHABLE = NOT_SENT + DROPPED
NO_ANSWER = (httpx.ReadTimeout, httpx.WriteTimeout)
BODY_START_CHARS = 200

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HttpPlan:
    """What to request and the limits; built from ``VerificationSettings``."""

    health_path: str = "/health"
    ready_path: str = "/ready"
    completions_path: str = "/v1/chat/completions"
    model: str = "fake-model"
    prompt: str = "Hello"
    max_tokens: int = 16
    warmup_requests: int = 2
    samples: int = 20
    p95_limit_seconds: float = 3.0
    request_timeout_seconds: float = 30.0
    unreachable_retry_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Any) -> HttpPlan:
        """The plan for ``VerificationSettings`` (the model is the served name or the release name)."""
        values = {f.name: getattr(settings, f.name) for f in fields(cls) if f.name != "model"}
        return cls(model=settings.model, **values)

    @property
    def names(self) -> _Names:
        return _Names(
            health=f"GET {self.health_path}",
            ready=f"GET {self.ready_path}",
            completions=f"POST {self.completions_path}",
            latency="completion latency p95",
            latency_expected=f"p95 <= {format_seconds(self.p95_limit_seconds)} (N={self.samples})",
        )

    @property
    def chat(self) -> bool:
        return self.completions_path.rstrip("/").endswith("chat/completions")

    def completion_body(self) -> dict[str, Any]:
        """Fixed prompt, temperature 0, fixed max_tokens: every sample asks for the same work."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "temperature": 0}
        if self.chat:
            body["messages"] = [{"role": "user", "content": self.prompt}]
        else:
            body["prompt"] = self.prompt
        return body


@dataclass(frozen=True)
class _Names:
    health: str
    ready: str
    completions: str
    latency: str
    latency_expected: str


HTTP_200 = "HTTP 200"
COMPLETION_EXPECTED = "HTTP 200, non-empty completion"


@dataclass(frozen=True)
class HttpOutcome:
    results: list[CheckResult]
    latency: LatencySummary | None


@dataclass(frozen=True)
class _Answer:
    """One request's outcome: ``problem`` is None when it is good; ``kind`` is PASSED, FAILED or ERROR."""

    kind: str
    seconds: float
    problem: str | None = None
    timed_out: bool = False
    dropped: bool = False


class _Unreachable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _DialFailed(Exception):
    """The transport could not reach the server for this request (could not measure): retried unless ``final``."""

    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final  # e.g. the API server's proxy says the Service does not exist: retrying cannot help


def body_start(response: httpx.Response, limit: int = BODY_START_CHARS) -> str:
    """The start of a response body on one line, for error messages (headers are never shown)."""
    try:
        text = " ".join(response.text.split())
    except Exception:  # undecodable body
        text = repr(response.content[:limit])
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[:limit] + "..."


def _describe_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, _DialFailed) or type(exc).__name__ in text:
        return text
    return f"{type(exc).__name__}: {text}"


class _Requester:
    """Sends requests on one keep-alive client, retrying "could not measure" within the window."""

    def __init__(
        self,
        client: httpx.Client,
        plan: HttpPlan,
        progress: Progress,
        explain: Callable[[], str | None],
        hopeless: Callable[[], bool],
        dial_failures: Callable[[], int] = lambda: 0,
        proxy_error: Callable[[httpx.Response], str | None] = lambda _response: None,
    ):
        self.client = client
        self.plan = plan
        self.progress = progress
        self.explain = explain  # extra context for unreachable errors (e.g. the port-forward's last error)
        self.hopeless = hopeless  # True once retrying cannot help (e.g. port-forward forbidden): stop early
        self.dial_failures = dial_failures  # grows when the transport could not open a stream to the pod
        self.proxy_error = proxy_error  # a response written by a proxy that could not reach vLLM, else None

    def send(
        self, method: str, path: str, json_body: Any = None, retry_drops: bool = True
    ) -> tuple[httpx.Response, float]:
        """The response and its duration (perf_counter, the successful attempt only).

        Retries what could not be measured: the request was never sent, or the transport could not reach the
        server. ``retry_drops=False``: a connection dropped after the request was sent raises its ``DROPPED``
        error instead of being retried. Raises ``_Unreachable`` after the retry window,
        ``httpx.TimeoutException`` (no answer in time).
        """
        timeout = httpx.Timeout(self.plan.request_timeout_seconds)

        def attempt() -> tuple[httpx.Response, float]:
            dials_before = self.dial_failures()
            started = time.perf_counter()
            try:
                response = self.client.request(method, path, json=json_body, timeout=timeout)
            except DROPPED as exc:
                if self.dial_failures() > dials_before:  # the pod was never reached: not a measurement
                    raise _DialFailed(f"{_describe_error(exc)} (the transport could not reach the pod)") from exc
                if retry_drops:
                    raise _DialFailed(_describe_error(exc)) from exc
                raise
            seconds = time.perf_counter() - started
            proxied = self.proxy_error(response)
            if proxied:  # the proxy answered, not vLLM: 502/503 while dialling is retried, anything else is final
                raise _DialFailed(proxied, final=response.status_code not in (502, 503))
            return response, seconds

        def announce(details: dict[str, Any]) -> None:
            exc = details.get("exception")
            self.progress(
                f"{method} {path}: could not measure ({_describe_error(exc)}); retry {details['tries']} "
                f"in {details['wait']:.1f}s (retrying for up to {self.plan.unreachable_retry_seconds:g}s)"
            )

        window = self.plan.unreachable_retry_seconds
        retryable = NOT_SENT + (_DialFailed,)
        retrying = backoff.on_exception(
            backoff.expo,
            retryable,
            max_time=window,
            max_value=5,
            jitter=backoff.full_jitter,
            on_backoff=announce,
            giveup=lambda exc: self.hopeless() or getattr(exc, "final", False),
            logger=None,
        )(attempt)
        started = time.monotonic()
        try:
            return retrying() if window > 0 else attempt()
        except retryable as exc:
            waited = time.monotonic() - started
            extra = self.explain()
            message = f"could not connect for {waited:.1f}s (window {window:g}s): {_describe_error(exc)}"
            raise _Unreachable(message + (f"; {extra}" if extra else "")) from None


def _get_check(requester: _Requester, name: str, path: str) -> CheckResult:
    expected = HTTP_200
    try:
        response, seconds = requester.send("GET", path)
    except _Unreachable as exc:
        return CheckResult(name, ERROR, expected, exc.message)
    except NO_ANSWER:
        return CheckResult(name, FAILED, expected, f"no response within {requester.plan.request_timeout_seconds:g}s")
    if response.status_code != 200:
        return CheckResult(name, FAILED, expected, f"HTTP {response.status_code}: {body_start(response)}")
    return CheckResult(name, PASSED, expected, f"HTTP 200 in {format_seconds(seconds)}")


PROBE_TIMEOUT_SECONDS = 10.0


def probe_readiness(client: httpx.Client, health_path: str, ready_path: str,
                    timeout: float = PROBE_TIMEOUT_SECONDS) -> ReadinessProbe:
    """One look at a pod that is Running but not Ready: ``health_path`` and ``ready_path`` status and body.

    Any transport error (vLLM still loading refuses connections) is an answer-less probe, never raised.
    """
    statuses: list[int | None] = []
    body = ""
    for path in (health_path, ready_path):
        try:
            response = client.get(path, timeout=timeout)
        except httpx.HTTPError as exc:
            return ReadinessProbe(*(statuses + [None] * (2 - len(statuses))), error=_describe_error(exc))
        statuses.append(response.status_code)
        body = body_start(response)
        if response.status_code != 200:
            break  # /health not 200: the readiness answer would say nothing more
    return ReadinessProbe(statuses[0], statuses[1] if len(statuses) > 1 else None, body)


def completion_text(payload: Any, chat: bool) -> str | None:
    """The generated text of an OpenAI-style completion response, or None if there is none."""
    try:
        choice = payload["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
    except (KeyError, IndexError, TypeError):
        return None
    return text if isinstance(text, str) else None


def _completion(requester: _Requester, label: str) -> _Answer:
    plan = requester.plan
    try:
        response, seconds = requester.send("POST", plan.completions_path, plan.completion_body(), retry_drops=False)
    except _Unreachable as exc:
        return _Answer(ERROR, 0.0, f"{label}: {exc.message}")
    except DROPPED as exc:
        problem = f"{label}: connection dropped after the request was sent ({_describe_error(exc)})"
        return _Answer(FAILED, 0.0, problem, dropped=True)
    except NO_ANSWER:
        problem = f"{label}: no response within {plan.request_timeout_seconds:g}s"
        return _Answer(FAILED, plan.request_timeout_seconds, problem, timed_out=True)
    if response.status_code != 200:
        return _Answer(FAILED, seconds, f"{label}: HTTP {response.status_code}: {body_start(response)}")
    try:
        payload = response.json()
    except (ValueError, json.JSONDecodeError):
        return _Answer(FAILED, seconds, f"{label}: HTTP 200 but not JSON: {body_start(response)}")
    text = completion_text(payload, plan.chat)
    if text is None:
        return _Answer(FAILED, seconds, f"{label}: HTTP 200 but no completion text: {body_start(response)}")
    if not text.strip():
        return _Answer(FAILED, seconds, f"{label}: HTTP 200 but the completion is empty: {body_start(response)}")
    return _Answer(PASSED, seconds)


def _completion_checks(requester: _Requester) -> tuple[CheckResult, CheckResult, LatencySummary | None]:
    plan, progress = requester.plan, requester.progress
    name, expected = plan.names.completions, COMPLETION_EXPECTED
    latency_name, latency_expected = plan.names.latency, plan.names.latency_expected

    for i in range(plan.warmup_requests):
        answer = _completion(requester, f"warm-up {i + 1}/{plan.warmup_requests}")
        if answer.problem:
            return (
                CheckResult(name, answer.kind, expected, answer.problem),
                skipped_after(latency_name, latency_expected, "the warm-up completion did not succeed"),
                None,
            )
    if plan.warmup_requests:
        progress(f"{plan.warmup_requests} warm-up completion(s) done; measuring {plan.samples} samples")

    samples: list[float] = []
    dropped: list[str] = []
    exceeded = 0
    for i in range(plan.samples):
        answer = _completion(requester, f"sample {i + 1}/{plan.samples}")
        if answer.dropped:
            # a failed sample: never retried and timed again, counted as a request over the limit
            dropped.append(answer.problem or "")
            exceeded += 1
            progress(f"{answer.problem}; counted as a failed sample (over the limit)")
        elif answer.problem:
            if answer.timed_out:
                latency = CheckResult(latency_name, FAILED, latency_expected, answer.problem)
            else:
                latency = skipped_after(latency_name, latency_expected, "a completion request did not succeed")
            return CheckResult(name, answer.kind, expected, answer.problem), latency, None
        else:
            samples.append(answer.seconds)
            exceeded += answer.seconds > plan.p95_limit_seconds
        if not p95_can_still_pass(exceeded, plan.samples):
            progress(f"stopping after {len(samples) + len(dropped)} samples: {exceeded} over "
                     f"{plan.p95_limit_seconds:g}s or without an answer, the p95 cannot pass")
            break

    summary = summarize(samples, plan.p95_limit_seconds, planned=plan.samples, failed=len(dropped))
    progress(f"completion latency: {describe_latency(summary)}")
    observed = f"HTTP 200, {plan.warmup_requests + len(samples)} non-empty completions"
    status = PASSED
    if dropped:
        status = PASSED if summary.passed else FAILED
        observed += (f"; {len(dropped)} of {summary.n} samples without an answer (not retried; counted as over the "
                     f"limit): {dropped[0]}")
    completions = CheckResult(name, status, expected, observed)
    latency = CheckResult(
        latency_name, PASSED if summary.passed else FAILED, latency_expected, describe_latency(summary)
    )
    return completions, latency, summary


def run_http_checks(
    client: httpx.Client,
    plan: HttpPlan,
    progress: Progress = lambda _message: None,
    explain_unreachable: Callable[[], str | None] = lambda: None,
    hopeless: Callable[[], bool] = lambda: False,
    dial_failures: Callable[[], int] = lambda: 0,
    proxy_error: Callable[[httpx.Response], str | None] = lambda _response: None,
) -> HttpOutcome:
    """Run every HTTP check on ``client`` (base URL already set) and return one result per check.

    Checks that could not reach the server at all make later checks pointless: those are skipped.
    ``explain_unreachable`` adds context to "could not connect"; ``hopeless`` ends its retries early;
    ``dial_failures`` and ``proxy_error`` tell a transport that could not reach the server (could not
    measure, retried) from a server that dropped or refused the request (measured bad).
    """
    requester = _Requester(client, plan, progress, explain_unreachable, hopeless, dial_failures, proxy_error)
    results: list[CheckResult] = []
    for name, path in ((plan.names.health, plan.health_path), (plan.names.ready, plan.ready_path)):
        result = _get_check(requester, name, path)
        results.append(result)
        if result.status == ERROR:
            return HttpOutcome(results + _skipped_rest(plan, after=len(results)), None)
    completions, latency, summary = _completion_checks(requester)
    return HttpOutcome(results + [completions, latency], summary)


def planned_check_names(plan: HttpPlan) -> list[tuple[str, str]]:
    """Names and expectations of every HTTP check, in order (for skipped rows)."""
    names = plan.names
    return [
        (names.health, HTTP_200),
        (names.ready, HTTP_200),
        (names.completions, COMPLETION_EXPECTED),
        (names.latency, names.latency_expected),
    ]


def skipped_http_checks(plan: HttpPlan, reason: str) -> list[CheckResult]:
    """Every HTTP check as skipped, e.g. when the pods never became ready."""
    return [skipped_after(name, expected, reason) for name, expected in planned_check_names(plan)]


def _skipped_rest(plan: HttpPlan, after: int) -> list[CheckResult]:
    return [skipped_after(n, e, "the server could not be reached") for n, e in planned_check_names(plan)[after:]]
