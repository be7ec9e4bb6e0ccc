"""The verified rollout: check each new pod itself, then open its readiness gate; wait until the rollout is done.

Loop (each step waits, watch-driven, up to the pod-ready budget: every surge pod gets the whole loading budget):
1. wait until a new-revision pod has ready containers (or a failure signal, or the budget runs out);
2. run the HTTP checks (/health, /ready, completions, p95) against that pod through a port-forward to it;
3. passed: patch its readiness-gate condition True (``pods/status``); the pod turns Ready, joins the Service's
   endpoints, and the Deployment removes an old pod and surges the next new one. Failed: patch the condition
   False with the reason (``kubectl describe pod`` shows it), stop, and report the check table: the pod never
   gets traffic and the old revision keeps serving;
4. done when every new pod is verified and Ready and no old pod is left.
A failed run leaves the Deployment mid-rollout; the next ``pulumi up`` continues from there (or, with the
previous configuration, the Deployment returns to the old ReplicaSet, whose pods are already verified).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..kube import KubeAccessError
from .checks import ERROR, FAILED, PASSED, CheckResult
from .http_checks import HttpPlan, run_http_checks, skipped_http_checks
from .pod_wait import KubeRollout, _api_error_text, wait_for_rollout
from .pods import FATAL, pod_checks
from .readiness_gate import assess_verified_rollout, gate_condition_patch
from .settings import VerificationSettings
from .stats import LatencySummary
from .transport import port_forward_endpoint, resolve_container_port

__all__ = ["patch_gate", "verify_rollout"]

Progress = Callable[[str], None]
ROLLOUT_CHECK = "verified rollout"
ROLLOUT_EXPECTED = "every new pod verified and Ready, old pods gone"


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def patch_gate(core: client.CoreV1Api, namespace: str, pod: str, condition: str, passed: bool, message: str) -> None:
    """Set the pod's readiness-gate condition through the ``pods/status`` subresource (strategic merge by type)."""
    core.patch_namespaced_pod_status(
        pod, namespace, gate_condition_patch(condition, passed, message, _now()),
        _content_type="application/strategic-merge-patch+json", _request_timeout=30,
    )


def _pod_port(core: client.CoreV1Api, settings: VerificationSettings, pod: str) -> int:
    service = pod_json = None
    with contextlib.suppress(ApiException, ValueError):
        raw = core.read_namespaced_service(settings.release_name, settings.namespace, _preload_content=False,
                                           _request_timeout=30)
        service = json.loads(raw.data)
    with contextlib.suppress(ApiException, ValueError):
        raw = core.read_namespaced_pod(pod, settings.namespace, _preload_content=False, _request_timeout=30)
        pod_json = json.loads(raw.data)
    return resolve_container_port(service, pod_json, settings.service_port)


def _prefixed(pod: str, rows: list[CheckResult]) -> list[CheckResult]:
    return [CheckResult(f"{pod}: {r.name}", r.status, r.expected, r.observed) for r in rows]


def verify_rollout(
    settings: VerificationSettings,
    api_client_factory: Callable[[], client.ApiClient],
    progress: Progress,
    grace_seconds: float,
    headers_for: Callable[[client.ApiClient], dict[str, str]],
    report: Callable[..., Any],
) -> Any:
    """Verify each new pod, open its gate, and wait for the rollout to finish; ``report`` builds the result."""
    plan = HttpPlan.from_settings(settings)
    try:
        api_client = api_client_factory()
    except KubeAccessError as exc:
        row = CheckResult(ROLLOUT_CHECK, ERROR, "cluster reachable", str(exc))
        return report([row] + skipped_http_checks(plan, "the cluster could not be reached"))

    rows: list[CheckResult] = []
    checked: list[str] = []
    latencies: list[LatencySummary] = []
    endpoints: list[str] = []
    with contextlib.closing(api_client):
        core = client.CoreV1Api(api_client)
        source = KubeRollout(api_client, settings.namespace, settings.release_name)
        try:
            headers = headers_for(api_client)
        except ValueError as exc:
            return report([CheckResult(ROLLOUT_CHECK, ERROR, ROLLOUT_EXPECTED, str(exc))]
                          + skipped_http_checks(plan, str(exc)))
        progress(f"verified rollout of {settings.release_name} in {settings.namespace}: each new pod is checked "
                 f"before it gets traffic (readiness gate {settings.verified_condition}); "
                 f"budget {settings.pod_ready_timeout_seconds:g}s per pod")
        while True:
            result = wait_for_rollout(
                source, settings.pod_ready_timeout_seconds, progress, grace_seconds=grace_seconds,
                assess_snapshot=lambda snap: assess_verified_rollout(snap, settings.verified_condition, checked),
            )
            assessment = result.assessment
            if not result.ready:
                failed = FAILED if assessment.state == FATAL else ERROR
                observed = f"{assessment.message} ({result.outcome})"
                if result.api_error:
                    observed += f"; last API error: {result.api_error}"
                tail = [CheckResult(ROLLOUT_CHECK, failed, ROLLOUT_EXPECTED, observed)]
                if not checked:
                    tail = pod_checks(assessment, result.outcome) + tail + skipped_http_checks(
                        plan, "no new pod became ready to verify")
                return report(rows + tail, diagnosis=result.diagnosis, verified_pods=list(checked),
                              latency=_worst(latencies), endpoint="; ".join(endpoints))
            if getattr(assessment, "complete", False):
                progress(assessment.message)
                rows.append(CheckResult(ROLLOUT_CHECK, PASSED, ROLLOUT_EXPECTED, assessment.message))
                return report(rows, verified_pods=list(checked), latency=_worst(latencies),
                              endpoint="; ".join(endpoints))
            for pod in assessment.to_verify:
                outcome_rows, summary, description = _check_pod(core, api_client, settings, plan, pod, headers,
                                                                 progress)
                endpoints.append(description)
                rows.extend(_prefixed(pod, outcome_rows))
                checked.append(pod)
                passed = all(r.passed for r in outcome_rows)
                if summary is not None:
                    latencies.append(summary)
                message = _gate_message(outcome_rows, passed)
                try:
                    patch_gate(core, settings.namespace, pod, settings.verified_condition, passed, message)
                except ApiException as exc:
                    detail = _api_error_text(exc)
                    hint = " (the verification needs patch on pods/status)" if exc.status == 403 else ""
                    rows.append(CheckResult(f"{pod}: set {settings.verified_condition}", ERROR,
                                            f"condition {'True' if passed else 'False'} on the pod", detail + hint))
                    return report(rows, verified_pods=list(checked), latency=_worst(latencies),
                                  endpoint="; ".join(endpoints))
                if not passed:
                    progress(f"pod {pod} FAILED the verification: it gets no traffic; the previous revision keeps "
                             f"serving")
                    rows.append(CheckResult(
                        ROLLOUT_CHECK, FAILED, ROLLOUT_EXPECTED,
                        f"stopped: new pod {pod} failed the verification; {settings.verified_condition} set False, so "
                        f"it never joins the Service; the previous revision keeps serving"))
                    return report(rows, verified_pods=list(checked[:-1]), latency=_worst(latencies),
                                  endpoint="; ".join(endpoints))
                progress(f"pod {pod} verified: {settings.verified_condition}=True, it joins the Service")


def _check_pod(
    core: client.CoreV1Api, api_client: client.ApiClient, settings: VerificationSettings, plan: HttpPlan, pod: str,
    headers: dict[str, str], progress: Progress,
) -> tuple[list[CheckResult], LatencySummary | None, str]:
    try:
        port = _pod_port(core, settings, pod)
        with port_forward_endpoint(api_client, settings.namespace, pod, port, headers) as endpoint:
            progress(f"HTTP checks of new pod {pod} via {endpoint.description}")
            outcome = run_http_checks(endpoint.client, plan, progress, endpoint.last_error, endpoint.hopeless)
            return outcome.results, outcome.latency, endpoint.description
    except (ValueError, OSError) as exc:
        return skipped_http_checks(plan, f"cannot open the endpoint: {exc}"), None, f"pod {pod} (not reached)"


def _gate_message(rows: list[CheckResult], passed: bool) -> str:
    if passed:
        return "; ".join(f"{r.name}: {r.observed}" for r in rows)
    return "; ".join(f"{r.name} {r.status}: {r.observed}" for r in rows if not r.passed)


def _worst(latencies: list[LatencySummary]) -> LatencySummary | None:
    return max(latencies, key=lambda s: s.p95) if latencies else None
