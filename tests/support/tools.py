"""Locate binaries built by tools/build; a missing one fails under CI and skips elsewhere."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"


def require_tool(name: str) -> Path:
    """The path of ``name`` from .tools/bin (or PATH); under CI a missing tool is a failure, not a skip."""
    candidate = TOOLS_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    message = f"{name} not built: run tools/build (expected {candidate})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
