"""Timeouts that wait for the model to load cover the model size's loading budget."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .reading import as_bool, as_number, is_unknown, show
from .sizing import production_budget_factor, required_budget_seconds, size_requirements
from .subjects import Release

HELM_DEFAULT_TIMEOUT_SECONDS = 300.0
"""pulumi-kubernetes' Release timeout when unset (with await on)."""


def loading_budget_seconds(release: Release, config: Mapping[str, Any]) -> float | None:
    """The budget this release's timeouts must cover, None if its model size is unknown or not in the table."""
    size = release.value("model", "size")
    table = size_requirements(config)
    if is_unknown(size) or size not in table:
        return None
    return required_budget_seconds(table[size], release.is_production, production_budget_factor(config))


def budget_reason(release: Release, config: Mapping[str, Any]) -> str:
    """'a large model needs 3600 s to load' (with the production factor spelled out)."""
    size = release.value("model", "size")
    base = size_requirements(config)[size].loading_budget_seconds
    if release.is_production:
        factor = production_budget_factor(config)
        return f"a {size} model in production needs {factor:g} x {base:g} s = {base * factor:g} s to load"
    return f"a {size} model needs {base:g} s to load"


def check_timeouts(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """startup.budgetSeconds >= the loading budget; Helm timeout >= the startup budget when the release waits."""
    budget = loading_budget_seconds(release, config)
    if budget is None:
        return
    raw_startup = release.value("startup", "budgetSeconds")
    startup = as_number(raw_startup)
    if not is_unknown(raw_startup):
        if startup is None or startup < budget:
            yield (f"{release.label}: startup.budgetSeconds is {show(raw_startup)} "
                   f"but {budget_reason(release, config)}; "
                   f"set startup.budgetSeconds >= {budget:g} so the startup probe does not kill a loading pod.")
    skip_await = release.prop("skipAwait")
    if is_unknown(skip_await) or as_bool(skip_await) is True:
        return
    raw_timeout = release.prop("timeout")
    if is_unknown(raw_timeout):
        return
    timeout = as_number(raw_timeout)
    shown = (
        f"{show(raw_timeout)} s" if timeout is not None else f"not set (Helm waits {HELM_DEFAULT_TIMEOUT_SECONDS:g} s)"
    )
    timeout = HELM_DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
    needed = max(budget, startup or 0.0)
    if timeout < needed:
        yield (f"{release.label}: Helm timeout is {shown} but the release waits for pods whose startup budget is "
               f"{needed:g} s ({budget_reason(release, config)}); set timeout >= {needed:g} "
               f"(or skipAwait: true when the post-deploy verification does the waiting).")
