"""Pod tolerations: the one validation the stack config and the GPU gate's inputs share (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.input_rules import shown, whole_number
from components.presets import GPU_TOLERATION

__all__ = ["TOLERATION_EFFECTS", "TOLERATION_KEYS", "toleration_problems"]

TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}
TOLERATION_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")


def toleration_problems(tolerations: Any) -> list[str]:
    """What is wrong with a list of pod tolerations (camelCase keys, as in the pod spec); empty when fine."""
    if not isinstance(tolerations, (list, tuple)):
        return [f"must be a list of Kubernetes tolerations, got {shown(tolerations)}"]
    problems = []
    for index, toleration in enumerate(tolerations):
        where = f"[{index}]"
        if not isinstance(toleration, Mapping):
            problems.append(f"{where} must be a mapping like {GPU_TOLERATION}, got {shown(toleration)}")
            continue
        extra = sorted(set(toleration) - TOLERATION_KEYS)
        if extra:
            problems.append(f"{where} has unknown fields {extra}; allowed: {sorted(TOLERATION_KEYS)} (camelCase)")
        operator = toleration.get("operator") or "Equal"
        key, value = toleration.get("key") or "", toleration.get("value") or ""
        if operator not in ("Exists", "Equal"):
            problems.append(f"{where}.operator must be 'Exists' or 'Equal', got {shown(operator)}")
        if (toleration.get("effect") or "") not in TOLERATION_EFFECTS:
            problems.append(
                f"{where}.effect must be one of NoSchedule, PreferNoSchedule, NoExecute or empty (all), "
                f"got {shown(toleration.get('effect'))}"
            )
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(f"{where}.key and .value must be strings")
        elif operator == "Exists" and value:
            problems.append(f"{where}.value must be empty with operator Exists, got {shown(value)}")
        elif not key and operator != "Exists":
            problems.append(f"{where}.key may only be empty with operator Exists (tolerate every taint)")
        seconds = toleration.get("tolerationSeconds")
        if seconds is not None and whole_number(seconds) is None:
            problems.append(f"{where}.tolerationSeconds must be a whole number of seconds, got {shown(seconds)}")
    return problems
