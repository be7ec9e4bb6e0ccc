"""The drift comparison against what a real API server stores: every shipped stack's rendered chart, created with a
server-side dry run (defaults, quantity canonicalisation and omitted zero values applied by the real
kube-apiserver), must compare clean; a changed field must not. Guards ReleaseDrift against false alarms."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from components.chart_values import chart_values
from components.config import validate_config
from components.drift.compare import object_differences
from components.drift.release_record import manifest_objects
from tests.support.cluster import ensure_cluster
from tests.support.tools import require_tool
from tests.unit.charts.test_chart_render import CHART
from tests.unit.components.test_config import STACKS, stack_config

pytestmark = [pytest.mark.cluster, pytest.mark.tools]


@pytest.fixture(scope="module")
def dynamic():
    cluster = ensure_cluster()
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig), context=cluster.context)
    core = client.CoreV1Api(api)
    try:
        core.read_namespace("system")
    except client.ApiException as exc:
        if exc.status != 404:
            raise
        core.create_namespace({"metadata": {"name": "system"}})
    yield DynamicClient(api)
    api.close()


def rendered(stack: str, tmp_path) -> list[dict]:
    deployment = validate_config(stack_config(stack))
    values = tmp_path / f"values-{stack}.json"
    values.write_text(json.dumps(chart_values(deployment)))
    result = subprocess.run([str(require_tool("helm")), "template", deployment.release.name, str(CHART),
                             "--namespace", "system", "-f", str(values)], capture_output=True, text=True,
                            timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return manifest_objects(result.stdout)


def dry_run_create(dynamic: DynamicClient, obj: dict) -> dict | None:
    try:
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    except ResourceNotFoundError:
        return None  # e.g. ServiceMonitor without the Prometheus operator's CRDs
    namespace = "system" if resource.namespaced else None
    return resource.create(body=obj, namespace=namespace, query_params=[("dryRun", "All")]).to_dict()


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_release_compares_clean_against_the_servers_stored_objects(stack, dynamic, tmp_path):
    compared = 0
    for obj in rendered(stack, tmp_path):
        stored = dry_run_create(dynamic, obj)
        if stored is None:
            continue
        assert object_differences(obj, stored) == [], yaml.safe_dump(obj)
        compared += 1
    assert compared >= 3  # Deployment, Service, ConfigMap at least


def test_a_changed_field_in_the_stored_object_is_reported(dynamic, tmp_path):
    [deployment] = [o for o in rendered("staging", tmp_path) if o["kind"] == "Deployment"]
    stored = dry_run_create(dynamic, deployment)
    stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Gi"
    assert object_differences(deployment, stored) == [
        "spec.template.spec.containers[vllm].resources.limits.memory is '1Gi', the release sets '96Gi'"]
