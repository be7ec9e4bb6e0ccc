"""What the rules look at: the vLLM Helm release and the project's dynamic resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .reading import is_unknown, lookup

HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
VERIFICATION_TYPE = "pulumi-python:dynamic/vllm:DeploymentVerification"
GPU_GATE_TYPE = "pulumi-python:dynamic/vllm:GpuCapacityGate"
CHART_DIR_NAME = "vllm-deployment"
GPU_RESOURCE = "nvidia.com/gpu"
ENVIRONMENTS = ("development", "staging", "production")


def is_vllm_release(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A Helm release of our chart: its chart path ends with vllm-deployment, or its values carry model.path."""
    if resource_type != HELM_RELEASE_TYPE:
        return False
    chart = lookup(props, "chart")
    if isinstance(chart, str) and chart.rstrip("/").endswith(CHART_DIR_NAME):
        return True
    model_path = lookup(props, "values", "model", "path")
    return model_path is not None and not is_unknown(model_path)


@dataclass(frozen=True)
class Release:
    """A vLLM release as the rules see it: its name for messages, its inputs and its Helm values."""

    name: str
    props: Mapping[str, Any]

    @property
    def values(self) -> Any:
        values = lookup(self.props, "values", default={})
        return {} if values is None else values

    def value(self, *path: Any, default: Any = None) -> Any:
        """A Helm value by path (UNKNOWN during preview if not known yet)."""
        return lookup(self.values, *path, default=default)

    def prop(self, *path: Any, default: Any = None) -> Any:
        """A Release input by its wire (camelCase) name."""
        return lookup(self.props, *path, default=default)

    @property
    def environment(self) -> Any:
        return self.value("environment", default="development")

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def label(self) -> str:
        """'vLLM release "llama-7b-production"' for messages (the Helm release name when known)."""
        return f'vLLM release "{self.name}"'


def release_from(resource_name: str, props: Mapping[str, Any]) -> Release:
    """The Release view of a Helm release resource; named after the Helm release name when it is known."""
    helm_name = lookup(props, "name")
    name = helm_name if isinstance(helm_name, str) and helm_name and not is_unknown(helm_name) else resource_name
    return Release(name=name, props=props)
