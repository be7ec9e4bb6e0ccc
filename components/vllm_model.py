"""``VllmModel``: GPU capacity gate -> Helm release of the vLLM chart -> post-deploy verification."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.chart_values import chart_values
from components.config import GPU_RESOURCE, DeploymentConfig, config_warnings
from components.gpu_gate.resource import GpuCapacityGate, GpuCapacityGateArgs
from components.presets import ROLLOUT_SURGE_PODS, VERIFIED_CONDITION
from components.verification.resource import DeploymentVerification, DeploymentVerificationArgs

__all__ = ["VllmModel", "VllmModelArgs", "DEFAULT_CHART_PATH"]

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
    verification: pulumi.Output[dict]
    gpu_wait: pulumi.Output[dict]

    def __init__(self, name: str, args: VllmModelArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm:index:VllmModel", name, None, opts)
        config = args.config
        for warning in config_warnings(config):
            pulumi.log.warn(warning, resource=self)
        kubeconfig = pulumi.Output.secret(config.kubernetes.kubeconfig)
        context = config.kubernetes.context

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
                kubeconfig=kubeconfig,
                context=context,
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
            # Renaming the release replaces it; delete first, or the old pods keep the GPUs the new ones need.
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.gpu_gate],
                                        delete_before_replace=True),
        )

        verify = config.verification
        self.verification_check = DeploymentVerification(
            f"{name}-verification",
            DeploymentVerificationArgs(
                kubeconfig=kubeconfig,
                context=context,
                namespace=self.release.namespace,
                release_name=self.release.name,
                revision=self.release.status.apply(lambda status: status.revision),
                access_mode=verify.access_mode,
                base_url=verify.base_url,
                service_port=8000,
                health_path=verify.health_path,
                ready_path=verify.ready_path,
                completions_path=verify.completions_path,
                served_model_name=config.model.served_model_name,
                prompt=verify.prompt,
                max_tokens=verify.max_tokens,
                warmup_requests=verify.warmup_requests,
                samples=verify.samples,
                p95_limit_seconds=verify.p95_limit_seconds,
                request_timeout_seconds=verify.request_timeout_seconds,
                pod_ready_timeout_seconds=verify.pod_ready_timeout_seconds,
                unreachable_retry_seconds=verify.unreachable_retry_seconds,
                image_pull_grace_seconds=verify.image_pull_grace_seconds,
                ready_grace_seconds=verify.ready_grace_seconds,
                api_key_secret_name=config.model.api_key_secret_name,
                api_key_secret_key=config.model.api_key_secret_key,
                rollout=config.release.rollout,
                verified_condition=VERIFIED_CONDITION,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )

        self.release_name = self.release.name
        self.namespace = self.release.namespace
        self.revision = self.release.status.apply(lambda status: status.revision)
        self.endpoint = pulumi.Output.concat(self.release.name, ".", self.release.namespace, ".svc.cluster.local:8000")
        check = self.verification_check
        self.verification = pulumi.Output.all(
            passed=check.passed, checks=check.summary, p50_seconds=check.p50_seconds, p95_seconds=check.p95_seconds,
            max_seconds=check.max_seconds, n=check.n, verified_at=check.verified_at,
            verified_revision=check.verified_revision,
        )
        self.gpu_wait = pulumi.Output.all(
            placeable_replicas=self.gpu_gate.placeable_replicas, waited_seconds=self.gpu_gate.waited_seconds)
        self.register_outputs({
            "release_name": self.release_name,
            "namespace": self.namespace,
            "revision": self.revision,
            "endpoint": self.endpoint,
            "verification": self.verification,
            "gpu_wait": self.gpu_wait,
        })

