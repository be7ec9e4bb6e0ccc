"""Every vLLM release is proven to serve: a post-deploy verification depends on it, with a strict p95 limit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .reading import as_number, is_unknown, lookup, show
from .subjects import VERIFICATION_TYPE, is_vllm_release, release_from
from .timeouts import budget_reason, loading_budget_seconds

MAX_P95_SECONDS = 3.0


def depends_on(resource: Any, target: Any) -> bool:
    """resource depends on target directly, through depends_on or through one of its inputs."""
    direct = [dep.urn for dep in (getattr(resource, "dependencies", None) or [])]
    through_inputs = [dep.urn for deps in (getattr(resource, "property_dependencies", None) or {}).values()
                      for dep in deps]
    return target.urn in direct or target.urn in through_inputs


def check_post_deploy_verification(resources: Sequence[Any], config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(message, urn) for each vLLM release without a sound DeploymentVerification depending on it."""
    max_p95 = float(config.get("maxP95Seconds", MAX_P95_SECONDS))
    verifications = [r for r in resources if r.resource_type == VERIFICATION_TYPE]
    for resource in resources:
        if not is_vllm_release(resource.resource_type, resource.props):
            continue
        release = release_from(resource.name, resource.props)
        checks = [v for v in verifications if depends_on(v, resource)]
        if not checks:
            yield (f"{release.label} has no post-deploy verification depending on it; add a DeploymentVerification "
                   f"({VERIFICATION_TYPE}) with release_name \"{release.name}\" and depends_on=[the release] "
                   f"(or an input taken from the release, e.g. its revision).", resource.urn)
            continue
        for verification in checks:
            for message in _verification_problems(verification, release, max_p95, config):
                yield message, verification.urn


def _verification_problems(verification: Any, release: Any, max_p95: float,
                           config: Mapping[str, Any]) -> Iterator[str]:
    label = f'DeploymentVerification "{verification.name}" of {release.label}'
    release_name = lookup(verification.props, "release_name")
    if not is_unknown(release_name) and release_name != release.name:
        yield (f"{label}: release_name is {show(release_name)} but it depends on release \"{release.name}\"; "
               f"set release_name to \"{release.name}\".")
    raw_p95 = lookup(verification.props, "p95_limit_seconds")
    p95 = as_number(raw_p95)
    if not is_unknown(raw_p95) and (p95 is None or p95 > max_p95 or p95 <= 0):
        yield (f"{label}: p95_limit_seconds is {show(raw_p95)}; set it to at most {max_p95:g} s so a slow "
               f"deployment fails verification.")
    budget = loading_budget_seconds(release, config)
    raw_timeout = lookup(verification.props, "pod_ready_timeout_seconds")
    timeout = as_number(raw_timeout)
    if budget is not None and not is_unknown(raw_timeout) and (timeout is None or timeout < budget):
        yield (f"{label}: pod_ready_timeout_seconds is {show(raw_timeout)} but {budget_reason(release, config)}; "
               f"set pod_ready_timeout_seconds >= {budget:g}.")
