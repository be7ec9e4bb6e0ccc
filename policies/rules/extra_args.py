"""model.extraArgs: no flag the chart already sets, no secret-bearing flag, no token-shaped value.

The chart appends model.extraArgs after its own flags and vLLM lets the last occurrence win, so a repeated
flag silently overrides a checked value (tensor parallelism against the GPUs, the port the probes use).
A secret flag puts a literal secret into the values, the Deployment and the state.

The pack is loaded on its own and cannot import components/: these tables are a copy of
components/extra_args.py, named here by the chart's values keys. tests/unit/policies/test_extra_args.py
fails when the flags or the token shapes of the two disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .reading import elements, is_unknown
from .subjects import Release

MANAGED_FLAGS: dict[str, str] = {
    "--model": "model.path",
    "--served-model-name": "model.servedModelName",
    "--tensor-parallel-size": "model.tensorParallelSize",
    "-tp": "model.tensorParallelSize",
    "--gpu-memory-utilization": "model.gpuMemoryUtilization",
    "--dtype": "model.dtype",
    "--max-model-len": "model.maxModelLen",
    "--download-dir": "modelCache (the chart's model cache)",
    "--host": "nothing: the chart listens on 0.0.0.0 for its probes and Service",
    "--port": "nothing: the chart's probes and Service use port 8000",
    "--middleware": "readyEndpoint (the chart loads its /ready middleware)",
    "--shutdown-timeout": "drain.longestRequestSeconds (the chart's graceful drain)",
}
"""Flags the chart's Deployment sets -> the chart value that controls them."""

SECRET_FLAGS: dict[str, str] = {
    "--api-key": "apiKey.existingSecret",
    "--hf-token": "model.hfToken.existingSecret",
}
"""Flags whose value is a secret -> the chart value that takes it from a Kubernetes Secret."""

TOKEN_SHAPES = re.compile(
    r"(?:^|[=\s])(?:hf_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
)


def flag_name(arg: str) -> str | None:
    """The flag an argument sets, normalised like vLLM's parser ('--max_model_len=8' -> '--max-model-len')."""
    text = arg.strip()
    if not text.startswith("-") or text in ("-", "--"):
        return None
    name = text.split("=", 1)[0].split(None, 1)[0]
    return "--" + name[2:].replace("_", "-") if name.startswith("--") else name


def check_extra_args(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """One message per offending model.extraArgs entry; secrets are never quoted."""
    for index, arg in enumerate(elements(release.value("model", "extraArgs", default=[]))):
        if not isinstance(arg, str) or is_unknown(arg):
            continue
        where = f"{release.label}: model.extraArgs[{index}]"
        name = flag_name(arg)
        if name in SECRET_FLAGS:
            yield (f"{where} passes {name}, a literal secret in the values, the Deployment and the state; "
                   f"store it in a Kubernetes Secret and set {SECRET_FLAGS[name]}.")
        elif TOKEN_SHAPES.search(arg):
            yield (f"{where} holds a token-shaped value (hidden); store it in a Kubernetes Secret and set "
                   f"{SECRET_FLAGS['--api-key']} or {SECRET_FLAGS['--hf-token']}.")
        elif name in MANAGED_FLAGS:
            yield (f'{where} is "{arg}", but the chart already sets {name} and the later flag silently wins; '
                   f"use {MANAGED_FLAGS[name]} instead.")
