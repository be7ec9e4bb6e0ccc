"""`make promote FROM=development TO=staging`: preview TO with the image and chart that FROM deployed and verified.

The source stack's ``deployed`` and ``verification`` outputs say what it runs and that it passed. The target is
previewed (never updated) with its own stack configuration except ``vllm-deploy:image`` repository and tag,
which come from the source. The committed ``Pulumi.<TO>.yaml`` is not modified: the merged configuration is
written to a temporary file given to ``pulumi preview --config-file``. The chart cannot be overridden (it is the
checkout's ``charts/vllm-deployment``), so promotion is refused unless the checkout's chart digest equals the one
the source deployed: check out the commit the source stack runs.

Pure planning (``plan_promotion``) is separate from the thin CLI adapter (``main``).
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from promotion.stacks import policy_config

__all__ = ["IMAGE_KEY", "PromotionPlan", "PromotionRefused", "plan_promotion", "preview_command", "main"]

ROOT = Path(__file__).resolve().parents[1]
CHART_DIR = ROOT / "charts" / "vllm-deployment"
IMAGE_KEY = "vllm-deploy:image"
ENVIRONMENT_KEY = "vllm-deploy:environment"


class PromotionRefused(RuntimeError):
    """The source stack cannot be promoted; the message says why and what to do."""


@dataclass(frozen=True)
class PromotionPlan:
    source: str
    target: str
    environment: str
    stack_document: dict
    changes: list[str] = field(default_factory=list)


def plan_promotion(*, source: str, target: str, source_outputs: Mapping[str, Any], target_document: Mapping[str, Any],
                   local_chart_digest: str) -> PromotionPlan:
    """The target's stack document with the source's verified image (pure); raises ``PromotionRefused``."""
    if source == target:
        raise PromotionRefused(f"FROM and TO are both {source!r}: promote from one stack to another")
    verification = source_outputs.get("verification") or {}
    if verification.get("passed") is not True:
        raise PromotionRefused(f"stack {source} has no passed verification in its outputs "
                               f"(verification.passed = {verification.get('passed')!r}): run `pulumi up --stack "
                               f"{source}` until it verifies, then promote")
    deployed = source_outputs.get("deployed")
    if not isinstance(deployed, Mapping):
        raise PromotionRefused(f"stack {source} has no 'deployed' output (deployed by an older program): "
                               f"run `pulumi up --stack {source}` with this checkout first")
    image = deployed.get("image") or {}
    chart = deployed.get("chart") or {}
    if not image.get("repository") or not image.get("tag"):
        raise PromotionRefused(f"stack {source}'s deployed.image is incomplete: {dict(image)!r}")
    if chart.get("digest") != local_chart_digest:
        raise PromotionRefused(
            f"stack {source} deployed chart {chart.get('name')} {chart.get('version')} with digest "
            f"{chart.get('digest')}, this checkout's charts/vllm-deployment has digest {local_chart_digest}: "
            f"check out the commit {source} runs (its commit status / deploy run), then promote")
    config = (target_document or {}).get("config")
    if not isinstance(config, Mapping):
        raise PromotionRefused(f"Pulumi.{target}.yaml has no config section")
    environment = config.get(ENVIRONMENT_KEY)
    if not isinstance(environment, str) or not environment:
        raise PromotionRefused(f"Pulumi.{target}.yaml has no {ENVIRONMENT_KEY}")

    document = copy.deepcopy(dict(target_document))
    current = dict(document["config"].get(IMAGE_KEY) or {})
    promoted = {**current, "repository": image["repository"], "tag": image["tag"]}
    document["config"][IMAGE_KEY] = promoted
    changes = [f"{IMAGE_KEY}: {_reference(current)} -> {_reference(promoted)} (from {source}, verified "
               f"p95 {verification.get('p95_seconds')} s at {verification.get('verified_at')})",
               f"chart: {chart.get('name')} {chart.get('version')} {local_chart_digest} (same as {source})"]
    return PromotionPlan(source, target, environment, document, changes)


def _reference(image: Mapping[str, Any]) -> str:
    return f"{image.get('repository', '(default)')}:{image.get('tag', '(unset)')}"


def preview_command(plan: PromotionPlan, config_file: str) -> list[str]:
    """``pulumi preview`` of the target with the merged config, the policy pack and the target's policy config."""
    return ["pulumi", "preview", "--stack", plan.target, "--config-file", config_file, "--diff",
            "--policy-pack", "policies", "--policy-pack-config", policy_config(plan.environment),
            "--non-interactive"]


def _stack_outputs(stack: str, cwd: Path) -> dict:
    completed = subprocess.run(["pulumi", "stack", "output", "--stack", stack, "--json"], cwd=cwd,
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise PromotionRefused(f"cannot read the outputs of stack {source_hint(stack)}: "
                               f"{completed.stderr.strip() or completed.stdout.strip()}")
    return json.loads(completed.stdout or "{}")


def source_hint(stack: str) -> str:
    return f"{stack} (is it in the selected backend? `pulumi stack ls`)"


def main(argv: Sequence[str] | None = None) -> int:
    from components.deployed import chart_digest

    parser = argparse.ArgumentParser(prog="python -m promotion.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--to", dest="target", required=True)
    parser.add_argument("--cwd", default=str(ROOT), help="the project directory")
    parser.add_argument("--plan-only", action="store_true", help="print the plan, do not run the preview")
    args = parser.parse_args(argv)
    cwd = Path(args.cwd)
    try:
        target_file = cwd / f"Pulumi.{args.target}.yaml"
        if not target_file.is_file():
            raise PromotionRefused(f"{target_file} does not exist: TO must be a stack of this project")
        plan = plan_promotion(source=args.source, target=args.target,
                              source_outputs=_stack_outputs(args.source, cwd),
                              target_document=yaml.safe_load(target_file.read_text()) or {},
                              local_chart_digest=chart_digest(cwd / "charts" / "vllm-deployment"))
    except PromotionRefused as exc:
        print(f"promotion refused: {exc}", file=sys.stderr)
        return 2
    print(f"promoting {plan.source} -> {plan.target} (preview only; Pulumi.{plan.target}.yaml is not modified):")
    for line in plan.changes:
        print(f"  {line}")
    if args.plan_only:
        return 0
    with tempfile.TemporaryDirectory(prefix="vllm-promote-") as tmp:
        config_file = Path(tmp) / f"Pulumi.{plan.target}.yaml"
        config_file.write_text(yaml.safe_dump(plan.stack_document, sort_keys=False))
        command = preview_command(plan, str(config_file))
        print("$ " + " ".join(command), flush=True)
        return subprocess.run(command, cwd=cwd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
