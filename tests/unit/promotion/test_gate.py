"""The staging gate opens only on the newest vllm-deploy/development status, posted by this repository's Actions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promotion.gate import ACTIONS_BOT, decide
from tests.unit.promotion.test_workflows import ROOT

REPO = "acme/vllm-deploy"
SHA = "0123456789abcdef0123456789abcdef01234567"
RUN = f"https://github.com/{REPO}/actions/runs/42"


def status(context="vllm-deploy/development", state="success", creator=ACTIONS_BOT, target_url=RUN,
           description="revision 3 verified: p95 0.412 s over 20 samples"):
    """One entry of GET /repos/{owner}/{repo}/commits/{ref}/statuses (the fields the gate reads)."""
    return {"context": context, "state": state, "creator": {"login": creator}, "target_url": target_url,
            "description": description, "id": 1, "created_at": "2026-12-02T10:00:00Z"}


def gate(statuses, commit=SHA):
    return decide(statuses, commit=commit, stack="development", repository=REPO)


def test_opens_on_a_successful_development_deployment_by_the_workflow():
    decision = gate([status(context="ci/lint"), status()])
    assert decision.open, decision.reason
    assert "revision 3 verified" in decision.reason and RUN in decision.reason


@pytest.mark.parametrize("statuses,expected", [
    ([], "has no vllm-deploy/development status"),
    ([status(context="vllm-deploy/staging")], "has no vllm-deploy/development status"),
    ([status(state="failure", description="pulumi up failed")], "is 'failure' (pulumi up failed)"),
    ([status(state="pending")], "is 'pending'"),
    ([status(creator="mallory")], "posted by mallory, not by github-actions[bot]"),
    ([status(target_url="https://example.com/x")], "links to https://example.com/x"),
    ([status(target_url="https://github.com/other/repo/actions/runs/1")], "not to a run of acme/vllm-deploy"),
])
def test_stays_closed_with_the_reason(statuses, expected):
    decision = gate(statuses)
    assert not decision.open
    assert expected in decision.reason


def test_the_newest_status_decides():
    # A redeploy of the same commit failed after an earlier success: the gate follows the newest.
    assert not gate([status(state="failure"), status()]).open
    # A failed attempt then a successful re-run: open.
    assert gate([status(), status(state="failure")]).open


@pytest.mark.parametrize("commit", ["0123abc", "main", SHA.upper(), SHA + "0", ""])
def test_only_a_full_sha_is_accepted(commit):
    decision = gate([status()], commit=commit)
    assert not decision.open and "full 40-character" in decision.reason


def test_cli_exit_status_and_messages(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps([status()]))
    bad.write_text(json.dumps([status(state="error")]))
    args = ["--commit", SHA, "--stack", "development", "--repository", REPO]
    opened = subprocess.run([sys.executable, "-m", "promotion.gate", str(good), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert opened.returncode == 0 and opened.stdout.startswith("gate open:"), opened.stderr
    closed = subprocess.run([sys.executable, "-m", "promotion.gate", str(bad), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert closed.returncode == 1 and "gate closed:" in closed.stderr and "'error'" in closed.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"message": "Not Found"}')
    refused = subprocess.run([sys.executable, "-m", "promotion.gate", str(garbage), *args], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "JSON array" in refused.stderr
