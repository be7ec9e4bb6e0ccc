"""A dynamic provider for tests of components.cancellation in the SDK's real dynamic-provider server."""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, ResourceProvider


class WaitsForEngineCancel(ResourceProvider):
    """``check`` installs the hook (as our providers do); ``create`` waits for the engine's Cancel, bounded."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        from components.cancellation import install_engine_cancel_hook

        install_engine_cancel_hook()
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        from components.cancellation import ENGINE_CANCELLATION, install_engine_cancel_hook

        hooked = install_engine_cancel_hook()
        cancelled = ENGINE_CANCELLATION.wait(float(props["wait_seconds"]))
        return CreateResult("probe", {"hooked": hooked, "cancelled": cancelled})
