"""Stack configuration -> a validated, typed ``DeploymentConfig`` (pure, no I/O).

Every problem is collected and reported at once; each names the config key, the bad value and what is
allowed, so `pulumi preview` fails before anything in the cluster changes. Keys live in the project's
namespace (``vllm-deploy:<section>``), as structured objects in ``Pulumi.<stack>.yaml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from components.extra_args import extra_args_problems, shown_arg
from components.kube_names import is_dns_label, is_label_key, is_label_value
from components.presets import (
    ENVIRONMENT_PROFILES,
    ENVIRONMENTS,
    GPU_NODE_SELECTOR,
    GPU_RESOURCE,
    GPU_TOLERATION,
    GPU_WAIT_BACKOFF_INITIAL_SECONDS,
    GPU_WAIT_BACKOFF_MAX_SECONDS,
    GPU_WAIT_PROGRESS_INTERVAL_SECONDS,
    IMAGE_PULL_GRACE_SECONDS,
    MODEL_SIZES,
    NODE_PROVISIONING_GRACE_SECONDS,
    READY_GRACE_SECONDS,
    ROLLOUT_MODES,
    ROLLOUT_SURGE_PODS,
    ROLLOUT_VERIFIED,
    SIZE_PRESETS,
    UNSCHEDULABLE_GRACE_SECONDS,
    VERIFICATION_ACCESS_MODES,
    VERIFICATION_DEFAULTS,
    RolloutSetting,
    service_host,
    service_url,
)
from components.quantity import QuantityError, parse_quantity, plain_number
from components.tolerations import toleration_problems

__all__ = [
    "NAMESPACE",
    "GPU_RESOURCE",
    "ConfigError",
    "DeploymentConfig",
    "ModelSettings",
    "ReleaseSettings",
    "ImageSettings",
    "ResourceSettings",
    "SchedulingSettings",
    "StorageSettings",
    "GpuWaitSettings",
    "VerificationConfig",
    "KubernetesSettings",
    "ObservabilitySettings",
    "ALERT_DEFAULTS",
    "RegistryConfig",
    "REGISTRY_ON_DESTROY",
    "REGISTRY_CONNECT_TIMEOUT_SECONDS",
    "REGISTRY_RETRY_TIMEOUT_SECONDS",
    "config_warnings",
    "validate_config",
]

NAMESPACE = "vllm-deploy"
_IMAGE_REPOSITORY = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
_PULL_POLICIES = ("IfNotPresent", "Always", "Never")
_GIBIBYTE = 2**30
_SECRET_FIELDS = ("kubeconfig", "databaseUrl")
REGISTRY_ON_DESTROY = ("retire", "delete")
"""registry.onDestroy: keep the row as history with status retired (default), or delete it."""
REGISTRY_CONNECT_TIMEOUT_SECONDS = 5.0
REGISTRY_RETRY_TIMEOUT_SECONDS = 60.0


class ConfigError(ValueError):
    """Invalid stack configuration; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid stack configuration ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class ModelSettings:
    path: str
    size: str
    served_model_name: str
    max_model_len: int
    gpu_memory_utilization: float
    tensor_parallel_size: int
    dtype: str
    extra_args: tuple[str, ...]
    startup_budget_seconds: int
    hf_token_secret_name: str
    hf_token_secret_key: str
    api_key_secret_name: str
    api_key_secret_key: str


@dataclass(frozen=True)
class ReleaseSettings(RolloutSetting):
    name: str
    namespace: str
    create_namespace: bool
    replicas: int
    atomic: bool
    helm_wait: bool
    timeout_seconds: int
    max_history: int
    rollout: str = ROLLOUT_VERIFIED
    """How an update replaces the pods: presets.ROLLOUT_VERIFIED or presets.ROLLOUT_RECREATE."""
    pod_annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSettings:
    repository: str
    tag: str
    pull_policy: str

    @property
    def reference(self) -> str:
        separator = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.repository}{separator}{self.tag}"


@dataclass(frozen=True)
class ResourceSettings:
    gpus: int
    memory_limit: str
    cpu_limit: str
    memory_request: str
    cpu_request: str


@dataclass(frozen=True)
class SchedulingSettings:
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...]
    runtime_class_name: str
    allow_node_autoscaling: bool
    node_group_gpus: int = 0
    """GPUs of a node the autoscaler adds for the node selector (0: not declared); see README "Failure modes"."""


@dataclass(frozen=True)
class StorageSettings:
    shm_size_limit: str
    persistent_cache: bool
    cache_size: str
    cache_storage_class: str
    cache_existing_claim: str


@dataclass(frozen=True)
class GpuWaitSettings:
    timeout_seconds: int
    initial_backoff_seconds: float
    max_backoff_seconds: float
    progress_interval_seconds: float


@dataclass(frozen=True)
class VerificationConfig:
    """verification.*: each field is the DeploymentVerification input of the same name (VllmModel passes them all);
    the defaults are ``_read_verification``'s."""

    access_mode: str
    base_url: str
    health_path: str
    ready_path: str
    completions_path: str
    p95_limit_seconds: float
    samples: int
    warmup_requests: int
    max_tokens: int
    prompt: str
    request_timeout_seconds: float
    pod_ready_timeout_seconds: int
    unreachable_retry_seconds: float
    image_pull_grace_seconds: float
    ready_grace_seconds: float
    unschedulable_grace_seconds: float


@dataclass(frozen=True)
class KubernetesSettings:
    kubeconfig: str = field(repr=False)
    context: str


@dataclass(frozen=True)
class ObservabilitySettings:
    """Prometheus Operator objects in the chart and the alert thresholds (see ``ALERT_DEFAULTS``)."""

    service_monitor: bool
    grafana_dashboard: bool
    prometheus_rule: bool
    rule_labels: dict[str, str]
    latency_p95_seconds: float
    ttft_p95_seconds: float
    waiting_requests: float
    kv_cache_usage: float
    container_restarts: int
    initialization_warn_ratio: float

    def alert_thresholds(self) -> dict[str, float]:
        """The chart's ``prometheusRule.thresholds`` (keys match values.yaml; the chart applies the
        initialization ratio to its ``startup.budgetSeconds``)."""
        return {
            "latencyP95Seconds": self.latency_p95_seconds,
            "ttftP95Seconds": self.ttft_p95_seconds,
            "waitingRequests": self.waiting_requests,
            "kvCacheUsage": self.kv_cache_usage,
            "containerRestarts": self.container_restarts,
            "initializationWarnRatio": self.initialization_warn_ratio,
        }


@dataclass(frozen=True)
class RegistryConfig:
    """registry.*: whether and where `pulumi up` registers the verified model (model_registry_entries)."""

    enabled: bool
    database_url: str = field(repr=False)
    routing: bool
    on_destroy: str
    connect_timeout_seconds: float
    retry_timeout_seconds: float


@dataclass(frozen=True)
class DeploymentConfig:
    environment: str
    model: ModelSettings
    release: ReleaseSettings
    image: ImageSettings
    resources: ResourceSettings
    scheduling: SchedulingSettings
    storage: StorageSettings
    gpu_wait: GpuWaitSettings
    verification: VerificationConfig
    kubernetes: KubernetesSettings
    observability: ObservabilitySettings
    registry: RegistryConfig

    @property
    def endpoint(self) -> str:
        """The in-cluster service endpoint, as the workflow's checklist names it."""
        return service_host(self.release.name, self.release.namespace)


_MISSING = object()


class _Problems:
    """Collects problems; every reader records instead of raising."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, value: Any, allowed: str) -> None:
        if value is _MISSING:
            shown = "(missing)"
        elif key.split(".")[-1] in _SECRET_FIELDS:
            shown = "(secret value hidden)"
        else:
            shown = repr(value)
        self.items.append(f"{NAMESPACE}:{key}: {shown} is not valid; {allowed}")


class _Section:
    """Reads typed values from one config object, recording unknown keys and bad values."""

    def __init__(self, problems: _Problems, key: str, raw: Any, known: tuple[str, ...]):
        self.problems, self.key = problems, key
        if raw is None or raw is _MISSING:
            raw = {}
        if not isinstance(raw, Mapping):
            problems.add(key, raw, "expected an object with keys " + ", ".join(known))
            raw = {}
        self.raw = raw
        for name in raw:
            if name not in known:
                hint = _closest(name, known)
                allowed = (f"unknown key; did you mean {hint!r}?" if hint
                           else "unknown key; allowed keys: " + ", ".join(known))
                problems.items.append(f"{NAMESPACE}:{key}.{name}: {allowed}")

    def _get(self, name: str, default: Any) -> tuple[str, Any]:
        return f"{self.key}.{name}", self.raw.get(name, default)

    def text(self, name: str, default: Any = _MISSING, *, check: Callable[[str], bool] | None = None,
             allowed: str = "expected a non-empty string") -> str:
        key, value = self._get(name, default)
        if not isinstance(value, str) or (default is _MISSING and not value.strip()) or (check and not check(value)):
            self.problems.add(key, value, allowed)
            return "" if not isinstance(default, str) else default
        return value

    def choice(self, name: str, options: tuple[str, ...], default: Any = _MISSING) -> str:
        key, value = self._get(name, default)
        if value not in options:
            self.problems.add(key, value, "allowed: " + ", ".join(options))
            return options[0]
        return value

    def flag(self, name: str, default: bool) -> bool:
        key, value = self._get(name, default)
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            self.problems.add(key, value, "expected true or false")
            return default
        return value

    def integer(self, name: str, default: Any, *, minimum: int, maximum: int | None = None) -> int:
        key, value = self._get(name, default)
        number = plain_number(value)
        bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        if number is None or not number.is_integer() or number < minimum or (maximum is not None and number > maximum):
            self.problems.add(key, value, f"expected a whole number {bounds}{_digits_hint(value)}")
            return minimum
        return int(number)

    def number(self, name: str, default: Any, *, above: float, maximum: float | None = None) -> float:
        key, value = self._get(name, default)
        number = plain_number(value)
        bounds = f"> {above:g}" + (f" and <= {maximum:g}" if maximum is not None else "")
        if number is None or number <= above or (maximum is not None and number > maximum):
            self.problems.add(key, value, f"expected a number {bounds}{_digits_hint(value)}")
            return above + 1
        return number

    def quantity(self, name: str, default: Any = _MISSING, *, in_bytes: bool = False) -> str:
        """A positive quantity; ``in_bytes``: a size in bytes, where a bare number below 1Gi is a missing unit."""
        key, value = self._get(name, default)
        try:
            if value is _MISSING or parse_quantity(value) <= 0:
                raise QuantityError(str(value))
        except QuantityError:
            self.problems.add(key, value, "expected a positive Kubernetes quantity such as 32Gi, 512Mi, 8 or 500m "
                                          "(binary suffixes Ki/Mi/Gi/Ti, decimal k/M/G/T; "
                                          "'GB'/'MB' are not quantities)")
            return "1Gi" if in_bytes else "1"  # already reported: a placeholder that adds no second problem
        if in_bytes and _is_bare_number(value) and parse_quantity(value) < _GIBIBYTE:
            self.problems.add(key, value, f"a bare number is bytes, and {value} bytes cannot hold a model server; "
                                          f"did you mean {_plain(value)}Gi? (sizes need a unit: Gi, Mi, ...; "
                                          "a bare number is allowed only from 1Gi = 1073741824 bytes)")
            return f"{_plain(value)}Gi"
        return str(value)

    def mapping_of_text(self, name: str, default: dict[str, str]) -> dict[str, str]:
        key, value = self._get(name, default)
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            self.problems.add(key, value, "expected an object of string keys to string values")
            return dict(default)
        return dict(value)

    def list_of_text(self, name: str, default: list[str]) -> tuple[str, ...]:
        key, value = self._get(name, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problems.add(key, value, "expected a list of strings")
            return tuple(default)
        return tuple(value)

    def section(self, name: str, known: tuple[str, ...]) -> _Section:
        return _Section(self.problems, f"{self.key}.{name}", self.raw.get(name), known)


def _is_bare_number(value: Any) -> bool:
    """A quantity without a suffix (``32``, ``"32"``, ``32.5``, ``"1e3"``): Kubernetes reads it as bytes for sizes."""
    return plain_number(value) is not None


def _plain(value: Any) -> str:
    number = plain_number(value) or 0
    return f"{number:g}"


def _digits_hint(value: Any) -> str:
    """For a number written with other digits than 0-9 (e.g. full-width "３"), which looks right but is not."""
    if isinstance(value, str) and any(c.isdigit() and not c.isascii() for c in value):
        return " (written with the digits 0-9)"
    return ""


def _closest(name: str, known: tuple[str, ...]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return matches[0] if matches else None


SECTIONS = {
    "environment": (),
    "model": ("path", "size", "servedModelName", "maxModelLen", "gpuMemoryUtilization", "tensorParallelSize",
              "dtype", "extraArgs", "startupBudgetSeconds", "hfTokenSecret", "apiKeySecret"),
    "release": ("name", "namespace", "createNamespace", "replicas", "atomic", "helmWait", "timeoutSeconds",
                "maxHistory", "rollout", "podAnnotations"),
    "image": ("repository", "tag", "pullPolicy"),
    "resources": ("limits", "requests"),
    "scheduling": ("nodeSelector", "tolerations", "runtimeClassName", "allowNodeAutoscaling", "nodeGroupGpus"),
    "storage": ("shmSizeLimit", "persistentCache", "cacheSize", "cacheStorageClass", "cacheExistingClaim"),
    "gpuWait": ("timeoutMinutes", "initialBackoffSeconds", "maxBackoffSeconds", "progressIntervalSeconds"),
    "verification": ("accessMode", "baseUrl", "healthPath", "readyPath", "completionsPath", "p95LimitSeconds",
                     "samples", "warmupRequests", "maxTokens", "prompt", "requestTimeoutSeconds",
                     "podReadyTimeoutSeconds", "unreachableRetrySeconds", "imagePullGraceSeconds",
                     "readyGraceSeconds", "unschedulableGraceSeconds"),
    "kubernetes": ("kubeconfig", "context"),
    "observability": ("serviceMonitor", "grafanaDashboard", "prometheusRule", "ruleLabels", "latencyP95Seconds",
                      "ttftP95Seconds", "waitingRequests", "kvCacheUsage", "containerRestarts",
                      "initializationWarnRatio"),
    "registry": ("enabled", "databaseUrl", "routing", "onDestroy", "connectTimeoutSeconds", "retryTimeoutSeconds"),
}

DEFAULT_TOLERATIONS = (dict(GPU_TOLERATION),)
# Alert thresholds of the chart's PrometheusRule (the chart's values.yaml repeats them; a unit test keeps the two
# equal). The completion-latency p95 threshold has no entry: it defaults to the stack's verification.p95LimitSeconds.
ALERT_DEFAULTS: dict[str, float] = {
    "ttftP95Seconds": 2.0,  # time to first token, p95 over 5 min
    "waitingRequests": 10,  # requests queued (vllm:num_requests_waiting), averaged over 5 min
    "kvCacheUsage": 0.9,  # fraction of the KV cache in use (vllm:kv_cache_usage_perc, 0..1)
    "containerRestarts": 1,  # container restarts within 15 min
    "initializationWarnRatio": 0.8,  # a pod not Ready after this share of its startup budget
}


def validate_config(raw: Mapping[str, Any]) -> DeploymentConfig:
    """Validate the project's config keys (section name -> parsed value); raise ``ConfigError`` listing all problems."""
    problems = _Problems()
    for name in raw:
        if name not in SECTIONS:
            hint = _closest(name, tuple(SECTIONS))
            allowed = (f"unknown key; did you mean {hint!r}?" if hint
                       else "unknown key; allowed keys: " + ", ".join(SECTIONS))
            problems.items.append(f"{NAMESPACE}:{name}: {allowed}")

    environment = raw.get("environment", _MISSING)
    if environment not in ENVIRONMENTS:
        problems.add("environment", environment, "allowed: " + ", ".join(ENVIRONMENTS))
        environment = "development"
    profile = ENVIRONMENT_PROFILES[environment]

    model_in = _Section(problems, "model", raw.get("model", _MISSING), SECTIONS["model"])
    size = model_in.choice("size", MODEL_SIZES)
    preset = SIZE_PRESETS[size]

    release_in = _Section(problems, "release", raw.get("release", _MISSING), SECTIONS["release"])
    release_name = release_in.text("name", check=_is_release_name,
                                   allowed="expected a DNS-1123 label of at most 53 characters (Helm's limit), "
                                           "e.g. llama-7b-development")
    namespace = release_in.text("namespace", check=is_dns_label,
                                allowed="expected a DNS-1123 label of at most 63 characters, e.g. system")

    resources = _read_resources(problems, raw.get("resources"), preset)
    model = _read_model(model_in, size, preset, profile, resources.gpus, release_name)
    rollout = release_in.choice("rollout", ROLLOUT_MODES, profile.rollout)
    verified = rollout == ROLLOUT_VERIFIED
    # In the verified rollout the new pods become Ready only once the verification (which runs after the Helm
    # release) has passed on them: a Helm wait -- and so an atomic release -- would deadlock.
    helm_wait = release_in.flag("helmWait", profile.atomic and not verified)
    atomic = release_in.flag("atomic", profile.atomic and not verified)
    if verified and (helm_wait or atomic):
        key, value = ("release.helmWait", helm_wait) if helm_wait else ("release.atomic", atomic)
        problems.add(key, value, "the verified rollout needs Helm not to wait (its pods become Ready only once the "
                                 "verification has passed on them, so a Helm wait would deadlock); remove "
                                 f"{key.split('.')[1]} or set release.rollout: recreate")
    elif atomic and not helm_wait:
        problems.add("release.helmWait", False,
                     "atomic releases need Helm to wait; set helmWait: true or atomic: false")
    release = ReleaseSettings(
        name=release_name,
        namespace=namespace,
        create_namespace=release_in.flag("createNamespace", True),
        replicas=release_in.integer("replicas", profile.replicas, minimum=1, maximum=64),
        atomic=atomic,
        helm_wait=helm_wait,
        timeout_seconds=release_in.integer(
            "timeoutSeconds", model.startup_budget_seconds + profile.helm_timeout_margin_seconds, minimum=1),
        max_history=release_in.integer("maxHistory", 10, minimum=1, maximum=1000),
        rollout=rollout,
        pod_annotations=release_in.mapping_of_text("podAnnotations", {}),
    )
    for annotation in release.pod_annotations:
        if not is_label_key(annotation):
            problems.add(f"release.podAnnotations.{annotation}", release.pod_annotations[annotation],
                         "expected an annotation key such as example.com/name (optional DNS prefix and '/')")
    if release.helm_wait and release.timeout_seconds < model.startup_budget_seconds:
        problems.add("release.timeoutSeconds", release.timeout_seconds,
                     "Helm waits for the pods, so allow at least the startup budget "
                     f"({model.startup_budget_seconds} s)")

    image_in = _Section(problems, "image", raw.get("image", _MISSING), SECTIONS["image"])
    image = ImageSettings(
        repository=image_in.text("repository", "vllm/vllm-openai", check=_is_image_repository,
                                 allowed="expected an image repository such as vllm/vllm-openai, without a tag"),
        tag=image_in.text("tag", check=_is_pinned_tag,
                          allowed="expected a pinned tag such as v0.11.0 or a digest sha256:<64 hex>; "
                                  "'latest' and empty tags are not allowed"),
        pull_policy=image_in.choice("pullPolicy", _PULL_POLICIES, "IfNotPresent"),
    )

    scheduling_in = _Section(problems, "scheduling", raw.get("scheduling"), SECTIONS["scheduling"])
    node_selector = scheduling_in.mapping_of_text("nodeSelector", dict(GPU_NODE_SELECTOR))
    for label_key, label_value in node_selector.items():
        if not is_label_key(label_key) or not is_label_value(label_value) or len(label_value) > 63:
            problems.add(f"scheduling.nodeSelector.{label_key}", label_value, "expected a valid label key and value")
    scheduling = SchedulingSettings(
        node_selector=node_selector,
        tolerations=_read_tolerations(scheduling_in),
        runtime_class_name=scheduling_in.text("runtimeClassName", "", check=lambda v: v == "" or is_dns_label(v),
                                              allowed="expected empty or a RuntimeClass name such as nvidia"),
        allow_node_autoscaling=scheduling_in.flag("allowNodeAutoscaling", False),
        node_group_gpus=scheduling_in.integer("nodeGroupGpus", 0, minimum=0, maximum=64),
    )
    if scheduling.node_group_gpus and not scheduling.allow_node_autoscaling:
        problems.add("scheduling.nodeGroupGpus", scheduling.node_group_gpus,
                     "it describes the nodes an autoscaler adds; set allowNodeAutoscaling: true or remove it")
    elif 0 < scheduling.node_group_gpus < resources.gpus:
        problems.add("scheduling.nodeGroupGpus", scheduling.node_group_gpus,
                     f"a node of {scheduling.node_group_gpus} GPUs can never fit a pod of "
                     f"resources.limits.{GPU_RESOURCE} = {resources.gpus}")

    storage_in = _Section(problems, "storage", raw.get("storage"), SECTIONS["storage"])
    storage = StorageSettings(
        shm_size_limit=storage_in.quantity("shmSizeLimit", preset.shm_size, in_bytes=True),
        persistent_cache=storage_in.flag("persistentCache", False),
        cache_size=storage_in.quantity("cacheSize", "100Gi", in_bytes=True),
        cache_storage_class=storage_in.text("cacheStorageClass", ""),
        cache_existing_claim=storage_in.text("cacheExistingClaim", "", check=lambda v: v == "" or is_dns_label(v),
                                             allowed="expected empty or a PersistentVolumeClaim name"),
    )

    wait_in = _Section(problems, "gpuWait", raw.get("gpuWait"), SECTIONS["gpuWait"])
    timeout_minutes = wait_in.number("timeoutMinutes", profile.gpu_wait_timeout_seconds / 60, above=0, maximum=24 * 60)
    initial = wait_in.number("initialBackoffSeconds", GPU_WAIT_BACKOFF_INITIAL_SECONDS, above=0, maximum=600)
    maximum = wait_in.number("maxBackoffSeconds", GPU_WAIT_BACKOFF_MAX_SECONDS, above=0, maximum=3600)
    if maximum < initial:
        problems.add("gpuWait.maxBackoffSeconds", maximum, f"expected at least initialBackoffSeconds ({initial:g})")
    gpu_wait = GpuWaitSettings(
        timeout_seconds=max(1, round(timeout_minutes * 60)),
        initial_backoff_seconds=initial,
        max_backoff_seconds=maximum,
        progress_interval_seconds=wait_in.number("progressIntervalSeconds", GPU_WAIT_PROGRESS_INTERVAL_SECONDS,
                                                  above=0, maximum=30),
    )

    verification = _read_verification(
        _Section(problems, "verification", raw.get("verification"), SECTIONS["verification"]), model,
        NODE_PROVISIONING_GRACE_SECONDS if scheduling.allow_node_autoscaling else UNSCHEDULABLE_GRACE_SECONDS)
    if release.verified_rollout and verification.access_mode != "port-forward":
        problems.add("verification.accessMode", verification.access_mode,
                     "the verified rollout checks each new pod before it gets Service traffic, and only a port-forward "
                     "reaches that pod: use port-forward, or set release.rollout: recreate")
    if verification.access_mode == "service-proxy" and model.api_key_secret_name:
        problems.add("verification.accessMode", "service-proxy",
                     "model.apiKeySecret is set, and through the API server's service proxy the Authorization "
                     "header authenticates to the API server, not to vLLM; use port-forward or direct")

    kube_in = _Section(problems, "kubernetes", raw.get("kubernetes"), SECTIONS["kubernetes"])
    kubernetes = KubernetesSettings(
        kubeconfig=kube_in.text("kubeconfig", ""),
        context=kube_in.text("context", ""),
    )

    observability = _read_observability(
        _Section(problems, "observability", raw.get("observability"), SECTIONS["observability"]), profile, verification)

    registry = _read_registry(_Section(problems, "registry", raw.get("registry"), SECTIONS["registry"]), profile)

    if problems.items:
        raise ConfigError(problems.items)
    return DeploymentConfig(
        environment=environment, model=model, release=release, image=image, resources=resources,
        scheduling=scheduling, storage=storage, gpu_wait=gpu_wait, verification=verification,
        kubernetes=kubernetes, observability=observability, registry=registry,
    )


def _read_registry(section: _Section, profile) -> RegistryConfig:
    database_url = section.text("databaseUrl", "", check=_is_database_url,
                                allowed="expected a postgresql://user@host:5432/dbname URL or a libpq "
                                        "'host=... dbname=...' string (store it with pulumi config set --secret)")
    return RegistryConfig(
        enabled=section.flag("enabled", profile.registry_enabled),
        database_url=database_url,
        routing=section.flag("routing", True),
        on_destroy=section.choice("onDestroy", REGISTRY_ON_DESTROY, "retire"),
        connect_timeout_seconds=section.number("connectTimeoutSeconds", REGISTRY_CONNECT_TIMEOUT_SECONDS,
                                               above=0, maximum=600),
        retry_timeout_seconds=section.number("retryTimeoutSeconds", REGISTRY_RETRY_TIMEOUT_SECONDS,
                                             above=0, maximum=3600),
    )


def _is_database_url(value: str) -> bool:
    if value == "":
        return True
    from components.registry.connection import conninfo_problem  # libpq's parser (psycopg), only when set

    return conninfo_problem(value) is None


def _read_model(section: _Section, size: str, preset, profile, gpus: int, release_name: str) -> ModelSettings:
    problems = section.problems
    path = section.text("path", check=lambda v: v.strip() == v and " " not in v,
                        allowed="expected a model id such as meta-llama/Llama-2-7b-chat-hf or a path, without spaces")
    tensor_parallel = section.integer("tensorParallelSize", min(preset.tensor_parallel_size, gpus), minimum=1)
    if tensor_parallel > gpus:
        problems.add("model.tensorParallelSize", tensor_parallel,
                     f"must not exceed the GPUs per pod (resources.limits.{GPU_RESOURCE} = {gpus})")
    default_budget = math.ceil(preset.startup_budget_seconds * profile.startup_budget_factor)
    api_key = section.section("apiKeySecret", ("name", "key"))
    secret = section.section("hfTokenSecret", ("name", "key"))
    if str(secret.raw.get("name", "")).startswith("hf_"):  # a token pasted as the name: never echo it
        problems.add("model.hfTokenSecret.name", "hf_…",
                     "this looks like a token; give the name of a Secret holding it")
        secret_name = ""
    else:
        secret_name = secret.text("name", "", check=lambda v: v == "" or _is_dns_subdomain(v),
                                  allowed="expected the name of an existing Secret (never the token itself)")
    extra_args = section.list_of_text("extraArgs", [])
    for index, reason in extra_args_problems(extra_args):
        shown = shown_arg(extra_args[index])
        problems.items.append(f"{NAMESPACE}:model.extraArgs[{index}]: {shown} is not valid; {reason}")
    return ModelSettings(
        path=path,
        size=size,
        served_model_name=section.text("servedModelName", release_name or "", check=lambda v: v == "" or " " not in v,
                                       allowed="expected a name without spaces"),
        max_model_len=section.integer("maxModelLen", preset.max_model_len, minimum=0, maximum=10_000_000),
        gpu_memory_utilization=section.number("gpuMemoryUtilization", 0.9, above=0, maximum=1),
        tensor_parallel_size=tensor_parallel,
        dtype=section.choice("dtype", _DTYPES, "auto"),
        extra_args=extra_args,
        startup_budget_seconds=section.integer("startupBudgetSeconds", default_budget, minimum=60, maximum=6 * 3600),
        hf_token_secret_name=secret_name,
        hf_token_secret_key=secret.text("key", "token"),
        api_key_secret_name=api_key.text("name", "", check=lambda v: v == "" or _is_dns_subdomain(v),
                                         allowed="expected the name of an existing Secret holding vLLM's API key"),
        api_key_secret_key=api_key.text("key", VERIFICATION_DEFAULTS["api_key_secret_key"]),
    )


def _read_resources(problems: _Problems, raw: Any, preset) -> ResourceSettings:
    section = _Section(problems, "resources", raw, SECTIONS["resources"])
    limits = section.section("limits", (GPU_RESOURCE, "memory", "cpu"))
    requests = section.section("requests", ("memory", "cpu"))
    gpus = limits.integer(GPU_RESOURCE, preset.gpus, minimum=1, maximum=16)
    memory_limit = limits.quantity("memory", preset.memory, in_bytes=True)
    cpu_limit = limits.quantity("cpu", preset.cpu)
    memory_request = requests.quantity("memory", memory_limit, in_bytes=True)
    cpu_request = requests.quantity("cpu", cpu_limit)
    for name, request, limit in (("memory", memory_request, memory_limit), ("cpu", cpu_request, cpu_limit)):
        try:
            if parse_quantity(request) > parse_quantity(limit):
                problems.add(f"resources.requests.{name}", request,
                             f"must not exceed resources.limits.{name} ({limit})")
        except QuantityError:
            pass  # already reported
    return ResourceSettings(gpus=gpus, memory_limit=memory_limit, cpu_limit=cpu_limit,
                            memory_request=memory_request, cpu_request=cpu_request)


def _read_tolerations(section: _Section) -> tuple[dict[str, str], ...]:
    key, value = section._get("tolerations", list(DEFAULT_TOLERATIONS))
    problems = toleration_problems(value)
    if problems:
        section.problems.add(key, value, "expected a list of tolerations with key, operator (Equal|Exists), value, "
                                         "effect (NoSchedule|PreferNoSchedule|NoExecute): " + "; ".join(problems))
        return DEFAULT_TOLERATIONS
    return tuple(dict(t) for t in value)


def _read_verification(section: _Section, model: ModelSettings, unschedulable_grace: float) -> VerificationConfig:
    access_mode = section.choice("accessMode", VERIFICATION_ACCESS_MODES, "port-forward")
    base_url = section.text("baseUrl", "", check=lambda v: v == "" or _is_http_url(v),
                            allowed=f"expected an http(s) URL such as {service_url('llama-7b', 'system')}")
    if access_mode == "direct" and not base_url:
        section.problems.add("verification.baseUrl", base_url, "required when accessMode is direct")
    defaults = VERIFICATION_DEFAULTS
    paths = {name: section.text(name, defaults[key], check=lambda v: v.startswith("/"),
                                allowed="expected a path starting with /")
             for name, key in (("healthPath", "health_path"), ("readyPath", "ready_path"),
                               ("completionsPath", "completions_path"))}
    samples = section.integer("samples", defaults["samples"], minimum=1, maximum=1000)
    return VerificationConfig(
        access_mode=access_mode,
        base_url=base_url,
        health_path=paths["healthPath"],
        ready_path=paths["readyPath"],
        completions_path=paths["completionsPath"],
        p95_limit_seconds=section.number("p95LimitSeconds", defaults["p95_limit_seconds"], above=0, maximum=600),
        samples=samples,
        warmup_requests=section.integer("warmupRequests", defaults["warmup_requests"], minimum=0, maximum=100),
        max_tokens=section.integer("maxTokens", defaults["max_tokens"], minimum=1, maximum=4096),
        prompt=section.text("prompt", defaults["prompt"]),
        request_timeout_seconds=section.number("requestTimeoutSeconds", defaults["request_timeout_seconds"], above=0,
                                                maximum=600),
        pod_ready_timeout_seconds=section.integer("podReadyTimeoutSeconds", model.startup_budget_seconds,
                                                  minimum=1, maximum=6 * 3600),
        unreachable_retry_seconds=section.number("unreachableRetrySeconds", defaults["unreachable_retry_seconds"],
                                                  above=0, maximum=3600),
        image_pull_grace_seconds=section.number("imagePullGraceSeconds", IMAGE_PULL_GRACE_SECONDS, above=0,
                                                maximum=3600),
        ready_grace_seconds=section.number("readyGraceSeconds", READY_GRACE_SECONDS, above=0, maximum=3600),
        unschedulable_grace_seconds=section.number("unschedulableGraceSeconds", unschedulable_grace, above=0,
                                                   maximum=6 * 3600),
    )


def _read_observability(section: _Section, profile, verification: VerificationConfig) -> ObservabilitySettings:
    monitored = profile.monitoring
    rule_labels = section.mapping_of_text("ruleLabels", {})
    for label_key, label_value in rule_labels.items():
        if not is_label_key(label_key) or not is_label_value(label_value) or len(label_value) > 63:
            section.problems.add(f"observability.ruleLabels.{label_key}", label_value,
                                 "expected a valid label key and value (e.g. release: kube-prometheus-stack)")
    settings = ObservabilitySettings(
        service_monitor=section.flag("serviceMonitor", monitored),
        grafana_dashboard=section.flag("grafanaDashboard", False),
        prometheus_rule=section.flag("prometheusRule", monitored),
        rule_labels=rule_labels,
        latency_p95_seconds=section.number("latencyP95Seconds", verification.p95_limit_seconds, above=0, maximum=600),
        ttft_p95_seconds=section.number("ttftP95Seconds", ALERT_DEFAULTS["ttftP95Seconds"], above=0, maximum=600),
        waiting_requests=section.number("waitingRequests", ALERT_DEFAULTS["waitingRequests"], above=0,
                                        maximum=100_000),
        kv_cache_usage=section.number("kvCacheUsage", ALERT_DEFAULTS["kvCacheUsage"], above=0, maximum=1),
        container_restarts=section.integer("containerRestarts", ALERT_DEFAULTS["containerRestarts"], minimum=1,
                                           maximum=1000),
        initialization_warn_ratio=section.number("initializationWarnRatio", ALERT_DEFAULTS["initializationWarnRatio"],
                                                 above=0, maximum=1),
    )
    if settings.prometheus_rule and not settings.service_monitor:
        section.problems.add("observability.prometheusRule", True,
                             "the alerts select the series the chart's ServiceMonitor scrapes (job=<release>); "
                             "set serviceMonitor: true or prometheusRule: false")
    return settings


def config_warnings(config: DeploymentConfig) -> list[str]:
    """Settings that are allowed but probably not what was meant; shown as warnings at preview."""
    from components.verification.stats import allowed_exceedances  # pure; imported late to keep this module light

    warnings = []
    if not config.release.verified_rollout:
        minutes = config.model.startup_budget_seconds / 60
        warnings.append(
            f"{NAMESPACE}:release.rollout is recreate: an update deletes the pods serving "
            f"{config.model.served_model_name} before the new revision loads, so the model is DOWN during every "
            f"update (model loading takes up to {minutes:g} min), and a new revision that fails the verification "
            f"leaves nothing serving. Use release.rollout: verified (needs GPUs for {ROLLOUT_SURGE_PODS} extra pod) "
            f"to keep serving.")
    samples = config.verification.samples
    if allowed_exceedances(samples) == 0:
        warnings.append(
            f"{NAMESPACE}:verification.samples: {samples}: with N <= 19 samples the nearest-rank p95 is the maximum, "
            "so a single slow completion fails the latency check; use 20 or more (59 samples all within the limit "
            "give 95% confidence that the true p95 is within it)")
    return warnings


def _is_release_name(value: str) -> bool:
    return is_dns_label(value, max_length=53)


def _is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and all(is_dns_label(part) for part in value.split("."))


def _is_image_repository(value: str) -> bool:
    # A colon is allowed only for a registry port (registry:5000/vllm), never as a tag after the last slash.
    return bool(_IMAGE_REPOSITORY.match(value)) and ":" not in value.rsplit("/", 1)[-1]


def _is_pinned_tag(value: str) -> bool:
    return bool(_DIGEST.match(value)) or (bool(_IMAGE_TAG.match(value)) and value != "latest")


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)
