"""The model registry end to end: the real `pulumi` CLI against the local cluster and its PostgreSQL server.

Each test registers into a database of its own on the cluster's server (tools/cluster up starts it), given as the
secret stack setting registry.databaseUrl (the served model name is the simulator's, llama-7b, in every test).
"""

from __future__ import annotations

import json

import psycopg
import pytest
import yaml

from components.registry.store import Database
from tests.support.cluster import layout as cluster_layout
from tests.support.cluster import restart_simulator
from tests.support.postgres import drop_database, fresh_database
from tools.localcluster import postgres as pg

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]
MODEL = "llama-7b"  # Pulumi.local.yaml's model.servedModelName: the name the simulator serves
FAULT = ["--failure-injection-rate=100", "--failure-types=server_error"]


@pytest.fixture
def registry_db(cluster):
    """A new database on the cluster's server: (URL with password, password). Request it before deployed_project,
    so that the project is destroyed (its row retired) before the database is dropped."""
    server = pg.status(cluster_layout().postgres)
    assert server is not None, "tools/cluster up did not start PostgreSQL (tools/cluster status)"
    name, url = fresh_database(server)
    yield url, server.password()
    drop_database(server, name)


def _stack_config(project) -> dict:
    """The stack's config as written by deployed_project (before any secret is set)."""
    raw = yaml.safe_load((project.directory / f"Pulumi.{project.stack}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in raw.items()}


def test_up_registers_a_failed_verification_changes_nothing_a_new_tag_updates_destroy_retires(
        registry_db, deployed_project):
    url, password = registry_db
    project = deployed_project(registry={"enabled": True, "routing": True})
    name = MODEL
    config = _stack_config(project)

    def configure(**changes):
        for section, values in changes.items():
            config[section] = {**config[section], **values}
        project.set_config(config)  # rewrites the stack file: set the secret again
        result = project.run("config", "set", "--secret", "--path", "vllm-deploy:registry.databaseUrl", url)
        assert result.ok, result.output

    configure()
    database = Database(url, environ={})

    first = project.up()
    assert first.ok, first.output
    row = database.fetch("development", name)
    outputs = project.outputs()
    assert row["status"] == "active" and row["routing_enabled"] is True
    assert row["endpoint"] == f"http://{project.release}.{project.namespace}.svc.cluster.local:8000"
    image = f"vllm/vllm-openai:{outputs['deployed']['image']['tag']}"  # the local stack's pinned release
    assert (row["image"], row["helm_revision"]) == (image, outputs["revision"])
    assert row["p95_seconds"] == outputs["verification"]["p95_seconds"]
    assert row["stack"] == "vllm-deploy/e2e" and row["updated_by"].endswith("@vllm-deploy/e2e")
    assert outputs["registry"]["status"] == "active" and outputs["registry"]["entry_id"] == row["id"]
    assert [r["served_model_name"] for r in database.list(routable_only=True)] == [name]
    state = project.run("stack", "export")
    assert password not in state.output and password not in first.output  # secret in state, never in logs
    unchanged = project.preview("--expect-no-changes")
    assert unchanged.ok, unchanged.output

    # The row vanished (e.g. the database was recreated): `pulumi up --refresh` registers it again.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM model_registry_entries")
    refreshed = project.up("--refresh")
    assert refreshed.ok, refreshed.output
    row = database.fetch("development", name)
    assert row["status"] == "active" and row["helm_revision"] == outputs["revision"]

    # A failed verification (simulator fault) of a new image registers nothing: the row stays as it was.
    configure(image={"tag": "v0.11.1"})
    try:
        restart_simulator(FAULT)
        failed = project.up()
    finally:
        restart_simulator([])
    assert not failed.ok and "vLLM deployment verification FAILED" in failed.output, failed.output
    assert "ModelRegistryEntry: registered" not in failed.output
    assert database.fetch("development", name) == row

    # The fault is gone: the same tag now verifies, and the row gets the new image and Helm revision.
    recovered = project.up()
    assert recovered.ok, recovered.output
    updated = database.fetch("development", name)
    assert updated["image"] == "vllm/vllm-openai:v0.11.1"
    assert updated["helm_revision"] == project.outputs()["revision"] > row["helm_revision"]
    assert (updated["id"], updated["created_at"]) == (row["id"], row["created_at"])
    assert updated["updated_at"] > row["updated_at"] and updated["verified_at"] > row["verified_at"]

    destroyed = project.destroy()
    assert destroyed.ok, destroyed.output
    retired = database.fetch("development", name)
    assert retired["status"] == "retired" and retired["routing_enabled"] is False and retired["retired_at"]
    assert database.list(routable_only=True) == []


def test_unreachable_registry_fails_up_clearly_and_the_next_up_only_registers(registry_db, deployed_project):
    url, password = registry_db
    project = deployed_project(registry={"enabled": True, "retryTimeoutSeconds": 2, "connectTimeoutSeconds": 1})
    name = MODEL
    config = _stack_config(project)
    project.set_config(config)
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    unreachable = url.replace(f":{port}/", ":1/")
    assert project.run("config", "set", "--secret", "--path", "vllm-deploy:registry.databaseUrl", unreachable).ok

    failed = project.up()
    assert not failed.ok
    assert "cannot reach PostgreSQL at host 127.0.0.1 port 1 database" in failed.output, failed.output
    assert password not in failed.output
    exported = json.loads(project.run("stack", "export").output)["deployment"]["resources"]
    verification = [r for r in exported if r["type"].endswith("vllm:DeploymentVerification")]
    assert verification and verification[0]["outputs"]["passed"] is True  # the deployment stays verified
    assert not [r for r in exported if r["type"].endswith("vllm:ModelRegistryEntry")]

    assert project.run("config", "set", "--secret", "--path", "vllm-deploy:registry.databaseUrl", url).ok
    retried = project.up()
    assert retried.ok, retried.output
    assert "verifying release" not in retried.output  # only the registration ran
    assert Database(url, environ={}).fetch("development", name)["status"] == "active"
    assert project.destroy().ok  # retires the row while the test's database still exists
