"""Locate binaries built by tools/build; a missing one fails under CI and skips elsewhere."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
TOOLS_PLUGINS = ROOT / ".tools" / "pulumi-plugins"


def require_tool(name: str) -> Path:
    """The path of ``name`` from .tools/bin (or PATH); under CI a missing tool is a failure, not a skip."""
    candidate = TOOLS_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    _missing(f"{name} not built: run tools/build (expected {candidate})")


def require_plugin(kind: str, name: str) -> Path:
    """The executable of Pulumi plugin ``kind``/``name`` that tools/build laid out in .tools/pulumi-plugins."""
    found = sorted(TOOLS_PLUGINS.glob(f"{kind}-{name}-v*/pulumi-{kind}-{name}"))
    if found and os.access(found[-1], os.X_OK):
        return found[-1]
    _missing(f"Pulumi plugin {kind}-{name} not built: run tools/build (expected {TOOLS_PLUGINS}/{kind}-{name}-v*/)")


def _missing(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
