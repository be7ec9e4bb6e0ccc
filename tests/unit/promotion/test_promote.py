"""`make promote`: the target's stack config with the source's verified image, refused with a reason otherwise."""

from __future__ import annotations

import pytest
import yaml

from components.deployed import chart_digest
from promotion.promote import IMAGE_KEY, PromotionRefused, plan_promotion, preview_command
from tests.unit.promotion.test_workflows import ROOT

DIGEST = chart_digest(ROOT / "charts" / "vllm-deployment")


def source_outputs(**changes):
    outputs = {
        "verification": {"passed": True, "p95_seconds": 0.41, "verified_at": "2026-12-02T10:00:00Z"},
        "deployed": {"image": {"repository": "registry.example.com/vllm/vllm-openai", "tag": "v0.11.1",
                               "reference": "registry.example.com/vllm/vllm-openai:v0.11.1"},
                     "chart": {"name": "vllm-deployment", "version": "0.1.0", "digest": DIGEST, "revision": 7}},
    }
    outputs.update(changes)
    return outputs


def staging_document():
    return yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())


def plan(**kwargs):
    arguments = {"source": "development", "target": "staging", "source_outputs": source_outputs(),
                 "target_document": staging_document(), "local_chart_digest": DIGEST}
    arguments.update(kwargs)
    return plan_promotion(**arguments)


def test_target_gets_the_source_image_and_keeps_everything_else():
    document = staging_document()
    result = plan(target_document=document)
    assert result.environment == "staging"
    merged = result.stack_document["config"]
    assert merged[IMAGE_KEY] == {"repository": "registry.example.com/vllm/vllm-openai", "tag": "v0.11.1"}
    for key, value in document["config"].items():
        if key != IMAGE_KEY:
            assert merged[key] == value, key
    assert document["config"][IMAGE_KEY]["tag"] == "v0.11.0"  # the input document is not modified
    assert "vllm/vllm-openai:v0.11.0 -> registry.example.com/vllm/vllm-openai:v0.11.1" in result.changes[0]


def test_preview_command_uses_a_separate_config_file_and_the_targets_policy_config():
    command = preview_command(plan(), "/tmp/promote/Pulumi.staging.yaml")
    assert command[:4] == ["pulumi", "preview", "--stack", "staging"]
    assert command[command.index("--config-file") + 1] == "/tmp/promote/Pulumi.staging.yaml"
    assert command[command.index("--policy-pack") + 1] == "policies"
    assert command[command.index("--policy-pack-config") + 1] == "policies/config/staging.json"


@pytest.mark.parametrize("outputs,expected", [
    (source_outputs(verification={"passed": False}), "has no passed verification"),
    (source_outputs(verification=None), "has no passed verification"),
    ({"verification": {"passed": True}}, "has no 'deployed' output"),
    (source_outputs(deployed={"image": {"repository": "vllm/vllm-openai"}, "chart": {"digest": DIGEST}}),
     "deployed.image is incomplete"),
    (source_outputs(deployed={"image": {"repository": "r", "tag": "t"},
                              "chart": {"name": "vllm-deployment", "version": "0.1.0", "digest": "sha256:other"}}),
     "with digest sha256:other, this checkout's charts/vllm-deployment has digest " + DIGEST),
])
def test_refused_with_the_reason(outputs, expected):
    with pytest.raises(PromotionRefused) as raised:
        plan(source_outputs=outputs)
    assert expected in str(raised.value)


def test_same_stack_and_broken_target_are_refused():
    with pytest.raises(PromotionRefused, match="both 'staging'"):
        plan(source="staging")
    with pytest.raises(PromotionRefused, match="no vllm-deploy:environment"):
        plan(target_document={"config": {IMAGE_KEY: {"tag": "v1"}}})


def test_chart_digest_changes_with_any_chart_file(tmp_path):
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("version: 0.1.0\n")
    (chart / "templates" / "a.yaml").write_text("kind: A\n")
    before = chart_digest(chart)
    assert before == chart_digest(chart) and before.startswith("sha256:")
    (chart / "templates" / "a.yaml").write_text("kind: B\n")
    assert chart_digest(chart) != before
