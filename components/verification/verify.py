"""The whole post-deploy verification: pods, then the HTTP checks through the configured access mode."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..cancellation import Cancellation
from ..kube import KubeAccessError
from .checks import ERROR, CheckResult, all_passed
from .http_checks import HttpPlan, probe_readiness, run_http_checks, skipped_http_checks
from .init_time import InitializationTimes, initialization_times
from .pod_wait import KubeRollout, Prober, RolloutResult, wait_for_rollout
from .pods import IMAGE_PULL, READY_ENDPOINT_FAILING, ReadinessProbe, pod_checks
from .report import render_table, summary_outputs
from .settings import VerificationSettings
from .stats import LatencySummary
from .transport import Endpoint, direct_endpoint, port_forward_endpoint, resolve_container_port, service_proxy_endpoint

__all__ = ["VerificationReport", "pod_port", "verify_deployment", "wait_options"]  # pod_port, wait_options: rollout.py

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VerificationReport:
    """Every check's result, the latency summary, and what a failure message needs."""

    settings: VerificationSettings
    results: list[CheckResult]
    latency: LatencySummary | None = None
    diagnosis: str = ""
    endpoint: str = ""
    verified_pods: list[str] = field(default_factory=list)
    verified_at: str = ""
    duration_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # reported even when every check passed
    initialization: InitializationTimes | None = None

    @property
    def passed(self) -> bool:
        return all_passed(self.results)

    def headline(self) -> str:
        s = self.settings
        verdict = "passed" if self.passed else "FAILED"
        via = f" via {self.endpoint}" if self.endpoint else ""
        return (
            f"vLLM deployment verification {verdict}: release {s.release_name} in namespace {s.namespace} "
            f"(revision {s.revision}){via}, {self.duration_seconds:.1f}s"
        )

    def text(self) -> str:
        """Headline, check table, and the pod diagnosis if there is one."""
        parts = [self.headline(), render_table(self.results)]
        if self.diagnosis:
            parts.append("Diagnosis:\n" + self.diagnosis)
        if self.warnings:
            parts.append("Warnings:\n" + "\n".join(f"  {w}" for w in self.warnings))
        return "\n".join(parts)

    def outputs(self) -> dict[str, Any]:
        """The stack outputs of a verification (per-check status, p50, p95, max, N, time)."""
        latency = self.latency
        return {
            "passed": self.passed,
            "summary": summary_outputs(self.results),
            "p50_seconds": round(latency.p50, 4) if latency else None,
            "p95_seconds": round(latency.p95, 4) if latency else None,
            "max_seconds": round(latency.max, 4) if latency else None,
            "n": latency.n if latency else 0,
            "verified_at": self.verified_at,
            "duration_seconds": round(self.duration_seconds, 2),
            "endpoint": self.endpoint,
            "verified_pods": list(self.verified_pods),
            "initialization": self.initialization.as_output() if self.initialization else None,
        }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read_api_key(api_client: client.ApiClient, settings: VerificationSettings) -> str:
    """The vLLM API key from the Secret the chart uses (never logged)."""
    secret = client.CoreV1Api(api_client).read_namespaced_secret(
        settings.api_key_secret_name, settings.namespace, _preload_content=False, _request_timeout=30
    )
    data = (json.loads(secret.data).get("data") or {}).get(settings.api_key_secret_key)
    if not data:
        raise KeyError(f"Secret {settings.namespace}/{settings.api_key_secret_name} "
                       f"has no key {settings.api_key_secret_key!r}")
    return base64.b64decode(data).decode().strip()


def api_headers(api_client: client.ApiClient, settings: VerificationSettings) -> dict[str, str]:
    """The request headers (vLLM's API key when configured); ``ValueError`` says why the key cannot be read."""
    if not settings.api_key_secret_name:
        return {}
    try:
        return {"Authorization": f"Bearer {read_api_key(api_client, settings)}"}
    except (ApiException, KeyError, ValueError) as exc:
        if isinstance(exc, ApiException):
            raise ValueError(f"cannot read the API key Secret: {exc.status} {exc.reason}") from None
        raise ValueError(str(exc)) from None


def pod_port(settings: VerificationSettings, api_client: client.ApiClient, pod: str) -> int:
    """The container port behind the Service's port for ``pod`` (the Service's targetPort, maybe named)."""
    core = client.CoreV1Api(api_client)
    service = pod_json = None
    with contextlib.suppress(ApiException, ValueError):
        raw = core.read_namespaced_service(settings.release_name, settings.namespace, _preload_content=False,
                                           _request_timeout=30)
        service = json.loads(raw.data)
    with contextlib.suppress(ApiException, ValueError):
        raw = core.read_namespaced_pod(pod, settings.namespace, _preload_content=False, _request_timeout=30)
        pod_json = json.loads(raw.data)
    return resolve_container_port(service, pod_json, settings.service_port)


def open_endpoint(
    settings: VerificationSettings, api_client: client.ApiClient, rollout: RolloutResult, headers: dict[str, str]
) -> contextlib.AbstractContextManager[Endpoint]:
    """The endpoint for ``settings.access_mode``."""
    if settings.access_mode == "direct":
        return direct_endpoint(settings.direct_url, headers)
    if settings.access_mode == "service-proxy":
        return service_proxy_endpoint(
            api_client, settings.namespace, settings.release_name, settings.service_port, headers)
    pod = rollout.assessment.ready_pod_names[0]
    return port_forward_endpoint(api_client, settings.namespace, pod, pod_port(settings, api_client, pod), headers)


def readiness_prober(settings: VerificationSettings, api_client: client.ApiClient) -> Prober | None:
    """How the pod wait asks a Running-not-Ready pod for /health and /ready: through a port-forward to that pod,
    or the direct URL. None in service-proxy mode (the Service has no ready endpoint to proxy to yet)."""
    if settings.access_mode == "service-proxy":
        return None
    timeout = min(settings.request_timeout_seconds, 10.0)

    def probe(pod: str) -> ReadinessProbe:
        if settings.access_mode == "direct":
            endpoint_cm = direct_endpoint(settings.direct_url)
        else:
            port = pod_port(settings, api_client, pod)
            endpoint_cm = port_forward_endpoint(api_client, settings.namespace, pod, port)
        with endpoint_cm as endpoint:
            return probe_readiness(endpoint.client, settings.health_path, settings.ready_path, timeout)

    return probe


def wait_options(settings: VerificationSettings, api_client: client.ApiClient) -> dict[str, Any]:
    """``wait_for_rollout``'s per-signal graces and readiness prober for ``settings`` (both rollouts use them)."""
    return {
        "graces": {IMAGE_PULL: settings.image_pull_grace_seconds, READY_ENDPOINT_FAILING: settings.ready_grace_seconds,
                   "Unschedulable": settings.unschedulable_grace_seconds},
        "prober": readiness_prober(settings, api_client),
        "health_path": settings.health_path,
        "ready_path": settings.ready_path,
    }


def verify_deployment(
    settings: VerificationSettings,
    api_client_factory: Callable[[], client.ApiClient],
    progress: Progress = lambda _message: None,
    grace_seconds: float = 20.0,
    cancellation: Cancellation | None = None,
) -> VerificationReport:
    """Run the checklist: pods Running and Ready, then /health, /ready, completions and their p95.

    Raises ``OperationCancelled`` when ``cancellation`` is set during the pod wait or the HTTP checks.
    """
    cancellation = cancellation or Cancellation()
    started = time.monotonic()
    plan = HttpPlan.from_settings(settings)

    def report(results: list[CheckResult], **kwargs: Any) -> VerificationReport:
        return VerificationReport(
            settings, results, verified_at=_now(), duration_seconds=time.monotonic() - started, **kwargs
        )

    if settings.verified_rollout:
        from .rollout import verify_rollout

        return verify_rollout(settings, api_client_factory, progress, grace_seconds,
                              lambda api: api_headers(api, settings), report, cancellation)
    try:
        api_client = api_client_factory()
    except KubeAccessError as exc:
        rows = [CheckResult(name, ERROR, "cluster reachable", str(exc)) for name in ("pod Running", "pod Ready")]
        return report(rows + skipped_http_checks(plan, "the cluster could not be reached"))

    with contextlib.closing(api_client):
        progress(f"verifying release {settings.release_name} in {settings.namespace}: "
                 f"waiting for pods (budget {settings.pod_ready_timeout_seconds:g}s)")
        source = KubeRollout(api_client, settings.namespace, settings.release_name, cancellation=cancellation)
        rollout = wait_for_rollout(
            source,
            settings.pod_ready_timeout_seconds,
            progress,
            grace_seconds=grace_seconds,
            cancellation=cancellation,
            **wait_options(settings, api_client),
        )
        rows = pod_checks(rollout.assessment, rollout.outcome)
        if rollout.api_error and not rollout.ready:
            observed = f"{rollout.outcome}; last API error: {rollout.api_error}"
            rows = [CheckResult(r.name, ERROR, r.expected, observed) for r in rows]
        if not rollout.ready:
            return report(rows + skipped_http_checks(plan, "the pods are not Ready"), diagnosis=rollout.diagnosis)
        warnings = rollout.assessment.warnings
        progress(f"pods: {rollout.assessment.message} ({rollout.outcome})")
        initialization = None
        with contextlib.suppress(ApiException, OSError, ValueError):  # a measurement, never a reason to fail
            initialization = initialization_times(source.snapshot().pods, rollout.assessment.ready_pod_names)

        cancellation.raise_if_cancelled("starting the HTTP checks")
        try:
            headers = api_headers(api_client, settings)
        except ValueError as exc:
            return report(rows + skipped_http_checks(plan, str(exc)), warnings=warnings)
        try:
            endpoint_cm = open_endpoint(settings, api_client, rollout, headers)
            with endpoint_cm as endpoint:
                # Ctrl-C: the next request raises OperationCancelled (requests in flight finish within their timeout)
                endpoint.client.event_hooks["request"].append(
                    lambda _request: cancellation.raise_if_cancelled("running the HTTP checks"))
                progress(f"HTTP checks via {endpoint.description}")
                outcome = run_http_checks(endpoint.client, plan, progress, endpoint.last_error, endpoint.hopeless,
                                          endpoint.dial_failures, endpoint.proxy_error)
        except (ValueError, OSError) as exc:  # bad URL, TLS material, listener
            return report(rows + skipped_http_checks(plan, f"cannot open the endpoint: {exc}"), warnings=warnings)
        return report(
            rows + outcome.results,
            latency=outcome.latency,
            endpoint=endpoint.description,
            verified_pods=rollout.assessment.ready_pod_names,
            warnings=warnings,
            initialization=initialization,
        )

