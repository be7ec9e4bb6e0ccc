"""The deploy job's summary and commit status description, from `pulumi stack output --json`."""

from __future__ import annotations

import json
import subprocess
import sys

from promotion.summary import STATUS_DESCRIPTION_LIMIT, render_markdown, status_description
from tests.unit.promotion.test_workflows import ROOT

OUTPUTS = {
    "release_name": "llama-13b-staging", "namespace": "system", "revision": 4,
    "endpoint": "llama-13b-staging.system.svc.cluster.local:8000",
    "verification": {"passed": True, "p50_seconds": 0.21, "p95_seconds": 0.4123, "max_seconds": 0.5, "n": 40,
                     "verified_at": "2026-12-02T10:00:00Z", "verified_revision": 4,
                     "checks": [{"name": "GET /health", "status": "passed", "expected": "200", "observed": "200"},
                                {"name": "completion latency p95", "status": "passed", "expected": "<= 3 s",
                                 "observed": "0.412 s | n=40"}]},
    "deployed": {"model": {"path": "meta-llama/Llama-2-13b-chat-hf"},
                 "image": {"repository": "vllm/vllm-openai", "tag": "v0.11.0", "reference": "vllm/vllm-openai:v0.11.0"},
                 "chart": {"name": "vllm-deployment", "version": "0.1.0", "revision": 4},
                 "vllm_args": {"extra_args": ["--enable-prefix-caching"]}},
    "kubeconfig_hint": "[secret]",
}


def test_summary_has_revision_p95_checks_and_deployed_configuration():
    text = render_markdown(OUTPUTS, stack="staging", commit="abc123")
    assert text.startswith("### `pulumi up --stack staging`: Helm revision 4 verified")
    assert "| commit | `abc123` |" in text
    assert "| p95 latency | 0.412 s (p50 0.210 s, max 0.500 s, 40 samples) |" in text
    assert "| GET /health | passed | 200 | 200 |" in text
    assert "0.412 s \\| n=40" in text  # a pipe inside a cell does not break the table
    assert "| image.reference | vllm/vllm-openai:v0.11.0 |" in text
    assert "| model.path | meta-llama/Llama-2-13b-chat-hf |" in text
    assert '| vllm_args.extra_args | ["--enable-prefix-caching"] |' in text
    assert "No registry entry output" in text


def test_registry_entry_is_shown_when_the_stack_exports_one():
    outputs = {**OUTPUTS, "registry_entry": {"model_id": "llama-13b", "status": "active", "password": "[secret]"}}
    text = render_markdown(outputs, stack="staging")
    assert "Output `registry_entry`:" in text and "| status | active |" in text
    assert "| password | [secret] |" in text  # secrets stay as pulumi prints them without --show-secrets


def test_missing_outputs_are_reported_not_crashed_on():
    text = render_markdown({}, stack="production")
    assert "Helm revision - NOT verified" in text
    assert "no `deployed` output" in text and "No verification checks" in text


def test_status_description_fits_githubs_limit():
    assert status_description(OUTPUTS) == \
        "revision 4 verified: p95 0.412 s over 40 samples; vllm/vllm-openai:v0.11.0"
    long = {**OUTPUTS, "deployed": {"image": {"reference": "r" * 300}}}
    assert len(status_description(long)) == STATUS_DESCRIPTION_LIMIT
    assert status_description({}).startswith("revision - not verified")


def test_cli_reads_the_outputs_file(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    result = subprocess.run([sys.executable, "-m", "promotion.summary", str(path), "--stack", "staging",
                             "--description"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("revision 4 verified"), result.stderr
    path.write_text("")  # `pulumi stack output` failed: the summary still renders
    result = subprocess.run([sys.executable, "-m", "promotion.summary", str(path), "--stack", "staging"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "NOT verified" in result.stdout
