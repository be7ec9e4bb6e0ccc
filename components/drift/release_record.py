"""Helm's release record, as the Secret storage driver keeps it: ``sh.helm.release.v1.<name>.v<revision>`` (pure).

The Secret's ``data.release`` is base64 (Kubernetes) of base64 (Helm) of (usually gzip-compressed) JSON with the
rendered ``manifest``. Labels: ``owner=helm``, ``name=<release>``, ``status=deployed|superseded|failed|...``,
``version=<revision>``.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["record_selector", "ReleaseRecordError", "decode_release", "latest_deployed", "manifest_objects"]

_GZIP_MAGIC = b"\x1f\x8b\x08"


class ReleaseRecordError(ValueError):
    """The release Secret could not be decoded."""


def record_selector(release_name: str) -> str:
    """Label selector of the deployed release records of ``release_name``."""
    return f"owner=helm,name={release_name},status=deployed"


def decode_release(secret_data_release: str) -> dict[str, Any]:
    """The release JSON from the Secret's ``data.release`` value (still Kubernetes-base64-encoded)."""
    try:
        helm_encoded = base64.b64decode(secret_data_release)
        raw = base64.b64decode(helm_encoded)
        if raw.startswith(_GZIP_MAGIC):
            raw = gzip.decompress(raw)
        release = json.loads(raw)
    except (ValueError, OSError, EOFError) as exc:
        raise ReleaseRecordError(f"cannot decode the Helm release record ({type(exc).__name__})") from None
    if not isinstance(release, dict):
        raise ReleaseRecordError("the Helm release record is not a JSON object")
    return release


def latest_deployed(secrets: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The record Secret (as a dict with ``metadata.labels``) with the highest ``version`` label, or None."""
    def revision(secret: Mapping[str, Any]) -> int:
        try:
            return int(((secret.get("metadata") or {}).get("labels") or {}).get("version", "0"))
        except ValueError:
            return 0
    candidates = list(secrets)
    return max(candidates, key=revision) if candidates else None


def manifest_objects(manifest: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of a rendered manifest (empty documents skipped)."""
    try:
        documents = list(yaml.safe_load_all(manifest or ""))
    except yaml.YAMLError as exc:
        raise ReleaseRecordError(f"the release manifest is not YAML ({type(exc).__name__})") from None
    return [d for d in documents if isinstance(d, dict) and d.get("kind") and d.get("apiVersion")]
