"""Nothing of the vLLM deployment lands in the "default" namespace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .reading import is_unknown, show


def check_namespace(label: str, namespace: Any, *, required: bool) -> Iterator[str]:
    """namespace is set (when required) and not "default"."""
    if is_unknown(namespace):
        return
    if namespace in (None, ""):
        if required:
            yield (f"{label}: namespace is not set, so it lands in the provider's namespace (usually \"default\"); "
                   f"set namespace to a dedicated one (e.g. \"vllm-<environment>\").")
    elif namespace == "default":
        yield (f"{label}: namespace is {show(namespace)}; deploy into a dedicated namespace "
               f"(e.g. \"vllm-<environment>\") instead of \"default\".")
