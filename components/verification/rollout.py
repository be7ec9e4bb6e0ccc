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
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ..cancellation import Cancellation
from ..kube import KubeAccessError
from .checks import ERROR, FAILED, PASSED, CheckResult, all_passed
from .http_checks import HttpPlan, run_http_checks, skipped_http_checks
from .pod_wait import KubeRollout, RolloutResult, RolloutSource, _api_error_text, wait_for_rollout
from .pods import FATAL, pod_checks
from .readiness_gate import GatedAssessment, assess_verified_rollout, gate_condition_patch
from .settings import VerificationSettings
from .stats import LatencySummary
from .transport import port_forward_endpoint
from .verify import pod_port, wait_options

__all__ = ["GateNotSet", "PodCheck", "RolloutRun", "drive_rollout", "patch_gate", "verify_rollout"]

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


@dataclass(frozen=True)
class PodCheck:
    """The HTTP checks of one pod: rows, the latency summary (None when not measured), how it was reached."""

    rows: list[CheckResult]
    latency: LatencySummary | None
    endpoint: str


class GateNotSet(Exception):
    """The readiness-gate condition could not be set; the message says why."""


@dataclass
class RolloutRun:
    """What a verified rollout produced: the check rows, the pods verified, their latencies, and a diagnosis."""

    rows: list[CheckResult] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    latencies: list[LatencySummary] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    diagnosis: str = ""

    @property
    def worst_latency(self) -> LatencySummary | None:
        return max(self.latencies, key=lambda s: s.p95) if self.latencies else None


def drive_rollout(
    source: RolloutSource,
    condition: str,
    budget_seconds: float,
    plan: HttpPlan,
    check_pod: Callable[[str], PodCheck],
    set_gate: Callable[[str, bool, str], None],
    progress: Progress,
    grace_seconds: float,
    wait: Callable[..., RolloutResult] = wait_for_rollout,
) -> RolloutRun:
    """The loop: wait for a new pod to verify, check it, set its gate; until the rollout is complete or one fails.

    Every wait gets the whole ``budget_seconds`` (the model-loading budget of one pod). A pod that fails keeps
    its gate False (it never gets traffic) and ends the run; so does a failure signal or an exhausted budget.
    """
    run = RolloutRun()
    checked: list[str] = []
    while True:
        result = wait(source, budget_seconds, progress, grace_seconds=grace_seconds,
                      assess_snapshot=lambda snap: assess_verified_rollout(snap, condition, checked))
        assessment = result.assessment
        if not result.ready:
            observed = f"{assessment.message} ({result.outcome})"
            serving = getattr(assessment, "old_serving", 0)
            if serving:
                observed += (f"; no new pod got traffic, {serving} pod(s) of the previous revision keep serving")
            if result.api_error:
                observed += f"; last API error: {result.api_error}"
            tail = [CheckResult(ROLLOUT_CHECK, FAILED if assessment.state == FATAL else ERROR, ROLLOUT_EXPECTED,
                                observed)]
            if not checked:
                tail = pod_checks(assessment, result.outcome) + tail + skipped_http_checks(
                    plan, "no new pod became ready to verify")
            run.rows.extend(tail)
            run.diagnosis = result.diagnosis
            return run
        if isinstance(assessment, GatedAssessment) and assessment.complete:
            progress(assessment.message)
            run.rows.append(CheckResult(ROLLOUT_CHECK, PASSED, ROLLOUT_EXPECTED, assessment.message))
            return run
        for pod in getattr(assessment, "to_verify", ()):
            checked.append(pod)
            outcome = check_pod(pod)
            run.rows.extend(CheckResult(f"{pod}: {r.name}", r.status, r.expected, r.observed) for r in outcome.rows)
            run.endpoints.append(outcome.endpoint)
            if outcome.latency is not None:
                run.latencies.append(outcome.latency)
            passed = all_passed(outcome.rows)
            try:
                set_gate(pod, passed, _gate_message(outcome.rows, passed))
            except GateNotSet as exc:
                run.rows.append(CheckResult(f"{pod}: set {condition}", ERROR,
                                            f"condition {'True' if passed else 'False'} on the pod", str(exc)))
                return run
            if not passed:
                progress(f"pod {pod} FAILED the verification: {condition}=False, it gets no traffic; the previous "
                         f"revision keeps serving")
                run.rows.append(CheckResult(
                    ROLLOUT_CHECK, FAILED, ROLLOUT_EXPECTED,
                    f"stopped: new pod {pod} failed the verification; {condition} set False, so it never joins the "
                    f"Service; the previous revision keeps serving"))
                return run
            run.verified.append(pod)
            progress(f"pod {pod} verified: {condition}=True, it joins the Service")


def verify_rollout(
    settings: VerificationSettings,
    api_client_factory: Callable[[], client.ApiClient],
    progress: Progress,
    grace_seconds: float,
    headers_for: Callable[[client.ApiClient], dict[str, str]],
    report: Callable[..., Any],
    cancellation: Cancellation,
) -> Any:
    """The verified rollout against the cluster; ``report`` builds the ``VerificationReport``."""
    plan = HttpPlan.from_settings(settings)
    try:
        api_client = api_client_factory()
    except KubeAccessError as exc:
        row = CheckResult(ROLLOUT_CHECK, ERROR, "cluster reachable", str(exc))
        return report([row] + skipped_http_checks(plan, "the cluster could not be reached"))
    with contextlib.closing(api_client):
        core = client.CoreV1Api(api_client)
        try:
            headers = headers_for(api_client)
        except ValueError as exc:
            return report([CheckResult(ROLLOUT_CHECK, ERROR, ROLLOUT_EXPECTED, str(exc))]
                          + skipped_http_checks(plan, str(exc)))

        def set_gate(pod: str, passed: bool, message: str) -> None:
            try:
                patch_gate(core, settings.namespace, pod, settings.verified_condition, passed, message)
            except ApiException as exc:
                hint = " (the verification needs patch on pods/status)" if exc.status == 403 else ""
                raise GateNotSet(_api_error_text(exc) + hint) from None

        progress(f"verified rollout of {settings.release_name} in {settings.namespace}: each new pod is checked "
                 f"before it gets traffic (readiness gate {settings.verified_condition}); "
                 f"budget {settings.pod_ready_timeout_seconds:g}s per pod")
        run = drive_rollout(
            KubeRollout(api_client, settings.namespace, settings.release_name, cancellation=cancellation),
            settings.verified_condition,
            settings.pod_ready_timeout_seconds,
            plan,
            lambda pod: _check_pod(api_client, settings, plan, pod, headers, progress, cancellation),
            set_gate,
            progress,
            grace_seconds,
            wait=functools.partial(wait_for_rollout, cancellation=cancellation, **wait_options(settings, api_client)),
        )
    return report(run.rows, diagnosis=run.diagnosis, verified_pods=list(run.verified), latency=run.worst_latency,
                  endpoint="; ".join(run.endpoints))


def _check_pod(
    api_client: client.ApiClient, settings: VerificationSettings, plan: HttpPlan, pod: str, headers: dict[str, str],
    progress: Progress, cancellation: Cancellation,
) -> PodCheck:
    cancellation.raise_if_cancelled(f"checking new pod {pod}")
    try:
        port = pod_port(settings, api_client, pod)
        with port_forward_endpoint(api_client, settings.namespace, pod, port, headers) as endpoint:
            # Ctrl-C: the next request raises OperationCancelled (requests in flight finish within their timeout)
            endpoint.client.event_hooks["request"].append(
                lambda _request: cancellation.raise_if_cancelled("running the HTTP checks"))
            progress(f"HTTP checks of new pod {pod} via {endpoint.description}")
            outcome = run_http_checks(endpoint.client, plan, progress, endpoint.last_error, endpoint.hopeless,
                                      endpoint.dial_failures, endpoint.proxy_error)
            return PodCheck(outcome.results, outcome.latency, endpoint.description)
    except (ValueError, OSError) as exc:
        return PodCheck(skipped_http_checks(plan, f"cannot open the endpoint: {exc}"), None, f"pod {pod} (not reached)")


def _gate_message(rows: list[CheckResult], passed: bool) -> str:
    if passed:
        return "; ".join(f"{r.name}: {r.observed}" for r in rows)
    return "; ".join(f"{r.name} {r.status}: {r.observed}" for r in rows if not r.passed)
