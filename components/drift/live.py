"""Read a release's deployed record and the live objects of its manifest (the Kubernetes adapter of the drift check)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .compare import ObjectKey, object_key, release_drift
from .release_record import decode_release, latest_deployed, manifest_objects, record_selector

if TYPE_CHECKING:
    from kubernetes import client

__all__ = ["DriftReading", "read_drift"]


@dataclass(frozen=True)
class DriftReading:
    revision: int | None
    """The deployed revision Helm's record names (None: no deployed record)."""
    objects: int
    drift: list[str]


def read_drift(api: client.ApiClient, namespace: str, release_name: str) -> DriftReading:
    """Compare the latest deployed revision's manifest with the cluster."""
    from kubernetes import client as k8s_client
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

    core = k8s_client.CoreV1Api(api)
    secrets = core.list_namespaced_secret(namespace, label_selector=record_selector(release_name)).items
    record = latest_deployed([{"metadata": {"labels": s.metadata.labels or {}}, "secret": s} for s in secrets])
    if record is None:
        return DriftReading(None, 0, [f"Helm release {namespace}/{release_name}: no deployed revision in the "
                                      f"cluster (uninstalled or rolled back by hand?)"])
    release = decode_release((record["secret"].data or {}).get("release", ""))
    declared = manifest_objects(release.get("manifest", ""))
    dynamic = DynamicClient(api)
    live: dict[ObjectKey, Any] = {}
    for obj in declared:
        key = object_key(obj, namespace)
        api_version, kind, object_namespace, name = key
        try:
            resource = dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            continue  # the API is gone (CRD removed): reported as a deleted object
        try:
            found = resource.get(name=name, namespace=object_namespace if resource.namespaced else None)
        except NotFoundError:
            continue
        live[key] = found.to_dict()
    return DriftReading(int(release.get("version") or 0), len(declared), release_drift(declared, live, namespace))
