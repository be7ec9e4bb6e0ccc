"""Inputs of ``ModelRegistryEntry``: validation and the typed settings the registration uses (pure, no I/O).

Numbers arrive from the engine as floats (``3.0``) and values not known during preview as the ``UNKNOWN``
sentinel: validation converts the former and never fails on the latter. Defaults are not set here: the
``VllmModel`` component passes every value (the user-facing defaults live in components/config.py). The
database URL is a secret: no problem text ever quotes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.config import REGISTRY_ON_DESTROY as ON_DESTROY
from components.input_rules import Rule, apply_rules, choice, dns_label, finite_number, integer, path, typed_settings
from components.problems import Problem

from .connection import conninfo_problem

__all__ = [
    "ON_DESTROY",
    "PROVIDER_VERSION",
    "REGISTER_KEYS",
    "SECRET_KEYS",
    "Problem",
    "RegistrySettings",
    "settings_from",
    "validate",
]

PROVIDER_VERSION = "1"
"""Bump when the registration's behaviour changes, so deployed stacks register again."""

SECRET_KEYS = ("database_url",)


@dataclass(frozen=True)
class RegistrySettings:
    """Validated, typed inputs of one registration."""

    database_url: str
    environment: str
    served_model_name: str
    model_path: str
    stack: str
    namespace: str
    release_name: str
    service_port: int
    api_path: str
    image: str
    chart_version: str
    helm_revision: int
    gpus_per_pod: int
    replicas: int
    max_model_len: int | None
    verified_at: str
    p50_seconds: float | None
    p95_seconds: float
    model_init_seconds: float | None
    routing_enabled: bool
    on_destroy: str
    connect_timeout_seconds: float
    retry_timeout_seconds: float
    provider_version: str

    def __repr__(self) -> str:  # the dataclass repr would print the database URL
        return f"RegistrySettings({self.environment}/{self.served_model_name}, stack={self.stack})"


def _text(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and value.strip() and value == value.strip():
        return value, None
    return value, "a non-empty string without leading or trailing spaces"


def _name(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and value and not any(c.isspace() for c in value) and len(value) <= 253:
        return value, None
    return value, "a non-empty name without spaces (at most 253 characters)"


def _seconds(*, optional: bool, maximum: float = 7 * 24 * 3600) -> Rule:
    def convert(value: Any) -> tuple[Any, str | None]:
        if optional and value in (None, ""):
            return None, None
        allowed = f"a number of seconds from 0 to {maximum:g}" + (" (or empty when not measured)" if optional else "")
        if finite_number(value) is None:
            return value, allowed
        return (float(value), None) if 0 <= value <= maximum else (value, allowed)

    return convert


def _flag(value: Any) -> tuple[Any, str | None]:
    return (value, None) if isinstance(value, bool) else (value, "true or false")


def _timestamp(value: Any) -> tuple[Any, str | None]:
    allowed = "an ISO 8601 timestamp with a time zone, e.g. 2026-12-02T13:30:00+00:00"
    if not isinstance(value, str):
        return value, allowed
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value, allowed
    return (value, None) if parsed.tzinfo is not None else (value, allowed)


def _database_url(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return "", None
    if not isinstance(value, str):
        return value, "a string"
    problem = conninfo_problem(value)
    return (value, None) if problem is None else (value, problem)


_RULES: dict[str, Rule] = {
    "database_url": _database_url,
    "environment": _name,
    "served_model_name": _name,
    "model_path": _text,
    "stack": _name,
    "namespace": dns_label(63),
    "release_name": dns_label(53),
    "service_port": integer(1, 65535),
    "api_path": path,
    "image": _name,
    "chart_version": _name,
    "helm_revision": integer(1, 2**31 - 1),
    "gpus_per_pod": integer(1, 64),
    "replicas": integer(1, 1000),
    "max_model_len": integer(1, 100_000_000, optional=True),
    "verified_at": _timestamp,
    "p50_seconds": _seconds(optional=True),
    "p95_seconds": _seconds(optional=False),
    "model_init_seconds": _seconds(optional=True),
    "routing_enabled": _flag,
    "on_destroy": choice(*ON_DESTROY),
    "connect_timeout_seconds": _seconds(optional=False, maximum=600),
    "retry_timeout_seconds": _seconds(optional=False, maximum=3600),
    "provider_version": _text,
}

REGISTER_KEYS = tuple(k for k in _RULES if k not in ("connect_timeout_seconds", "retry_timeout_seconds"))
"""A change to any of these writes the row again; the retry settings only change how the database is reached."""


def validate(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Convert numbers and report every invalid or missing input at once (unknown values are kept as they are).

    Keys that are not inputs of this resource (output placeholders, ``__provider``) pass through untouched.
    """
    return apply_rules(_RULES, inputs, secret_keys=SECRET_KEYS)


def settings_from(inputs: Mapping[str, Any]) -> RegistrySettings:
    """Typed settings from (known) inputs; raises ``ValueError`` listing every problem."""
    normalized, problems = validate(inputs)
    return typed_settings(RegistrySettings, "ModelRegistryEntry", _RULES, normalized, problems)
