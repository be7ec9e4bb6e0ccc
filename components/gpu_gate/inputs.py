"""The GpuCapacityGate's inputs: defaults, validation, normalisation and what a change means; no I/O.

Inputs cross the Pulumi wire as protobuf values: whole numbers arrive as floats and values not yet known
during preview arrive as the ``UNKNOWN`` sentinel. Validation skips unknown values, and every problem
names the input, the value and what is allowed (the kubeconfig is never quoted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components import presets
from components.input_rules import finite_number, shown, whole_number
from components.kube_names import is_dns_label, is_label_key, is_label_value
from components.tolerations import toleration_problems
from components.unknowns import UNKNOWN, is_unknown

from .capacity import GpuNeed

__all__ = [
    "DEFAULTS",
    "NEED_INPUTS",
    "PROVIDER_VERSION",
    "ROLLOUT_INPUTS",
    "SETTING_INPUTS",
    "UNKNOWN",
    "changed_inputs",
    "input_problems",
    "need_from_inputs",
    "normalize_inputs",
    "replaced_release",
    "wait_settings_from_inputs",
]

PROVIDER_VERSION = "3"
"""Bump when the gate's behaviour changes, so the change shows in the next diff (3: the verified rollout)."""


DEFAULTS: dict[str, Any] = {  # for inputs a stack deployed by an older program did not pass (the presets' values)
    "kubeconfig": "",
    "context": "",
    "gpu_resource": presets.GPU_RESOURCE,
    "node_selector": presets.GPU_NODE_SELECTOR,
    "tolerations": [presets.GPU_TOLERATION],
    "timeout_seconds": presets.GPU_WAIT_TIMEOUT_SECONDS,
    "backoff_initial_seconds": presets.GPU_WAIT_BACKOFF_INITIAL_SECONDS,
    "backoff_max_seconds": presets.GPU_WAIT_BACKOFF_MAX_SECONDS,
    "progress_interval_seconds": presets.GPU_WAIT_PROGRESS_INTERVAL_SECONDS,
    "allow_node_autoscaling": False,
    "node_group_gpus": 0,
    "rollout": presets.ROLLOUT_RECREATE,
    "surge_pods": presets.ROLLOUT_SURGE_PODS,
    "release_revision": "",
}

NEED_INPUTS = ("replicas", "gpus_per_pod", "gpu_resource", "node_selector", "tolerations", "namespace", "release_name",
               "rollout", "surge_pods", "release_revision")
"""A change to any of these is a new GPU need: the gate waits again (``release_revision``, a digest of the release's
values, changes with every update: a verified update needs its surge pod's GPUs)."""
ROLLOUT_INPUTS = ("release_revision", "rollout", "gpus_per_pod", "gpu_resource", "node_selector", "tolerations")
"""A change to any of these rolls out new pods (a surge pod in the verified rollout); the others only scale."""
SETTING_INPUTS = (
    "timeout_seconds",
    "backoff_initial_seconds",
    "backoff_max_seconds",
    "progress_interval_seconds",
    "allow_node_autoscaling",
    "node_group_gpus",
    "provider_version",
)
"""A change to any of these is recorded without waiting. ``kubeconfig`` and ``context`` are neither."""

WHOLE_NUMBERS = ("replicas", "gpus_per_pod", "node_group_gpus", "surge_pods")
SECONDS = ("timeout_seconds", "backoff_initial_seconds", "backoff_max_seconds", "progress_interval_seconds")
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_BACKOFF_SECONDS = 3600
MAX_PROGRESS_INTERVAL_SECONDS = 30

_EXTENDED_RESOURCE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")



def _plain(value: Any) -> Any:
    """Whole floats as ints, recursively, so 2 and 2.0 compare and print alike."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def normalize_inputs(inputs: Mapping[str, Any]) -> dict:
    """Defaults filled in, whole numbers as ints, empty context as ''; unknown values are kept as they are."""
    result = dict(inputs)
    for key, default in DEFAULTS.items():
        if result.get(key) is None:
            result[key] = default
    for key, value in result.items():
        if key != "__provider" and not is_unknown(value):
            result[key] = _plain(value)
    return result


def _field_problems(key: str, value: Any) -> list[str]:
    """What is wrong with one known input value (empty when fine)."""
    if key in WHOLE_NUMBERS:
        lowest = 1 if key in ("gpus_per_pod", "surge_pods") else 0
        number = whole_number(value)
        if number is None or number < lowest:
            return [f"must be a whole number of at least {lowest}, got {shown(value)}"]
    elif key in SECONDS:
        number = finite_number(value)
        ceiling = {
            "timeout_seconds": MAX_TIMEOUT_SECONDS,
            "progress_interval_seconds": MAX_PROGRESS_INTERVAL_SECONDS,
        }.get(key, MAX_BACKOFF_SECONDS)
        if number is None or not 0 < number <= ceiling:
            return [f"must be a number of seconds above 0 and at most {ceiling}, got {shown(value)}"]
    elif key == "namespace":
        if not is_dns_label(value):
            return [f"must be a Kubernetes namespace name (lowercase DNS label), got {shown(value)}"]
    elif key == "release_name":
        if not is_dns_label(value, max_length=53):
            return [f"must be a Helm release name (a DNS-1123 label: lowercase, digits and '-', at most 53), "
                    f"got {shown(value)}"]
    elif key == "gpu_resource":
        if not isinstance(value, str) or not _EXTENDED_RESOURCE.match(value):
            return [f"must be an extended resource name like 'nvidia.com/gpu', got {shown(value)}"]
    elif key == "node_selector":
        if not isinstance(value, Mapping):
            return [f"must be a mapping of label to value like {{'node-type': 'gpu'}}, got {shown(value)}"]
        return [
            f"has an invalid label {shown(k)}={shown(v)}"
            for k, v in value.items()
            if not (is_label_key(k) and is_label_value(v))
        ]
    elif key == "tolerations":
        return toleration_problems(value)
    elif key == "allow_node_autoscaling":
        if not isinstance(value, bool):
            return [f"must be true or false, got {shown(value)}"]
    elif key == "kubeconfig":
        if not isinstance(value, str):
            return ["must be a string (kubeconfig text, a path, or empty for the default), "
                    f"got a {type(value).__name__}"]
    elif key == "context":
        if not isinstance(value, str):
            return [f"must be a kubeconfig context name or empty, got {shown(value)}"]
    elif key == "rollout":
        if value not in presets.ROLLOUT_MODES:
            return [f"must be one of {', '.join(presets.ROLLOUT_MODES)}, got {shown(value)}"]
    elif key in ("provider_version", "release_revision"):
        if not isinstance(value, str):
            return [f"must be a string, got {shown(value)}"]
    return []


def input_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem as (input name, reason); values not known yet are skipped."""
    values = normalize_inputs(inputs)
    problems: list[tuple[str, str]] = []
    for key in ("namespace", "release_name", "replicas", "gpus_per_pod"):
        if key not in inputs or inputs.get(key) is None:
            problems.append((key, "is required"))
    checked = ("kubeconfig", "context", "provider_version", *NEED_INPUTS, *SETTING_INPUTS)
    for key in dict.fromkeys(checked):
        if key in values and values[key] is not None and not is_unknown(values[key]):
            problems.extend((key, reason) for reason in _field_problems(key, values[key]))
    initial, cap = values.get("backoff_initial_seconds"), values.get("backoff_max_seconds")
    if finite_number(initial) is not None and finite_number(cap) is not None and 0 < cap < initial:
        problems.append(("backoff_max_seconds", f"must be at least backoff_initial_seconds ({initial}), got {cap}"))
    return problems


def need_from_inputs(inputs: Mapping[str, Any]) -> GpuNeed:
    """The GPU need described by (validated) inputs."""
    values = normalize_inputs(inputs)
    return GpuNeed(
        replicas=int(values["replicas"]),
        gpus_per_pod=int(values["gpus_per_pod"]),
        gpu_resource=values["gpu_resource"],
        node_selector=dict(values["node_selector"]),
        tolerations=tuple(dict(t) for t in values["tolerations"]),
        namespace=values["namespace"],
        release_name=values["release_name"],
        allow_node_autoscaling=bool(values["allow_node_autoscaling"]),
        node_group_gpus=int(values["node_group_gpus"]),
        rollout=values["rollout"],
        surge_pods=int(values["surge_pods"]),
    )


def replaced_release(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The previous (namespace, release name) when an update renames or moves the release, else ().

    The Helm release is replaced then, and deleted before its replacement (``delete_before_replace``), so its
    pods free their GPUs before the new pods need them.
    """
    before, after = normalize_inputs(olds), normalize_inputs(news)
    old = (before.get("namespace"), before.get("release_name"))
    new = (after.get("namespace"), after.get("release_name"))
    if old == new or not all(isinstance(v, str) and v and not is_unknown(v) for v in old):
        return ()
    return (old,)


def wait_settings_from_inputs(inputs: Mapping[str, Any]) -> dict[str, float]:
    """Keyword arguments for ``wait_for_gpu_capacity``."""
    values = normalize_inputs(inputs)
    return {key: float(values[key]) for key in SECONDS}


def changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    """The ``keys`` whose value differs (an unknown new value counts as a change)."""
    before, after = normalize_inputs(olds), normalize_inputs(news)
    return [key for key in keys if is_unknown(after.get(key)) or before.get(key) != after.get(key)]
