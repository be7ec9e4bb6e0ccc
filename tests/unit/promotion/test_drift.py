"""The drift command and how its result is reported (the real-cluster proof is tests/e2e/test_drift.py)."""

from __future__ import annotations

from promotion.drift import classify, drift_command, summary_markdown

EXPECTED_NO_CHANGES_ERROR = "error: no changes were expected for preview but changes were proposed"  # CLI 3.274


def test_command_refreshes_and_expects_no_changes():
    command = drift_command("production")
    assert command[:4] == ["pulumi", "preview", "--stack", "production"]
    assert {"--refresh", "--expect-no-changes", "--diff", "--show-full-output", "--non-interactive"} <= set(command)
    assert "up" not in command and "--yes" not in command


def test_classify_separates_drift_from_a_failed_preview():
    assert classify(0, "Resources: 5 unchanged") == "in-sync"
    assert classify(255, f"~ 1 to update\n{EXPECTED_NO_CHANGES_ERROR}") == "drift"
    assert classify(255, "error: failed to load the kubeconfig") == "error"


def test_summary_shows_the_diff_on_drift_only():
    assert "no drift" in summary_markdown("staging", "in-sync", "ignored")
    text = summary_markdown("staging", "drift", "~ spec.replicas: 3 => 1")
    assert "has drifted" in text and "```diff\n~ spec.replicas: 3 => 1\n```" in text
    assert "could not run" in summary_markdown("staging", "error", "boom")
    long = summary_markdown("staging", "drift", "x" * 100_000)
    assert len(long) < 61_000
