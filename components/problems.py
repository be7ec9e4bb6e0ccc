"""One invalid input of a dynamic resource, as its ``check`` reports it (pure)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """One invalid input: the property and why (value and what is allowed)."""

    property: str
    reason: str
