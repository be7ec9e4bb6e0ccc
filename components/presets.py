"""Model-size presets and environment profiles: the defaults a stack starts from (pure data, no I/O).

A size is a preset, not a label: it sets GPUs, memory, CPU, tensor parallelism, /dev/shm and the startup
budget for model loading. An environment profile sets how long `pulumi up` waits and how strict Helm is:
development iterates fast with shorter timeouts and updates by recreating its pods; staging mirrors production;
production gives large models longer to load. Staging and production update with the verified rollout: the
previous revision serves until each new pod has passed the verification.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ROLLOUT_MODES",
    "ROLLOUT_RECREATE",
    "ROLLOUT_SURGE_PODS",
    "ROLLOUT_VERIFIED",
    "RolloutSetting",
    "VERIFIED_CONDITION",
    "SizePreset",
    "EnvironmentProfile",
    "SIZE_PRESETS",
    "ENVIRONMENT_PROFILES",
    "MODEL_SIZES",
    "ENVIRONMENTS",
    "VERIFICATION_ACCESS_MODES",
    "IMAGE_PULL_GRACE_SECONDS",
    "READY_GRACE_SECONDS",
    "UNSCHEDULABLE_GRACE_SECONDS",
    "NODE_PROVISIONING_GRACE_SECONDS",
    "VERIFICATION_DEFAULTS",
    "GPU_RESOURCE",
    "GPU_NODE_SELECTOR",
    "GPU_TOLERATION",
    "GPU_WAIT_TIMEOUT_SECONDS",
    "GPU_WAIT_BACKOFF_INITIAL_SECONDS",
    "GPU_WAIT_BACKOFF_MAX_SECONDS",
    "GPU_WAIT_PROGRESS_INTERVAL_SECONDS",
    "SERVICE_PORT",
    "service_host",
    "service_url",
]


SERVICE_PORT = 8000
"""The chart's Service port (values.yaml ``service.port``; a unit test keeps the two equal), vLLM's container port."""


def service_host(release_name: str, namespace: str, port: int = SERVICE_PORT) -> str:
    """The release's in-cluster Service endpoint ``<release>.<namespace>.svc.cluster.local:<port>``."""
    return f"{release_name}.{namespace}.svc.cluster.local:{port}"


def service_url(release_name: str, namespace: str, port: int = SERVICE_PORT) -> str:
    """The same endpoint as an http:// URL (the direct access mode's default, the registry's ``endpoint``)."""
    return f"http://{service_host(release_name, namespace, port)}"


GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource a pod requests its GPUs as (the NVIDIA device plugin's)."""
GPU_NODE_SELECTOR = {"node-type": "gpu"}
"""Where GPU pods run by default (scheduling.nodeSelector); copy before changing."""
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
"""The default toleration: GPU nodes are tainted nvidia.com/gpu:NoSchedule (the chart's values.yaml repeats it;
a unit test keeps the two equal)."""
GPU_WAIT_TIMEOUT_SECONDS = 30 * 60
"""How long the gate waits for GPUs (staging and production; development waits 10 min)."""
GPU_WAIT_BACKOFF_INITIAL_SECONDS = 1.0
"""gpuWait.initialBackoffSeconds: the first re-check delay after an API error."""
GPU_WAIT_BACKOFF_MAX_SECONDS = 30.0
"""gpuWait.maxBackoffSeconds: the longest re-check delay after API errors."""
GPU_WAIT_PROGRESS_INTERVAL_SECONDS = 30.0
"""gpuWait.progressIntervalSeconds: how often a waiting gate prints what it awaits (at most 30)."""

ROLLOUT_VERIFIED = "verified"
"""Update with a surge pod that gets traffic only once the verification has passed on that pod."""
ROLLOUT_RECREATE = "recreate"
"""Update by deleting the serving pods first: no spare GPU needed, the model is down while the new one loads."""
ROLLOUT_MODES = (ROLLOUT_VERIFIED, ROLLOUT_RECREATE)


class RolloutSetting:
    """Mixin of the settings dataclasses that carry a ``rollout`` field (stack config, GPU need, verification)."""

    rollout: str

    @property
    def verified_rollout(self) -> bool:
        return self.rollout == ROLLOUT_VERIFIED


ROLLOUT_SURGE_PODS = 1
"""Extra pods a verified rollout runs at once (the Deployment's maxSurge): one pod's GPUs must be spare."""
VERIFIED_CONDITION = "vllm.deploy/verified"
"""The pod readiness gate's condition type; the verification sets it True on each pod that passed."""


@dataclass(frozen=True)
class SizePreset:
    """Defaults for one model size."""

    gpus: int
    memory: str
    cpu: str
    tensor_parallel_size: int
    shm_size: str
    max_model_len: int
    startup_budget_seconds: int
    """How long model loading may take before the pod is considered broken (startup probe budget)."""


@dataclass(frozen=True)
class EnvironmentProfile:
    """How one environment waits and rolls out."""

    startup_budget_factor: float
    """Multiplier on the size's startup budget (production gives large models longer)."""
    helm_timeout_margin_seconds: int
    """Helm waits for the startup budget plus this margin."""
    gpu_wait_timeout_seconds: int
    atomic: bool
    """Whether Helm releases are atomic by default (only where Helm waits: the recreate rollout)."""
    replicas: int
    monitoring: bool = False
    """ServiceMonitor and PrometheusRule on by default (the cluster needs the Prometheus Operator's CRDs)."""
    registry_enabled: bool = False
    """Whether `pulumi up` registers the verified model in model_registry_entries (registry.enabled)."""
    rollout: str = ROLLOUT_RECREATE
    """ROLLOUT_VERIFIED (no update takes the serving model down) or ROLLOUT_RECREATE (needs no spare GPU)."""


SIZE_PRESETS: dict[str, SizePreset] = {
    "small": SizePreset(
        gpus=1, memory="32Gi", cpu="8", tensor_parallel_size=1, shm_size="8Gi",
        max_model_len=4096, startup_budget_seconds=1200,
    ),
    "medium": SizePreset(
        gpus=2, memory="96Gi", cpu="16", tensor_parallel_size=2, shm_size="16Gi",
        max_model_len=8192, startup_budget_seconds=2400,
    ),
    "large": SizePreset(
        gpus=4, memory="256Gi", cpu="32", tensor_parallel_size=4, shm_size="32Gi",
        max_model_len=8192, startup_budget_seconds=3600,
    ),
}

ENVIRONMENT_PROFILES: dict[str, EnvironmentProfile] = {
    "development": EnvironmentProfile(
        startup_budget_factor=1.0, helm_timeout_margin_seconds=300,
        gpu_wait_timeout_seconds=10 * 60, atomic=False, replicas=1, rollout=ROLLOUT_RECREATE,
    ),
    "staging": EnvironmentProfile(
        startup_budget_factor=1.5, helm_timeout_margin_seconds=900,
        gpu_wait_timeout_seconds=GPU_WAIT_TIMEOUT_SECONDS, atomic=True, replicas=1, monitoring=True,
        registry_enabled=True,
        rollout=ROLLOUT_VERIFIED,
    ),
    "production": EnvironmentProfile(
        startup_budget_factor=1.5, helm_timeout_margin_seconds=900,
        gpu_wait_timeout_seconds=GPU_WAIT_TIMEOUT_SECONDS, atomic=True, replicas=2, monitoring=True,
        registry_enabled=True,
        rollout=ROLLOUT_VERIFIED,
    ),
}

MODEL_SIZES = tuple(SIZE_PRESETS)
ENVIRONMENTS = tuple(ENVIRONMENT_PROFILES)

# Post-deploy verification defaults, shared by the stack config (components/config.py) and the inputs of
# DeploymentVerification (components/verification/settings.py).
VERIFICATION_ACCESS_MODES = ("port-forward", "direct", "service-proxy")
IMAGE_PULL_GRACE_SECONDS = 120.0
"""How long ErrImagePull/ImagePullBackOff may persist (without an error that proves retrying cannot help)."""
READY_GRACE_SECONDS = 60.0
"""How long a pod may answer /health 200 but /ready non-200 before the verification fails with /ready's body."""
UNSCHEDULABLE_GRACE_SECONDS = 90.0
"""How long a pod may stay Unschedulable: covers a replaced release's pods terminating (the chart's
terminationGracePeriodSeconds is 60) after a rename or a namespace move."""
NODE_PROVISIONING_GRACE_SECONDS = 600.0
"""The same with scheduling.allowNodeAutoscaling: a cloud GPU node takes minutes to join after the pods go Pending."""

VERIFICATION_DEFAULTS: dict = {
    "health_path": "/health",
    "ready_path": "/ready",
    "completions_path": "/v1/chat/completions",
    "prompt": "Say hello in one short sentence.",
    "max_tokens": 16,
    "warmup_requests": 2,
    "samples": 20,
    "p95_limit_seconds": 3.0,
    "request_timeout_seconds": 30.0,
    "unreachable_retry_seconds": 120.0,
    "api_key_secret_key": "api-key",
}
"""The verification settings' defaults, by the DeploymentVerification input names (the stack config's keys are
their camelCase forms: verification.samples, model.apiKeySecret.key, ...)."""
