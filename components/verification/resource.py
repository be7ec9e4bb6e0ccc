"""``DeploymentVerification``: a dynamic resource whose create/update proves the release serves.

Stateless provider (pickled with dill, run in the dynamic-provider process): every method builds what it
needs from its inputs. The update fails -- listing every check -- unless all checks pass.

Re-verification: diff() asks for an update when the Helm revision or any verification setting differs
from the last *passed* verification's outputs. A failed create leaves nothing in state and a failed update
leaves the previous outputs, so the next ``pulumi up`` verifies again without state surgery; a no-op
``pulumi up`` (same revision and settings) does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from ..cancellation import ENGINE_CANCELLATION, OperationCancelled, install_engine_cancel_hook
from ..kube import KubeAccess, api_client_for
from ..provider_errors import plain_failures
from ..resource_args import ClusterArgs
from .settings import (
    PROVIDER_VERSION,
    REVERIFY_KEYS,
    SECRET_KEYS,
    normalize_revision,
    settings_from,
    validate,
)

__all__ = [
    "OUTPUT_KEYS",
    "PROVIDER_VERSION",
    "DeploymentVerification",
    "DeploymentVerificationArgs",
    "DeploymentVerificationProvider",
    "VerificationFailed",
]

OUTPUT_KEYS = (
    "passed",
    "verified_revision",
    "summary",
    "p50_seconds",
    "p95_seconds",
    "max_seconds",
    "n",
    "verified_at",
    "duration_seconds",
    "endpoint",
    "verified_pods",
    "initialization",
)


class VerificationFailed(RuntimeError):
    """The deployment did not prove it serves; the message is the check table and the diagnosis."""


def _progress(message: str) -> None:
    pulumi.log.info(f"DeploymentVerification: {message}")


_RENAMED_INPUTS = {"provider_version": "settings_version"}
"""Inputs renamed since a stack's last verification: the old name's value is the same setting (no re-verify)."""


def _old_input(olds: dict[str, Any], key: str) -> Any:
    if key not in olds and key in _RENAMED_INPUTS:
        return olds.get(_RENAMED_INPUTS[key])
    return olds.get(key)


def _same(old: Any, new: Any) -> bool:
    return normalize_revision(old) == normalize_revision(new)


@plain_failures(VerificationFailed)
class DeploymentVerificationProvider(dyn.ResourceProvider):
    """check / diff / create / update of ``DeploymentVerification``; delete has nothing to remove."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        install_engine_cancel_hook()  # before any create/update starts waiting (components/cancellation.py)
        inputs, problems = validate(news)
        return dyn.CheckResult(inputs, [dyn.CheckFailure(p.property, p.reason) for p in problems])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        if olds.get("passed") is not True:
            return dyn.DiffResult(changes=True)
        changed = [key for key in REVERIFY_KEYS if not _same(_old_input(olds, key), news.get(key))]
        return dyn.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        outs = self._verify(props)
        return dyn.CreateResult(id_=f"{outs['namespace']}/{outs['release_name']}", outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(outs=self._verify(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None

    def _verify(self, props: dict[str, Any]) -> dict[str, Any]:
        from .verify import verify_deployment  # keeps unpickling the provider cheap

        settings = settings_from(props)
        access = KubeAccess.from_inputs(props)
        install_engine_cancel_hook()
        try:
            report = verify_deployment(settings, lambda: api_client_for(access), _progress,
                                       cancellation=ENGINE_CANCELLATION)
        except OperationCancelled as exc:
            raise VerificationFailed(
                f"verification of release {settings.release_name} (revision {settings.revision}) {exc}; it did not "
                "pass, so the next `pulumi up` verifies again") from None
        if not report.passed:
            raise VerificationFailed(report.text()) from None
        _progress(report.headline())
        for warning in report.warnings:  # e.g. a replaced Failed pod, an old OOM kill: passed, but worth a look
            pulumi.log.warn(f"DeploymentVerification: {warning}")
        normalized, _ = validate(props)
        inputs = {k: normalized.get(k) for k in REVERIFY_KEYS if k not in SECRET_KEYS}
        return {**inputs, **report.outputs(), "verified_revision": settings.revision}


@dataclass
class DeploymentVerificationArgs(ClusterArgs, provider_version=PROVIDER_VERSION):
    """Inputs of ``DeploymentVerification`` (see docs/design.md), as the component passes them: the defaults live in
    components/presets.py and components/config.py. ``kubeconfig`` is always made secret."""

    namespace: pulumi.Input[str]
    release_name: pulumi.Input[str]
    revision: pulumi.Input[int]
    access_mode: pulumi.Input[str]
    base_url: pulumi.Input[str]
    service_port: pulumi.Input[int]
    health_path: pulumi.Input[str]
    ready_path: pulumi.Input[str]
    completions_path: pulumi.Input[str]
    served_model_name: pulumi.Input[str]
    prompt: pulumi.Input[str]
    max_tokens: pulumi.Input[int]
    warmup_requests: pulumi.Input[int]
    samples: pulumi.Input[int]
    p95_limit_seconds: pulumi.Input[float]
    request_timeout_seconds: pulumi.Input[float]
    pod_ready_timeout_seconds: pulumi.Input[float]
    unreachable_retry_seconds: pulumi.Input[float]
    image_pull_grace_seconds: pulumi.Input[float]
    ready_grace_seconds: pulumi.Input[float]
    unschedulable_grace_seconds: pulumi.Input[float]
    api_key_secret_name: pulumi.Input[str]
    api_key_secret_key: pulumi.Input[str]
    rollout: pulumi.Input[str]
    verified_condition: pulumi.Input[str]


class DeploymentVerification(dyn.Resource, module="vllm", name="DeploymentVerification"):
    """Proves after the Helm release that the pods are Ready and vLLM answers within the latency limit."""

    passed: pulumi.Output[bool]
    verified_revision: pulumi.Output[Any]
    summary: pulumi.Output[list[dict[str, str]]]
    p50_seconds: pulumi.Output[float | None]
    p95_seconds: pulumi.Output[float | None]
    max_seconds: pulumi.Output[float | None]
    n: pulumi.Output[int]
    verified_at: pulumi.Output[str]
    duration_seconds: pulumi.Output[float]
    endpoint: pulumi.Output[str]
    verified_pods: pulumi.Output[list[str]]
    initialization: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self, resource_name: str, args: DeploymentVerificationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {**args.to_inputs(), **{key: None for key in OUTPUT_KEYS}}
        super().__init__(DeploymentVerificationProvider(), resource_name, props, opts)
