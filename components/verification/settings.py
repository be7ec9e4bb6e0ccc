"""Inputs of ``DeploymentVerification``: defaults, validation and the typed settings the checks use.

Pure: no I/O. Numbers arrive from the engine as floats (``20.0``) and unknown values during preview as
the sentinel string ``UNKNOWN``; validation converts the former and never fails on the latter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from components.input_rules import (
    Rule,
    apply_rules,
    choice,
    dns_label,
    finite_number,
    integer,
    path,
    shown,
    typed_settings,
)
from components.kube_names import is_label_key
from components.presets import (
    IMAGE_PULL_GRACE_SECONDS,
    READY_GRACE_SECONDS,
    ROLLOUT_MODES,
    ROLLOUT_RECREATE,
    ROLLOUT_VERIFIED,
    SERVICE_PORT,
    UNSCHEDULABLE_GRACE_SECONDS,
    VERIFICATION_ACCESS_MODES,
    VERIFICATION_DEFAULTS,
    VERIFIED_CONDITION,
    RolloutSetting,
    service_url,
)
from components.problems import Problem
from components.unknowns import UNKNOWN, is_unknown

__all__ = [
    "ACCESS_MODES",
    "DEFAULTS",
    "Problem",
    "REVERIFY_KEYS",
    "SECRET_KEYS",
    "PROVIDER_VERSION",
    "UNKNOWN",
    "VerificationSettings",
    "is_unknown",
    "normalize_revision",
    "settings_from",
    "validate",
]

# Bump when the verification's behaviour changes, so deployed stacks re-verify (2: issue 9's checks;
# 3: the verified rollout).
PROVIDER_VERSION = "3"
ACCESS_MODES = VERIFICATION_ACCESS_MODES

DEFAULTS: dict[str, Any] = {
    "kubeconfig": "",
    "context": "",
    "access_mode": "port-forward",
    "base_url": "",
    "service_port": SERVICE_PORT,
    "served_model_name": "",  # empty: the release name (the chart's default served name)
    **VERIFICATION_DEFAULTS,
    "pod_ready_timeout_seconds": 1200.0,
    "image_pull_grace_seconds": IMAGE_PULL_GRACE_SECONDS,
    "ready_grace_seconds": READY_GRACE_SECONDS,
    "unschedulable_grace_seconds": UNSCHEDULABLE_GRACE_SECONDS,
    "api_key_secret_name": "",
    "rollout": ROLLOUT_RECREATE,  # verified: check each new pod, then set its readiness gate (readiness_gate.py)
    "verified_condition": VERIFIED_CONDITION,
    "provider_version": PROVIDER_VERSION,
}

SECRET_KEYS = ("kubeconfig",)
# Everything that changes what is verified or how; kubeconfig only changes how the cluster is reached.
REVERIFY_KEYS = tuple(k for k in ("namespace", "release_name", "revision", *DEFAULTS) if k not in SECRET_KEYS)



@dataclass(frozen=True)
class VerificationSettings(RolloutSetting):
    """Validated, typed inputs."""

    namespace: str
    release_name: str
    revision: int | str
    access_mode: str
    base_url: str
    service_port: int
    health_path: str
    ready_path: str
    completions_path: str
    served_model_name: str
    prompt: str
    max_tokens: int
    warmup_requests: int
    samples: int
    p95_limit_seconds: float
    request_timeout_seconds: float
    pod_ready_timeout_seconds: float
    unreachable_retry_seconds: float
    api_key_secret_name: str
    api_key_secret_key: str
    context: str = ""
    image_pull_grace_seconds: float = IMAGE_PULL_GRACE_SECONDS
    ready_grace_seconds: float = READY_GRACE_SECONDS
    unschedulable_grace_seconds: float = UNSCHEDULABLE_GRACE_SECONDS
    rollout: str = ROLLOUT_RECREATE
    verified_condition: str = VERIFIED_CONDITION

    @property
    def model(self) -> str:
        """The model name sent in completion requests."""
        return self.served_model_name or self.release_name

    @property
    def direct_url(self) -> str:
        """The URL used in direct mode: ``base_url`` or the in-cluster Service address."""
        return self.base_url or service_url(self.release_name, self.namespace, self.service_port)



def normalize_revision(value: Any) -> Any:
    """``3``, ``3.0`` and ``"3"`` are the same Helm revision (digits 0-9 only: ``"３"`` and ``"²"`` stay text)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value


def _seconds(minimum: float, inclusive: bool) -> Rule:
    def convert(value: Any) -> tuple[Any, str | None]:
        allowed = f"a number of seconds {'>=' if inclusive else '>'} {minimum:g}"
        if finite_number(value) is None:
            return value, allowed
        ok = value >= minimum if inclusive else value > minimum
        return (float(value), None) if ok else (value, allowed)

    return convert


def _text(required: bool) -> Rule:
    def convert(value: Any) -> tuple[Any, str | None]:
        if value is None and not required:
            return "", None
        if not isinstance(value, str) or (required and not value.strip()):
            return value, "a non-empty string" if required else "a string"
        return value, None

    return convert


def _completions_path(value: Any) -> tuple[Any, str | None]:
    value, reason = path(value)
    if reason is None and not value.rstrip("/").endswith("completions"):
        reason = "a path ending in /chat/completions or /completions (OpenAI-compatible)"
    return value, reason


def _base_url(value: Any) -> tuple[Any, str | None]:
    if value in (None, ""):
        return "", None
    allowed = "an http:// or https:// URL with a host (or empty for the in-cluster Service URL)"
    if not isinstance(value, str):
        return value, allowed
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return value, allowed
    return value.rstrip("/"), None


def _revision(value: Any) -> tuple[Any, str | None]:
    value = normalize_revision(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value, None
    if isinstance(value, str) and value.strip():
        return value, None
    return value, "the Helm release revision (a non-negative integer or a non-empty string)"


def _condition_type(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and is_label_key(value):
        return value, None
    return value, "a pod condition type such as vllm.deploy/verified (a qualified name: optional DNS prefix and '/')"


def _anything(value: Any) -> tuple[Any, str | None]:
    return ("" if value is None else value), None


_RULES: dict[str, Rule] = {
    "kubeconfig": _text(required=False),
    "context": _text(required=False),
    "namespace": dns_label(63),
    "release_name": dns_label(53),
    "revision": _revision,
    "access_mode": choice(*ACCESS_MODES),
    "base_url": _base_url,
    "service_port": integer(1, 65535),
    "health_path": path,
    "ready_path": path,
    "completions_path": _completions_path,
    "served_model_name": _text(required=False),
    "prompt": _text(required=True),
    "max_tokens": integer(1, 32768),
    "warmup_requests": integer(0, 100),
    "samples": integer(1, 1000),
    "p95_limit_seconds": _seconds(0, inclusive=False),
    "request_timeout_seconds": _seconds(0, inclusive=False),
    "pod_ready_timeout_seconds": _seconds(0, inclusive=False),
    "unreachable_retry_seconds": _seconds(0, inclusive=True),
    "image_pull_grace_seconds": _seconds(0, inclusive=True),
    "ready_grace_seconds": _seconds(0, inclusive=True),
    "unschedulable_grace_seconds": _seconds(0, inclusive=False),
    "api_key_secret_name": _text(required=False),
    "api_key_secret_key": _text(required=True),
    "rollout": choice(*ROLLOUT_MODES),
    "verified_condition": _condition_type,
    "provider_version": _anything,
}


def validate(inputs: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Fill defaults, convert numbers, and report every invalid input at once.

    Returns the normalized inputs (unknown values kept as they are) and the problems. Keys that are not
    inputs of this resource (e.g. output placeholders) pass through untouched.
    """
    normalized, problems = apply_rules(_RULES, inputs, defaults=DEFAULTS, secret_keys=SECRET_KEYS)
    problems.extend(_cross_field_problems(normalized))
    return normalized, problems


def _cross_field_problems(values: dict[str, Any]) -> list[Problem]:
    mode, base_url, api_key = values.get("access_mode"), values.get("base_url"), values.get("api_key_secret_name")
    problems = []
    if values.get("rollout") == ROLLOUT_VERIFIED and mode != "port-forward" and not is_unknown(mode):
        problems.append(Problem("access_mode", f"access_mode is {shown(mode)} but rollout is 'verified'; allowed: "
                                               "'port-forward' (each new pod is checked before it gets Service "
                                               "traffic, so only a port-forward to that pod reaches it)"))
    if not (is_unknown(mode) or is_unknown(base_url) or not base_url or mode == "direct"):
        problems.append(Problem(
            "base_url",
            f"base_url is {shown(base_url)} but access_mode is {mode!r}; "
            "allowed: base_url only with access_mode 'direct' (leave it empty otherwise)",
        ))
    if mode == "service-proxy" and api_key and not is_unknown(api_key):
        problems.append(Problem(
            "access_mode",
            f"access_mode is 'service-proxy' but api_key_secret_name is {shown(api_key)}; allowed: 'port-forward' "
            "or 'direct' with an API key (through the API server's proxy, Authorization authenticates to the API "
            "server)",
        ))
    return problems


def settings_from(inputs: dict[str, Any]) -> VerificationSettings:
    """Typed settings from (known) inputs; raises ``ValueError`` listing every problem."""
    normalized, problems = validate(inputs)
    return typed_settings(VerificationSettings, "DeploymentVerification", _RULES, normalized, problems)
