"""The base of the dynamic resources' Args dataclasses: one ``to_inputs`` for the four dynamic resources."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pulumi

__all__ = ["ResourceArgs"]


@dataclasses.dataclass
class ResourceArgs:
    """Subclasses are dataclasses of the resource's inputs, as ``VllmModel`` passes them (no defaults of their own)."""

    SECRET_INPUT: ClassVar[str] = "kubeconfig"
    """The input always stored as a secret (a kubeconfig, a database URL)."""
    PROVIDER_VERSION: ClassVar[str]
    """The resource's ``PROVIDER_VERSION``, sent as the input ``provider_version``."""

    def to_inputs(self) -> dict[str, Any]:
        """The dynamic resource's input dict: every field under its name (snake_case keys, as policies see them)."""
        inputs = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        inputs[self.SECRET_INPUT] = pulumi.Output.secret(inputs[self.SECRET_INPUT])
        inputs["provider_version"] = self.PROVIDER_VERSION
        return inputs
