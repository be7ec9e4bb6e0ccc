"""The promotion order of the shipped stacks and the names CI records per stack (one home for both)."""

from __future__ import annotations

__all__ = ["PROMOTION_ORDER", "STATUS_PREFIX", "status_context", "policy_config", "next_stack"]

PROMOTION_ORDER = ("development", "staging", "production")
"""Stack name = environment name = policies/config/<name>.json; each is deployed only after the one before."""

STATUS_PREFIX = "vllm-deploy"
"""Commit status contexts ``vllm-deploy/<stack>`` record a verified deployment of that commit."""


def status_context(stack: str) -> str:
    """The commit status context that records a successful ``pulumi up`` of ``stack``."""
    return f"{STATUS_PREFIX}/{stack}"


def policy_config(environment: str) -> str:
    """The policy pack config file of ``environment`` (relative to the project)."""
    return f"policies/config/{environment}.json"


def next_stack(stack: str) -> str | None:
    """The stack promoted to after ``stack`` (None after production); raises ``ValueError`` for an unknown stack."""
    if stack not in PROMOTION_ORDER:
        raise ValueError(f"stack {stack!r} is not one of {', '.join(PROMOTION_ORDER)}")
    index = PROMOTION_ORDER.index(stack)
    return PROMOTION_ORDER[index + 1] if index + 1 < len(PROMOTION_ORDER) else None
