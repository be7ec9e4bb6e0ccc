"""Read this project's keys from the Pulumi stack configuration (thin adapter over ``pulumi.runtime.config``)."""

from __future__ import annotations

import json
from typing import Any

from pulumi.runtime import config as runtime_config

from components.config import NAMESPACE

__all__ = ["read_project_config"]


def read_project_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every ``<namespace>:<key>`` of the stack, objects parsed from JSON, keyed by ``<key>``.

    All keys are returned, known or not, so that validation can name typos.
    """
    prefix = f"{namespace}:"
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {key[len(prefix):]: _parse(value) for key, value in merged.items() if key.startswith(prefix)}


def _parse(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
