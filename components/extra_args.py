"""``model.extraArgs``: which vLLM flags the chart already sets and which would carry a secret (pure, no I/O).

The chart's Deployment passes its own flags first and appends ``model.extraArgs``; vLLM's argument parser
lets the last occurrence win, so a repeated managed flag silently overrides the validated setting (e.g.
``--tensor-parallel-size=4`` past the GPU check, ``--port=9000`` away from the probes and the Service).
Secret-bearing flags and token-shaped values would put a literal secret into the Helm values, the
Deployment and the Pulumi state. ``extra_args_problems`` names each offending entry and the setting to use.

The policy pack (policies/rules/extra_args.py) is loaded on its own and keeps a copy of these tables;
tests/unit/policies/test_extra_args.py fails when the two disagree, and when the chart's template sets a
flag that is missing here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from components.presets import SERVICE_PORT

__all__ = [
    "MANAGED_FLAGS",
    "SECRET_FLAGS",
    "extra_args_problems",
    "flag_name",
    "looks_like_secret",
    "shown_arg",
]

MANAGED_FLAGS: dict[str, str] = {
    "--model": "model.path",
    "--served-model-name": "model.servedModelName",
    "--tensor-parallel-size": "model.tensorParallelSize",
    "-tp": "model.tensorParallelSize",
    "--gpu-memory-utilization": "model.gpuMemoryUtilization",
    "--dtype": "model.dtype",
    "--max-model-len": "model.maxModelLen",
    "--download-dir": "storage.persistentCache / storage.cacheExistingClaim (the chart's model cache)",
    "--host": "nothing: the chart listens on 0.0.0.0 for its probes and Service",
    "--port": f"nothing: the chart's probes, Service and verification use port {SERVICE_PORT}",
    "--middleware": "verification.readyPath (the chart loads its /ready middleware)",
    "--shutdown-timeout": "nothing: the chart drains for its drain.longestRequestSeconds",
}
"""Flags the chart's Deployment sets -> the setting that controls them."""

SECRET_FLAGS: dict[str, str] = {
    "--api-key": "model.apiKeySecret: {name, key}",
    "--hf-token": "model.hfTokenSecret: {name, key}",
}
"""Flags whose value is a secret -> the setting that takes it from a Kubernetes Secret."""

_TOKEN_SHAPES = re.compile(
    r"(?:^|[=\s])(?:hf_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
)
"""Hugging Face (hf_...), OpenAI-style API keys (sk-...) and GitHub tokens, alone or after '=' or a space."""


def flag_name(arg: str) -> str | None:
    """The flag an argument sets, normalised like vLLM's parser ('--max_model_len=8' -> '--max-model-len')."""
    text = arg.strip()
    if not text.startswith("-") or text in ("-", "--"):
        return None
    name = text.split("=", 1)[0].split(None, 1)[0]
    if name.startswith("--"):
        return "--" + name[2:].replace("_", "-")
    return name


def looks_like_secret(arg: str) -> bool:
    """True when the argument holds a token-shaped value (never echo such an argument)."""
    return bool(_TOKEN_SHAPES.search(arg))


def shown_arg(arg: str) -> str:
    """The argument as an error message may show it: a secret flag's value and token-shaped values are hidden."""
    name = flag_name(arg)
    if looks_like_secret(arg):
        return "(secret value hidden)"
    if name in SECRET_FLAGS and arg.strip() != name:
        return repr(f"{name}=(hidden)")
    return repr(arg)


def extra_args_problems(args: Sequence[str]) -> list[tuple[int, str]]:
    """(index, what is wrong and what to use instead) for each offending entry; the messages never quote a secret."""
    problems: list[tuple[int, str]] = []
    for index, arg in enumerate(args):
        name = flag_name(arg)
        if name in SECRET_FLAGS:
            problems.append((index, f"{name} would put a literal secret into the Helm values, the Deployment and the "
                                    f"state; store it in a Kubernetes Secret and set {SECRET_FLAGS[name]}"))
        elif looks_like_secret(arg):
            problems.append((index, "this looks like a token; store it in a Kubernetes Secret and set "
                                    f"{SECRET_FLAGS['--api-key']} or {SECRET_FLAGS['--hf-token']}"))
        elif name in MANAGED_FLAGS:
            problems.append((index, f"the chart already sets {name} (a repeated flag silently overrides it); "
                                    f"use {MANAGED_FLAGS[name]} instead"))
    return problems
