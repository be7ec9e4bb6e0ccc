"""What a stack deployed, for its ``deployed`` output: the workflow's "Document configuration" step (pure + one reader).

Model path and version (image, chart name/version/digest, Helm revision), resource requirements and the vLLM
arguments (the size preset's, and any custom ``extraArgs``). ``make promote`` reads the image and the chart
digest of the source stack from this output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.config import DeploymentConfig
from components.presets import GPU_RESOURCE

__all__ = ["chart_digest", "deployed_record"]


def chart_digest(chart_dir: str | Path) -> str:
    """``sha256:<hex>`` over the chart's files (relative path and content, sorted): changes with any chart edit."""
    root = Path(chart_dir)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()}"


def deployed_record(config: DeploymentConfig, *, chart_digest: str, release_status: Mapping[str, Any]) -> dict:
    """The ``deployed`` output from the validated config and the Helm release's status (pure)."""
    model, resources = config.model, config.resources
    return {
        "environment": config.environment,
        "model": {"path": model.path, "size": model.size, "served_model_name": model.served_model_name},
        "image": {"repository": config.image.repository, "tag": config.image.tag,
                  "reference": config.image.reference},
        "chart": {"name": release_status.get("chart"), "version": release_status.get("version"),
                  "app_version": release_status.get("app_version"), "digest": chart_digest,
                  "revision": release_status.get("revision")},
        "resources": {
            "replicas": config.release.replicas,
            "limits": {GPU_RESOURCE: resources.gpus, "memory": resources.memory_limit, "cpu": resources.cpu_limit},
            "requests": {GPU_RESOURCE: resources.gpus, "memory": resources.memory_request,
                         "cpu": resources.cpu_request},
        },
        "vllm_args": {
            "tensor_parallel_size": model.tensor_parallel_size,
            "max_model_len": model.max_model_len,
            "gpu_memory_utilization": model.gpu_memory_utilization,
            "dtype": model.dtype,
            "extra_args": list(model.extra_args),
        },
    }
