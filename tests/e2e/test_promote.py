"""`make promote` for real: deploy a source stack on the local cluster, then preview another stack of the same
project with the source's verified image through `python -m promotion.promote` (what the Make target runs).
The target's stack file is not modified, and a chart that differs from the deployed one is refused."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.support.pulumi_project import ROOT, local_stack_config

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def promote(project, source: str, target: str) -> subprocess.CompletedProcess:
    env = {**project.env, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "promotion.promote", "--from", source, "--to", target,
                           "--cwd", str(project.directory)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900)


def test_promote_previews_the_target_with_the_sources_verified_image(deployed_project, cluster):
    project = deployed_project(image={"tag": "v0.11.0"})
    deployed = project.up()
    assert deployed.ok, deployed.output
    assert project.outputs()["deployed"]["image"]["tag"] == "v0.11.0"

    target = local_stack_config(cluster.kubeconfig, f"{project.release}-t", project.namespace,
                                image={"tag": "v0.10.2"})
    stack_file = project.directory / "Pulumi.target.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {f"vllm-deploy:{k}": v for k, v in target.items()}}))
    created = project.run("stack", "init", "target")
    assert created.ok, created.output
    committed = stack_file.read_text()

    result = promote(project, "e2e", "target")
    assert result.returncode == 0, result.stdout
    plan, _, preview = result.stdout.partition("$ pulumi preview --stack target --config-file ")
    assert "vllm-deploy:image: vllm/vllm-openai:v0.10.2 -> vllm/vllm-openai:v0.11.0 (from e2e, verified" in plan
    assert "--policy-pack policies --policy-pack-config policies/config/development.json" in preview
    assert re.search(r'tag\s*: "v0\.11\.0"', preview), preview  # the Helm values carry the source's image
    assert "v0.10.2" not in preview
    assert re.search(r"\+ \d+ to create", preview) and "Policy Packs run:" in preview
    assert stack_file.read_text() == committed  # the target's stack file is untouched

    # A checkout whose chart differs from what the source deployed is refused before any preview.
    values = project.directory / "charts" / "vllm-deployment" / "values.yaml"
    values.write_text(values.read_text() + "\n# edited after the source deployed\n")
    refused = promote(project, "e2e", "target")
    assert refused.returncode == 2, refused.stdout
    assert "promotion refused: stack e2e deployed chart vllm-deployment 0.1.0 with digest sha256:" in refused.stdout
    assert "check out the commit e2e runs" in refused.stdout
