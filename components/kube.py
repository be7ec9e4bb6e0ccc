"""Kubernetes API clients for the dynamic providers, built from the same kubeconfig as the Pulumi provider.

The kubeconfig setting may hold the kubeconfig's YAML text, a path to a kubeconfig file, or be empty
(then ``$KUBECONFIG`` / ``~/.kube/config`` is used, or the in-cluster service account when running in a pod).
Exec-plugin and token auth are handled by the official ``kubernetes`` client. The kubeconfig is never
logged or put into an error message: errors name the source ("inline kubeconfig", a path) and the context.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client is imported when a client is built, not when the program starts
    from kubernetes import client

__all__ = ["KubeAccess", "KubeAccessError", "api_client_for", "describe_source"]


class KubeAccessError(RuntimeError):
    """The kubeconfig could not be loaded; the message never contains credentials."""


@dataclass(frozen=True)
class KubeAccess:
    """Where to find the cluster: kubeconfig text or path (may be empty) and an optional context."""

    kubeconfig: str = ""
    context: str | None = None

    @classmethod
    def from_inputs(cls, props: dict) -> KubeAccess:
        """Read ``kubeconfig`` and ``context`` from dynamic-resource inputs."""
        return cls(kubeconfig=props.get("kubeconfig") or "", context=props.get("context") or None)


def _looks_like_inline_kubeconfig(value: str) -> bool:
    return "\n" in value or value.lstrip().startswith(("{", "apiVersion", "clusters", "kind"))


def describe_source(access: KubeAccess) -> str:
    """A credential-free description of where the kubeconfig comes from, for messages."""
    value = access.kubeconfig.strip()
    if not value:
        source = f"default kubeconfig ({os.environ.get('KUBECONFIG') or '~/.kube/config'} or in-cluster)"
    elif _looks_like_inline_kubeconfig(value):
        source = "inline kubeconfig"
    else:
        source = f"kubeconfig file {value}"
    return f"{source}, context {access.context or '(current)'}"


def api_client_for(access: KubeAccess) -> client.ApiClient:
    """A fresh ``ApiClient`` for ``access``; raises ``KubeAccessError`` with a credential-free message."""
    import yaml
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    value = access.kubeconfig.strip()
    try:
        if value and _looks_like_inline_kubeconfig(value):
            loaded = yaml.safe_load(value)
            if not isinstance(loaded, dict):
                raise KubeAccessError(f"{describe_source(access)}: not a kubeconfig mapping")
            return config.new_client_from_config_dict(loaded, context=access.context)
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise KubeAccessError(f"{describe_source(access)}: file does not exist")
            return config.new_client_from_config(config_file=str(path), context=access.context)
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not access.context and not _default_kubeconfig_exists():
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        return config.new_client_from_config(context=access.context)
    except KubeAccessError:
        raise
    except (ConfigException, yaml.YAMLError, OSError, TypeError, ValueError) as exc:
        # The exception text of the kubernetes client can quote config values; keep only its type.
        raise KubeAccessError(f"{describe_source(access)}: cannot load ({type(exc).__name__})") from None


def _default_kubeconfig_exists() -> bool:
    from kubernetes import config

    paths = os.environ.get("KUBECONFIG", "").split(os.pathsep) if os.environ.get("KUBECONFIG") else []
    paths = paths or [os.path.expanduser(config.KUBE_CONFIG_DEFAULT_LOCATION)]
    return any(Path(p).is_file() for p in paths if p)
