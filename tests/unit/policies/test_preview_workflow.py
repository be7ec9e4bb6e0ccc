"""The PR preview workflow: actionlint-clean, and it previews every stack with the policy pack and its config."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"
STACKS = ["development", "staging", "production"]


def load_workflow() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def pulumi_step(workflow: dict) -> dict:
    [step] = [s for s in workflow["jobs"]["preview"]["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    return step


@pytest.mark.tools
def test_workflow_passes_actionlint():
    actionlint = require_tool("actionlint")
    result = subprocess.run([str(actionlint), "-no-color", str(WORKFLOW)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.tools
def test_pulumi_action_inputs_are_known_to_actionlint(tmp_path):
    """actionlint knows pulumi/actions' inputs up to v6; v7 (Node 24) kept them, so lint a v6 copy for input names."""
    actionlint = require_tool("actionlint")
    copy = tmp_path / "preview.yml"
    copy.write_text(WORKFLOW.read_text().replace("pulumi/actions@v7", "pulumi/actions@v6"))
    result = subprocess.run([str(actionlint), "-no-color", str(copy)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_on_pull_requests_for_every_shipped_stack():
    workflow = load_workflow()
    assert "pull_request" in workflow["on"]
    assert workflow["jobs"]["preview"]["strategy"]["matrix"]["stack"] == STACKS
    assert workflow["jobs"]["preview"]["strategy"]["fail-fast"] is False
    for stack in STACKS:
        assert (ROOT / "policies" / "config" / f"{stack}.json").is_file()


def test_previews_with_pulumis_action_the_policy_pack_and_the_stacks_config():
    step = pulumi_step(load_workflow())
    assert step["uses"] == "pulumi/actions@v7"
    inputs = step["with"]
    assert inputs["command"] == "preview"
    assert inputs["stack-name"] == "${{ matrix.stack }}"
    assert inputs["policyPacks"] == "policies"
    assert inputs["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert inputs["comment-on-pr"] is True


def test_posts_a_blocked_preview_too_and_may_comment():
    workflow = load_workflow()
    assert workflow["permissions"]["pull-requests"] == "write"
    fallback = workflow["jobs"]["preview"]["steps"][-1]
    assert fallback["if"] == "failure() && steps.preview.outcome == 'failure'"
    assert "gh pr comment" in fallback["run"]


def test_secrets_come_from_repository_secrets_only():
    text = WORKFLOW.read_text()
    assert "secrets.PULUMI_CONFIG_PASSPHRASE" in text and "secrets.PULUMI_BACKEND_URL" in text
