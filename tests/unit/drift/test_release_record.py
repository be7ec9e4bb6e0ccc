"""Decoding Helm's release Secret, as `helm install` writes it with the Secret storage driver."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from components.drift.release_record import (
    ReleaseRecordError,
    decode_release,
    latest_deployed,
    manifest_objects,
    record_selector,
)

MANIFEST = """---
# Source: vllm-deployment/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: llama
---
# Source: vllm-deployment/templates/empty.yaml
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llama
"""


def secret_value(release: dict, compress: bool = True) -> str:
    raw = json.dumps(release).encode()
    helm = base64.b64encode(gzip.compress(raw) if compress else raw)
    return base64.b64encode(helm).decode()  # the Kubernetes API's base64 of Secret data


@pytest.mark.parametrize("compress", [True, False])
def test_decodes_the_release_with_or_without_gzip(compress):
    release = decode_release(secret_value({"name": "llama", "version": 3, "manifest": MANIFEST}, compress))
    assert release["version"] == 3
    assert [(o["kind"], o["metadata"]["name"]) for o in manifest_objects(release["manifest"])] == \
        [("Service", "llama"), ("Deployment", "llama")]


def test_garbage_is_a_clear_error():
    with pytest.raises(ReleaseRecordError, match="cannot decode the Helm release record"):
        decode_release("not base64 at all!")
    with pytest.raises(ReleaseRecordError, match="not YAML"):
        manifest_objects("a: [")


def test_latest_deployed_revision_wins():
    records = [{"metadata": {"labels": {"version": v}}, "n": v} for v in ("2", "10", "9")]
    assert latest_deployed(records)["n"] == "10"
    assert latest_deployed([]) is None
    assert record_selector("llama") == "owner=helm,name=llama,status=deployed"
