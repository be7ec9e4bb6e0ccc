"""Fixtures for end-to-end tests: the local cluster, a Kubernetes client, and Pulumi project copies."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client, config

from tests.support.cluster import ensure_cluster
from tests.support.pulumi_project import PulumiProject, local_stack_config, pulumi_environment
from tests.support.tools import require_plugin, require_tool


@pytest.fixture(scope="session")
def cluster():
    for tool in ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python",
                 "kube-apiserver", "kwok"):
        require_tool(tool)
    require_plugin("resource", "kubernetes")
    return ensure_cluster()


@pytest.fixture(scope="session")
def kube(cluster) -> client.ApiClient:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig), context=cluster.context)
    yield api
    api.close()


@pytest.fixture
def deployed_project(tmp_path, cluster, kube):
    """Factory: a project copy with its own release and namespace; destroyed (and the namespace removed) after."""
    projects: list[tuple[PulumiProject, str]] = []

    def make(**overrides) -> PulumiProject:
        suffix = uuid.uuid4().hex[:6]
        release, namespace = f"e2e-{suffix}", f"e2e-{suffix}"
        env = pulumi_environment(tmp_path / f"backend-{suffix}", tmp_path / f"home-{suffix}")
        directory = tmp_path / f"project-{suffix}"
        directory.mkdir()
        project = PulumiProject(directory, env, "e2e",
                                local_stack_config(cluster.kubeconfig, release, namespace, **overrides))
        project.release, project.namespace = release, namespace
        projects.append((project, namespace))
        return project

    yield make
    for project, namespace in projects:
        project.destroy()
        try:
            client.CoreV1Api(kube).delete_namespace(namespace, grace_period_seconds=0)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
