"""``GpuCapacityGate``: a dynamic resource whose create (and update, when the GPU need changes) waits for GPUs.

The provider is pickled with dill into the resource's state and runs in the dynamic-provider process, so it
holds no state and builds its API client inside each call, from the same kubeconfig and context as the
Kubernetes provider. It never waits during preview (create and update do not run there); ``check`` still
validates the inputs. The kubeconfig input is a secret and is left out of the outputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult

from ..cancellation import ENGINE_CANCELLATION, install_engine_cancel_hook
from ..kube import KubeAccess, KubeAccessError, api_client_for
from ..provider_errors import plain_failures
from ..resource_args import ClusterArgs
from .capacity import CapacityReport
from .inputs import (
    NEED_INPUTS,
    PROVIDER_VERSION,
    ROLLOUT_INPUTS,
    SETTING_INPUTS,
    changed_inputs,
    input_problems,
    need_from_inputs,
    normalize_inputs,
    replaced_release,
    wait_settings_from_inputs,
)

__all__ = [
    "OUTPUT_KEYS",
    "PROVIDER_VERSION",
    "GpuCapacityGate",
    "GpuCapacityGateArgs",
    "GpuCapacityGateFailed",
    "GpuCapacityGateProvider",
]

OUTPUT_KEYS = ("placeable_replicas", "waited_seconds", "nodes")
NOT_IN_OUTPUTS = ("kubeconfig", "__provider")


@dataclass
class GpuCapacityGateArgs(ClusterArgs, provider_version=PROVIDER_VERSION):
    """Inputs of ``GpuCapacityGate`` (names as in docs/design.md), as the component passes them: the defaults live in
    components/presets.py and components/config.py. ``kubeconfig`` is always stored as a secret."""

    namespace: pulumi.Input[str]
    release_name: pulumi.Input[str]
    replicas: pulumi.Input[int]
    gpus_per_pod: pulumi.Input[int]
    gpu_resource: pulumi.Input[str]
    node_selector: pulumi.Input[Mapping[str, str]]
    tolerations: pulumi.Input[Sequence[Mapping[str, Any]]]
    timeout_seconds: pulumi.Input[float]
    backoff_initial_seconds: pulumi.Input[float]
    backoff_max_seconds: pulumi.Input[float]
    progress_interval_seconds: pulumi.Input[float]
    allow_node_autoscaling: pulumi.Input[bool]
    node_group_gpus: pulumi.Input[int]
    rollout: pulumi.Input[str]
    surge_pods: pulumi.Input[int]
    release_revision: pulumi.Input[str]


def _node_summary(report: CapacityReport) -> list[dict]:
    return [
        {
            "name": n.name,
            "ready": n.ready,
            "cordoned": n.cordoned,
            "allocatable": n.allocatable,
            "requested": n.requested,
            "free": n.free,
            "excluded_reason": n.excluded_reason or "",
        }
        for n in report.nodes
        if n.matches_selector
    ][:50]


def _outputs(inputs: Mapping[str, Any], results: Mapping[str, Any]) -> dict:
    outs = {k: v for k, v in normalize_inputs(inputs).items() if k not in NOT_IN_OUTPUTS}
    outs.update({key: results.get(key) for key in OUTPUT_KEYS})
    return outs


class GpuCapacityGateFailed(RuntimeError):
    """The gate did not pass; the message says why (timeout table, impossible need, access problem)."""


def _pass_gate(inputs: Mapping[str, Any], replacing: tuple[tuple[str, str], ...] = (), *,
               rolls_out: bool = True) -> dict:
    """Wait for the capacity ``inputs`` ask for; the results as outputs. Raises ``GpuCapacityGateFailed``.

    ``replacing``: (namespace, name) of a release this update deletes first, whose GPUs count as free.
    ``rolls_out`` is False when the release's pods stay as they are (only e.g. the replica count changed): then a
    verified rollout surges no pod.
    """
    from .waiter import GpuCapacityError, wait_for_gpu_capacity  # the kubernetes client only where it waits

    install_engine_cancel_hook()  # Ctrl-C ends the wait (see components/cancellation.py)
    need = replace(need_from_inputs(inputs), replacing=replacing)
    if not rolls_out:
        need = replace(need, surge_pods=0)
    try:
        with api_client_for(KubeAccess.from_inputs(inputs)) as api:
            result = wait_for_gpu_capacity(
                api,
                need,
                on_progress=pulumi.log.info,
                cancellation=ENGINE_CANCELLATION,
                **wait_settings_from_inputs(inputs),
            )
    except (GpuCapacityError, KubeAccessError) as exc:
        # Shown as this message alone (components/provider_errors.py); no chained cause.
        raise GpuCapacityGateFailed(str(exc)) from None
    return {
        "placeable_replicas": result.report.placeable_replicas,
        "waited_seconds": round(result.waited_seconds, 1),
        "nodes": _node_summary(result.report),
    }


@plain_failures(GpuCapacityGateFailed)
class GpuCapacityGateProvider(ResourceProvider):
    """Stateless provider: validate in ``check``, wait in ``create``/``update``, nothing to delete."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        install_engine_cancel_hook()  # before any create/update starts waiting
        failures = [CheckFailure(key, f"{key} {reason}") for key, reason in input_problems(news)]
        return CheckResult(normalize_inputs(news), failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_inputs(olds, news, NEED_INPUTS + SETTING_INPUTS)
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=uuid.uuid4().hex, outs=_outputs(props, _pass_gate(props)))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if changed_inputs(olds, news, NEED_INPUTS):
            rolls_out = bool(changed_inputs(olds, news, ROLLOUT_INPUTS))
            return UpdateResult(outs=_outputs(news, _pass_gate(news, replaced_release(olds, news),
                                                               rolls_out=rolls_out)))
        return UpdateResult(outs=_outputs(news, olds))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to remove: the gate only waited."""


class GpuCapacityGate(pulumi.dynamic.Resource, module="vllm", name="GpuCapacityGate"):
    """Passes once the cluster can place the release's GPU pods; make the Helm release depend on it."""

    placeable_replicas: pulumi.Output[int]
    waited_seconds: pulumi.Output[float]
    nodes: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self, resource_name: str, args: GpuCapacityGateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = args.to_inputs()
        props.update({key: None for key in OUTPUT_KEYS})
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"]))
        super().__init__(GpuCapacityGateProvider(), resource_name, props, opts)
