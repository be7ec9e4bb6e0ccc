"""Drift detection against the real local cluster: deploy the stack with `pulumi up`, edit the Deployment with
`kubectl edit`, and run the drift check of .github/workflows/drift.yml (promotion.drift: `pulumi preview --refresh
--expect-no-changes --diff`). It must fail with the diff, and pass without drift (before the edit and after the
edit is undone)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from tests.support.pulumi_project import ROOT
from tests.support.tools import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def drift_check(project, summary_path):
    """`python -m promotion.drift` exactly as the workflow runs it, in the project copy, with a job summary file."""
    env = {**project.env, "GITHUB_STEP_SUMMARY": str(summary_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "promotion.drift", "--stack", project.stack,
                           "--cwd", str(project.directory)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900)


def kubectl_edit(cluster, namespace: str, name: str, sed_expression: str) -> None:
    """`kubectl edit deployment` with a non-interactive editor (sed), as a person editing by hand would."""
    kubectl = require_tool("kubectl")
    editor = f"sed -i -e {shlex.quote(sed_expression)}"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "KUBE_EDITOR": editor, "EDITOR": editor}
    result = subprocess.run([str(kubectl), "--context", cluster.context, "-n", namespace, "edit",
                             f"deployment/{name}"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "edited" in result.stdout, result.stdout  # kubectl says "... edited" only when something changed


RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
DRIFT_TYPE = "pulumi-python:dynamic/vllm:ReleaseDrift"


def urn_of(project, type_: str) -> str:
    exported = project.run("stack", "export")
    assert exported.ok, exported.output
    [urn] = [r["urn"] for r in json.loads(exported.output)["deployment"]["resources"] if r["type"] == type_]
    return urn


def assert_kubeconfig_stays_secret_in_state(project) -> None:
    """The refresh wrote ReleaseDrift's outputs back: the kubeconfig it keeps for `read` is still a secret."""
    exported = project.run("stack", "export")
    assert exported.ok, exported.output
    [drift] = [r for r in json.loads(exported.output)["deployment"]["resources"]
               if r["type"] == DRIFT_TYPE]
    secret = drift["outputs"]["kubeconfig"]
    assert isinstance(secret, dict) and "ciphertext" in secret, secret
    assert drift["outputs"]["drift"], drift["outputs"]  # the refreshed drift is recorded


def test_drift_check_fails_with_the_diff_after_kubectl_edit_and_passes_without_drift(deployed_project, cluster,
                                                                                    tmp_path):
    project = deployed_project()
    deployed = project.up()
    assert deployed.ok, deployed.output
    tag = project.outputs()["deployed"]["image"]["tag"]

    in_sync = drift_check(project, tmp_path / "summary-1.md")
    assert in_sync.returncode == 0, in_sync.stdout
    assert "drift check of stack e2e: in-sync" in in_sync.stdout

    kubectl_edit(cluster, project.namespace, project.release,
                 f"s#image: vllm/vllm-openai:{tag}#image: vllm/vllm-openai:hand-edited#")
    # Why ReleaseDrift exists: helm.v3.Release's refresh reads only Helm's release record, so on its own it misses
    # the edit (if a provider upgrade ever makes this fail, the Release sees drift itself).
    release_only = project.preview("--refresh", "--expect-no-changes", "--target", urn_of(project, RELEASE_TYPE))
    assert release_only.ok, release_only.output
    drift_only = project.preview("--refresh", "--expect-no-changes", "--target", urn_of(project, DRIFT_TYPE))
    assert not drift_only.ok, drift_only.output  # the same targeted refresh does read: control for the line above

    drifted = drift_check(project, tmp_path / "summary-2.md")
    print(drifted.stdout)
    assert drifted.returncode == 1, drifted.stdout
    assert "drift check of stack e2e: drift" in drifted.stdout
    expected = (f"Deployment {project.namespace}/{project.release}: spec.template.spec.containers[vllm].image is "
                f"'vllm/vllm-openai:hand-edited', the release sets 'vllm/vllm-openai:{tag}'")
    assert expected in drifted.stdout, drifted.stdout
    summary = (tmp_path / "summary-2.md").read_text()
    assert "has drifted" in summary and expected in summary

    # `pulumi up` without --refresh does not notice; with --refresh it refuses and names the edit and the remedy.
    refused = project.up("--refresh")
    assert not refused.ok
    assert "was changed outside Pulumi" in refused.output and expected in refused.output
    assert f"helm rollback {project.release} -n {project.namespace}" in refused.output
    assert_kubeconfig_stays_secret_in_state(project)

    kubectl_edit(cluster, project.namespace, project.release,
                 f"s#image: vllm/vllm-openai:hand-edited#image: vllm/vllm-openai:{tag}#")
    restored = drift_check(project, tmp_path / "summary-3.md")
    assert restored.returncode == 0, restored.stdout
    assert "no drift" in (tmp_path / "summary-3.md").read_text()
