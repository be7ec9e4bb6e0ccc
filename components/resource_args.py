"""A dynamic resource's input dict from its Args dataclass: one way for gpu_gate, verification, registry, drift."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

__all__ = ["inputs_from_args"]


def inputs_from_args(args: Any, *, secret: str, provider_version: str, **overrides: Any) -> dict[str, Any]:
    """Every field of ``args`` under its name (snake_case keys, as policies see them), the ``secret`` field made a
    secret, ``provider_version`` (bumped when the provider's behaviour changes) and ``overrides``."""
    inputs = {field.name: getattr(args, field.name) for field in dataclasses.fields(args)}
    inputs[secret] = pulumi.Output.secret(inputs[secret])
    inputs["provider_version"] = provider_version
    inputs.update(overrides)
    return inputs
