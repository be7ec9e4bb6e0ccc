"""``VllmModel``: GPU capacity gate -> Helm release of the vLLM chart -> post-deploy verification."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart_values import chart_values
from components.config import DeploymentConfig, config_warnings
from components.deployed import chart_digest, deployed_record
from components.drift.resource import ReleaseDrift, ReleaseDriftArgs
from components.gpu_gate.resource import GpuCapacityGate, GpuCapacityGateArgs
from components.presets import GPU_RESOURCE, ROLLOUT_SURGE_PODS, SERVICE_PORT, VERIFIED_CONDITION, service_host
from components.registry.connection import missing_connection_problem
from components.registry.resource import ModelRegistryEntry, ModelRegistryEntryArgs
from components.verification.init_time import initialization_warning
from components.verification.resource import DeploymentVerification, DeploymentVerificationArgs

__all__ = ["VllmModel", "VllmModelArgs", "DEFAULT_CHART_PATH", "COMPONENT_NAME"]

COMPONENT_NAME = "vllm"
"""The component's Pulumi name, and so its children's (``vllm-release``, ...): fixed, not the release name.

Renaming the release or moving its namespace is then an update of the same resources: the gate learns the
previous release from its old inputs and counts its GPUs as free, and the Helm release is replaced, deleted
before its replacement. Named after the release, a rename made new resources and deleted the old ones only
at the end of the update, so the old pods held their GPUs while the new ones waited for them.
"""

# Relative to the project directory (Pulumi runs the program there), so state does not depend on the clone's path.
DEFAULT_CHART_PATH = "./charts/vllm-deployment"


@dataclass
class VllmModelArgs:
    """What to deploy (validated stack config) and where the chart is."""

    config: DeploymentConfig
    chart_path: str = DEFAULT_CHART_PATH


# Chart values that never change the pod template (an update of only these rolls out no new pod).
_VALUES_NOT_IN_PODS = ("replicaCount", "podDisruptionBudget", "serviceMonitor", "grafanaDashboard", "tests")


def release_fingerprint(values: dict) -> str:
    """A digest of the chart values: changes whenever an update rolls out new pods (the gate's surge need)."""
    import hashlib
    import json

    rolled = {k: v for k, v in values.items() if k not in _VALUES_NOT_IN_PODS}
    return hashlib.sha256(json.dumps(rolled, sort_keys=True, default=str).encode()).hexdigest()[:16]


class VllmModel(pulumi.ComponentResource):
    """A vLLM model served from GPU nodes, deployed only when capacity exists and done only once it serves."""

    release_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    revision: pulumi.Output[int]
    endpoint: pulumi.Output[str]
    verification: pulumi.Output[dict[str, Any]]
    gpu_wait: pulumi.Output[dict[str, Any]]
    initialization_seconds: pulumi.Output[float | None]
    registry: pulumi.Output[dict[str, Any] | None]
    deployed: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: VllmModelArgs, opts: pulumi.ResourceOptions | None = None):
        config = args.config
        if name != config.release.name:  # stacks deployed when the component was named after the release
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                aliases=[pulumi.Alias(name=config.release.name)]))
        super().__init__("vllm:index:VllmModel", name, None, opts)
        for warning in config_warnings(config):
            pulumi.log.warn(warning, resource=self)
        kubeconfig = pulumi.Output.secret(config.kubernetes.kubeconfig)
        context = config.kubernetes.context
        # How the gate, the verification and the drift check reach the cluster: as the Kubernetes provider does.
        cluster = {"kubeconfig": kubeconfig, "context": context}

        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig if config.kubernetes.kubeconfig else None,
            context=context or None,
            cluster_identifier=context or "default",
            opts=pulumi.ResourceOptions(parent=self),
        )

        values = chart_values(config)
        self.gpu_gate = GpuCapacityGate(
            f"{name}-gpu-capacity",
            GpuCapacityGateArgs(
                **cluster,
                namespace=config.release.namespace,
                release_name=config.release.name,
                replicas=config.release.replicas,
                gpus_per_pod=config.resources.gpus,
                gpu_resource=GPU_RESOURCE,
                node_selector=dict(config.scheduling.node_selector),
                tolerations=[dict(t) for t in config.scheduling.tolerations],
                timeout_seconds=config.gpu_wait.timeout_seconds,
                backoff_initial_seconds=config.gpu_wait.initial_backoff_seconds,
                backoff_max_seconds=config.gpu_wait.max_backoff_seconds,
                progress_interval_seconds=config.gpu_wait.progress_interval_seconds,
                allow_node_autoscaling=config.scheduling.allow_node_autoscaling,
                node_group_gpus=config.scheduling.node_group_gpus,
                rollout=config.release.rollout,
                surge_pods=ROLLOUT_SURGE_PODS,
                release_revision=release_fingerprint(values),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                name=config.release.name,
                chart=args.chart_path,
                namespace=config.release.namespace,
                create_namespace=config.release.create_namespace,
                atomic=config.release.atomic,
                cleanup_on_fail=config.release.atomic,
                skip_await=not config.release.helm_wait,
                timeout=config.release.timeout_seconds,
                max_history=config.release.max_history,
                values=values,
            ),
            # Renaming the release or moving its namespace replaces it; delete first, or the old pods keep the GPUs
            # the new ones need (the gate counts the old release's GPUs as free: components/gpu_gate/inputs.py).
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.gpu_gate],
                                        delete_before_replace=True),
        )

        self.release_name = self.release.name
        self.namespace = self.release.namespace
        self.revision = self.release.status.apply(lambda status: status.revision)
        # The release the checks after it look at, as its outputs: each check depends on the release.
        released = {**cluster, "namespace": self.namespace, "release_name": self.release_name,
                    "revision": self.revision}

        self.verification_check = DeploymentVerification(
            f"{name}-verification",
            DeploymentVerificationArgs(
                **released,
                **asdict(config.verification),  # every verification.* setting is an input of the same name
                service_port=SERVICE_PORT,
                served_model_name=config.model.served_model_name,
                api_key_secret_name=config.model.api_key_secret_name,
                api_key_secret_key=config.model.api_key_secret_key,
                rollout=config.release.rollout,
                verified_condition=VERIFIED_CONDITION,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )

        self.registry_entry = self._register(name, config) if config.registry.enabled else None
        # helm.v3.Release's refresh reads only Helm's record: this child makes `preview --refresh` see hand edits.
        self.drift_check = ReleaseDrift(
            f"{name}-drift",
            ReleaseDriftArgs(**released),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )

        self.endpoint = pulumi.Output.all(self.release_name, self.namespace).apply(
            lambda names: service_host(*names))
        check = self.verification_check
        # Slowest verified pod, creation -> Ready (and scheduling -> Ready); warns above the share of the budget
        # at which the PrometheusRule's VllmModelInitializationSlow fires.
        self.initialization_seconds = check.initialization.apply(lambda i: (i or {}).get("max_seconds"))
        budget, ratio = config.model.startup_budget_seconds, config.observability.initialization_warn_ratio
        self.initialization_seconds.apply(lambda seconds: self._warn_slow_start(seconds, budget, ratio))
        self.verification = pulumi.Output.all(
            passed=check.passed, checks=check.summary, p50_seconds=check.p50_seconds, p95_seconds=check.p95_seconds,
            max_seconds=check.max_seconds, n=check.n, verified_at=check.verified_at,
            verified_revision=check.verified_revision, initialization_seconds=self.initialization_seconds,
            initialization_from_scheduled_seconds=check.initialization.apply(
                lambda i: (i or {}).get("max_from_scheduled_seconds")),
        )
        self.gpu_wait = pulumi.Output.all(
            placeable_replicas=self.gpu_gate.placeable_replicas, waited_seconds=self.gpu_gate.waited_seconds)
        entry = self.registry_entry
        self.registry = pulumi.Output.from_input(None) if entry is None else pulumi.Output.all(
            entry_id=entry.entry_id, status=entry.status, endpoint=entry.endpoint, updated_at=entry.updated_at,
            database=entry.database, schema_version=entry.schema_version)
        digest = chart_digest(args.chart_path)
        self.deployed = self.release.status.apply(lambda status: deployed_record(
            config, chart_digest=digest, release_status={
                "chart": status.chart, "version": status.version, "app_version": status.app_version,
                "revision": status.revision}))
        self.register_outputs({
            "release_name": self.release_name,
            "namespace": self.namespace,
            "revision": self.revision,
            "endpoint": self.endpoint,
            "verification": self.verification,
            "gpu_wait": self.gpu_wait,
            "initialization_seconds": self.initialization_seconds,
            "registry": self.registry,
            "deployed": self.deployed,
        })

    def _warn_slow_start(self, seconds: float | None, budget: float, ratio: float) -> None:
        message = initialization_warning(seconds, budget, ratio)
        if message:
            pulumi.log.warn(message, resource=self)

    def _register(self, name: str, config: DeploymentConfig) -> ModelRegistryEntry:
        """The verified model's row in model_registry_entries: written only after the verification passed."""
        registry, check = config.registry, self.verification_check
        # Model initialization time: the slowest verified pod's, from the verification's `initialization` output.
        init_seconds = check.initialization.apply(lambda measured: (measured or {}).get("max_seconds"))
        missing = missing_connection_problem(registry.database_url, os.environ)
        if missing:  # a preview in CI may lack the database: warn here, fail (clearly) only at registration
            pulumi.log.warn(f"vllm-deploy:registry: {missing}", resource=self)
        return ModelRegistryEntry(
            f"{name}-registry",
            ModelRegistryEntryArgs(
                database_url=pulumi.Output.secret(registry.database_url),
                environment=config.environment,
                served_model_name=config.model.served_model_name,
                model_path=config.model.path,
                stack=f"{pulumi.get_project()}/{pulumi.get_stack()}",
                namespace=self.namespace,
                release_name=self.release_name,
                service_port=SERVICE_PORT,
                api_path=config.verification.completions_path,
                image=config.image.reference,
                chart_version=self.release.status.apply(lambda status: status.version),
                helm_revision=check.verified_revision,
                gpus_per_pod=config.resources.gpus,
                replicas=config.release.replicas,
                max_model_len=config.model.max_model_len or None,
                verified_at=check.verified_at,
                p50_seconds=check.p50_seconds,
                p95_seconds=check.p95_seconds,
                model_init_seconds=init_seconds,
                routing_enabled=registry.routing,
                on_destroy=registry.on_destroy,
                connect_timeout_seconds=registry.connect_timeout_seconds,
                retry_timeout_seconds=registry.retry_timeout_seconds,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[check]),
        )

