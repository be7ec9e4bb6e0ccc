"""Kubernetes name and label syntax (pure): one definition for the config and both dynamic providers."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["is_dns_label", "is_label_key", "is_label_value"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def is_dns_label(value: Any, max_length: int = 63) -> bool:
    """A DNS-1123 label (namespaces, most object names) of at most ``max_length`` characters."""
    return isinstance(value, str) and len(value) <= max_length and bool(_DNS_LABEL.match(value))


def is_label_key(value: Any) -> bool:
    """A label key: an optional DNS-subdomain prefix and '/', then the name."""
    return isinstance(value, str) and bool(_LABEL_KEY.match(value))


def is_label_value(value: Any) -> bool:
    """A label value's characters (empty allowed); callers that need it also bound the length."""
    return isinstance(value, str) and bool(_LABEL_VALUE.match(value))
