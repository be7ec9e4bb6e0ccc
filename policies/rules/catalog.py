"""The pack's policies: each pure check wrapped as a pulumi-policy policy (no PolicyPack here: it would serve)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .extra_args import check_extra_args
from .image import check_image_pinned
from .namespace import check_namespace
from .pod_security import check_pod_security
from .production import check_disruption_budget, check_gpu_safe_rollout, check_helm_atomic
from .reading import lookup
from .resources import check_model_fits_resources, check_resource_limits
from .secrets import check_hf_token_from_secret
from .sizing import MODEL_SIZES_SCHEMA, PRODUCTION_FACTOR_SCHEMA
from .subjects import GPU_GATE_TYPE, VERIFICATION_TYPE, Release, is_vllm_release, release_from
from .timeouts import check_timeouts
from .verification import MAX_P95_SECONDS, check_post_deploy_verification

ReleaseCheck = Callable[[Release, Mapping[str, Any]], Iterable[str]]

PACK_NAME = "vllm-deploy-policies"
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY


def _report_all(messages: Iterator[Any], report: Callable[[Any], None]) -> None:
    """Report every message; a value still unknown during preview ends the check quietly (nothing to judge yet)."""
    try:
        for message in messages:
            report(message)
    except UnknownValueError:
        pass


def release_policy(name: str, description: str, check: ReleaseCheck, *,
                   enforcement_level: EnforcementLevel | None = None,
                   config: Mapping[str, Any] | None = None) -> ResourceValidationPolicy:
    """A resource policy that runs check on every vLLM Helm release."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if is_vllm_release(args.resource_type, args.props):
            release = release_from(args.name, args.props)
            _report_all(iter(check(release, args.get_config())), report_violation)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema(properties=dict(config)) if config else None)


def _validate_namespaces(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if is_vllm_release(args.resource_type, args.props):
        release = release_from(args.name, args.props)
        _report_all(check_namespace(release.label, lookup(args.props, "namespace"), required=True), report_violation)
    elif args.resource_type in (GPU_GATE_TYPE, VERIFICATION_TYPE):
        label = f'{args.resource_type.rsplit(":", 1)[-1]} "{args.name}"'
        _report_all(check_namespace(label, lookup(args.props, "namespace"), required=False), report_violation)


def _validate_verifications(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    _report_all(check_post_deploy_verification(args.resources, args.get_config()),
                lambda found: report_violation(found[0], found[1]))


_SIZES = {"modelSizes": MODEL_SIZES_SCHEMA}
_BUDGETS = {**_SIZES, "productionBudgetFactor": PRODUCTION_FACTOR_SCHEMA}


def all_policies() -> list[Policy]:
    """Every policy of the pack, in the order the README documents them."""
    return [
        release_policy(
            "vllm-resource-limits",
            "vLLM pods have GPU (>= 1), memory and CPU limits, and no request above its limit.",
            check_resource_limits),
        release_policy(
            "vllm-image-pinned",
            "The vLLM image is pinned to a fixed tag or digest (never latest, never untagged).",
            check_image_pinned,
            config={"floatingTags": {"type": "array", "items": {"type": "string"},
                                     "description": "Tags treated as floating, besides latest/main/nightly/stable."}}),
        ResourceValidationPolicy(
            name="vllm-namespace-not-default",
            description="The vLLM release and its gate/verification use a dedicated namespace, not \"default\".",
            validate=_validate_namespaces),
        release_policy(
            "vllm-model-size-fits-resources",
            "The model size gets enough GPUs and memory per pod (large: >= 2 GPUs and 64Gi).",
            check_model_fits_resources, config=_SIZES),
        release_policy(
            "vllm-timeouts-cover-loading-budget",
            "Startup and Helm timeouts cover the model size's loading budget (longer in production).",
            check_timeouts, config=_BUDGETS),
        release_policy(
            "vllm-hf-token-from-secret",
            "The Hugging Face token is only referenced from a Kubernetes Secret, never a literal value.",
            check_hf_token_from_secret),
        release_policy(
            "vllm-extra-args-safe",
            "model.extraArgs repeats no flag the chart sets and carries no secret (use the chart's settings).",
            check_extra_args),
        StackValidationPolicy(
            name="vllm-post-deploy-verification",
            description=("Every vLLM release has a DeploymentVerification depending on it, for the same release, "
                         "with p95 <= 3 s and a pod-ready timeout covering the loading budget."),
            validate=_validate_verifications,
            config_schema=PolicyConfigSchema(properties={
                "maxP95Seconds": {"type": "number", "minimum": 0, "maximum": MAX_P95_SECONDS,
                                  "default": MAX_P95_SECONDS,
                                  "description": "Loosest p95 limit a verification may use (may only be tightened)."},
                **_BUDGETS})),
        release_policy(
            "vllm-production-helm-atomic",
            "Production Helm releases are atomic (or explicitly accept cleanupOnFail instead); the verified "
            "rollout is exempt.",
            check_helm_atomic,
            config={"acceptCleanupOnFail": {"type": "boolean", "default": False,
                                            "description": "Accept cleanupOnFail: true instead of atomic: true."}}),
        release_policy(
            "vllm-production-gpu-safe-rollout",
            "Production updates keep the model serving: the verified rollout, unless downtime is accepted explicitly.",
            check_gpu_safe_rollout,
            config={"acceptDowntime": {"type": "boolean", "default": False,
                                       "description": "Accept rollout.mode recreate (downtime during every update) "
                                                      "in production, e.g. on a cluster without a spare GPU."}}),
        release_policy(
            "vllm-production-disruption-budget",
            "Production releases with more than one replica have a PodDisruptionBudget.",
            check_disruption_budget),
        release_policy(
            "vllm-pod-security",
            "The vLLM container cannot escalate privileges and drops all capabilities.",
            check_pod_security, enforcement_level=EnforcementLevel.ADVISORY),
    ]
