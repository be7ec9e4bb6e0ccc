"""Rules for the inputs of the dynamic resources, shared by their settings modules (pure, no I/O).

A rule takes one known input value and returns ``(converted value, None)`` or ``(value, what is allowed)``.
Numbers arrive from the engine as floats (``3.0``): the rules convert them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from components.kube_names import is_dns_label
from components.problems import Problem
from components.unknowns import is_unknown

__all__ = ["InvalidInputs", "Rule", "apply_rules", "choice", "dns_label", "finite_number", "integer", "path", "shown",
           "typed_settings", "whole_number"]

Rule = Callable[[Any], tuple[Any, str | None]]
T = TypeVar("T")


class InvalidInputs(ValueError):
    """A dynamic resource's inputs fail its rules at create/update (``check`` reports the same problems first)."""


def shown(value: Any) -> str:
    """``repr(value)``, cut to 80 characters, for a problem message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def finite_number(value: Any) -> float | int | None:
    """``value`` when it is a number as the engine sends one: an int or a finite float; None for anything else
    (a bool, NaN, an infinity, a numeric string). The stack config reads strings too: quantity.plain_number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number as the engine sends one (``3`` or ``3.0``), else None."""
    number = finite_number(value)
    return int(number) if number is not None and float(number).is_integer() else None


def integer(lo: int, hi: int, *, optional: bool = False) -> Rule:
    """A whole number from ``lo`` to ``hi`` (``optional``: 0, None or empty mean none)."""

    def convert(value: Any) -> tuple[Any, str | None]:
        allowed = f"a whole number from {lo} to {hi}" + (" (or 0/empty for none)" if optional else "")
        if optional and value in (None, 0, 0.0, ""):
            return None, None
        number = whole_number(value)
        return (number, None) if number is not None and lo <= number <= hi else (value, allowed)

    return convert


def choice(*allowed: str) -> Rule:
    def convert(value: Any) -> tuple[Any, str | None]:
        return (value, None) if value in allowed else (value, "one of " + ", ".join(repr(a) for a in allowed))

    return convert


def dns_label(max_length: int) -> Rule:
    def convert(value: Any) -> tuple[Any, str | None]:
        if is_dns_label(value, max_length):
            return value, None
        return value, f"a DNS-1123 label (lowercase letters, digits, '-'; at most {max_length} characters)"

    return convert


def path(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and value.startswith("/") and not any(c.isspace() for c in value):
        return value, None
    return value, "a URL path starting with '/'"


def typed_settings(cls: type[T], resource: str, keys: Iterable[str], normalized: Mapping[str, Any],
                   problems: list[Problem]) -> T:
    """``cls`` from validated inputs; raises ``InvalidInputs`` listing every problem, and any of ``keys`` unknown."""
    unknown = [k for k in keys if is_unknown(normalized.get(k))]
    if unknown:
        problems = [*problems, Problem(unknown[0], f"{', '.join(unknown)} not known yet (preview)")]
    if problems:
        raise InvalidInputs(f"invalid {resource} inputs:\n" + "\n".join(f"  - {p.reason}" for p in problems))
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in normalized.items() if k in names})


def apply_rules(rules: Mapping[str, Rule], inputs: Mapping[str, Any], *, defaults: Mapping[str, Any] | None = None,
                secret_keys: Iterable[str] = ()) -> tuple[dict[str, Any], list[Problem]]:
    """Fill ``defaults`` for missing inputs, convert each known value by its rule, and report every invalid one.

    Values not known yet (preview) are kept as they are; keys without a rule (output placeholders, ``__provider``)
    pass through untouched; the value of a ``secret_keys`` input is never quoted.
    """
    normalized = dict(inputs)
    problems: list[Problem] = []
    secret_keys = tuple(secret_keys)
    for key, rule in rules.items():
        if defaults and key in defaults and normalized.get(key) is None:
            normalized[key] = defaults[key]
        value = normalized.get(key)
        if is_unknown(value):
            continue
        converted, allowed = rule(value)
        if allowed is None:
            normalized[key] = converted
        elif key in secret_keys:
            problems.append(Problem(key, f"{key} (secret, not shown) is not valid; allowed: {allowed}"))
        else:
            problems.append(Problem(key, f"{key} is {shown(value)}; allowed: {allowed}"))
    return normalized, problems
