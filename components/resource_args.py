"""The base of the dynamic resources' Args dataclasses: one ``to_inputs`` for the four dynamic resources.

A subclass names its resource's provider version (and, unless it is the kubeconfig, its secret input) as class
keywords, like ``pulumi.dynamic.Resource`` subclasses name their module and type::

    @dataclass
    class GpuCapacityGateArgs(ClusterArgs, provider_version=PROVIDER_VERSION): ...
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pulumi

__all__ = ["ClusterArgs", "ResourceArgs"]


@dataclasses.dataclass
class ResourceArgs:
    """Subclasses are dataclasses of the resource's inputs, as ``VllmModel`` passes them (no defaults of their own)."""

    SECRET_INPUT: ClassVar[str] = "kubeconfig"
    """The input always stored as a secret (a kubeconfig, a database URL)."""
    PROVIDER_VERSION: ClassVar[str]
    """The resource's ``PROVIDER_VERSION``, sent as the input ``provider_version``."""

    def __init_subclass__(cls, *, provider_version: str | None = None, secret_input: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if provider_version is not None:
            cls.PROVIDER_VERSION = provider_version
        if secret_input is not None:
            cls.SECRET_INPUT = secret_input

    def to_inputs(self) -> dict[str, Any]:
        """The dynamic resource's input dict: every field under its name (snake_case keys, as policies see them)."""
        inputs = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        inputs[self.SECRET_INPUT] = pulumi.Output.secret(inputs[self.SECRET_INPUT])
        inputs["provider_version"] = self.PROVIDER_VERSION
        return inputs


@dataclasses.dataclass(kw_only=True)
class ClusterArgs(ResourceArgs):
    """The inputs of a resource that reads the cluster, given as the Kubernetes provider gets them (components/kube.py):
    ``kubeconfig`` (its text, a path, or "" for the default; always a secret) and ``context`` ("" for the current)."""

    kubeconfig: pulumi.Input[str] = ""
    context: pulumi.Input[str] = ""
