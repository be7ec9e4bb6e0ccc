"""The policy pack under the real engine: `pulumi preview --policy-pack policies` blocks a violating stack with the
rule's message and passes the shipped stacks.

Needs the CLI, the Python language host and the kubernetes provider from tools/build (environment from
tools/env.sh). Each test works in a temp dir with its own file backend and PULUMI_HOME; no cluster is needed
(previews of a Helm release run against an unreachable cluster).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.support.pulumi_project import pulumi_environment
from tests.support.tools import require_plugin, require_tool

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "charts")
SHIPPED_STACKS = ("development", "staging", "production")
PREVIEW_TIMEOUT = 600

STUB_VERIFICATION = '''
from pulumi import dynamic


class _Accept(dynamic.ResourceProvider):
    def check(self, olds, news):
        return dynamic.CheckResult(news, [])

    def create(self, props):
        return dynamic.CreateResult("id", props)


class DeploymentVerification(dynamic.Resource, module="vllm", name="DeploymentVerification"):
    """Same type token as components/verification's resource; accepts anything."""

    def __init__(self, name, props, opts=None):
        super().__init__(_Accept(), name, props, opts)
'''


@pytest.fixture(scope="module")
def pulumi_env(tmp_path_factory) -> dict[str, str]:
    """tools/env.sh's environment, with a private backend and PULUMI_HOME and no cluster."""
    for tool in ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python"):
        require_tool(tool)
    require_plugin("resource", "kubernetes")
    home = tmp_path_factory.mktemp("pulumi")
    env = pulumi_environment(home / "backend", home / "home")
    env["PULUMI_CONFIG_PASSPHRASE"] = "policy-e2e"
    return env


def pulumi(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=PREVIEW_TIMEOUT)


def preview(env: dict[str, str], cwd: Path, stack: str, config: str | None = None) -> subprocess.CompletedProcess:
    """`pulumi preview --policy-pack policies [--policy-pack-config policies/config/<config>.json]` of stack."""
    if pulumi(env, cwd, "stack", "select", stack).returncode != 0:
        created = pulumi(env, cwd, "stack", "init", stack)
        assert created.returncode == 0, created.stderr
    args = ["preview", "--stack", stack, "--color", "never", "--policy-pack", str(PACK)]
    if config:
        args += ["--policy-pack-config", str(PACK / "config" / f"{config}.json")]
    result = pulumi(env, cwd, *args)
    result.output = result.stdout + result.stderr  # type: ignore[attr-defined]
    return result


def program(tmp_path: Path, name: str, body: str) -> Path:
    """A throwaway Python program using the project's virtualenv."""
    directory = tmp_path / name
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(textwrap.dedent(f"""\
        name: {name}
        runtime:
          name: python
          options:
            toolchain: pip
            virtualenv: {ROOT / '.venv'}
        """))
    (directory / "__main__.py").write_text("import pulumi\nimport pulumi_kubernetes as k8s\n" + body)
    # A stack with at least one config value (the language host stumbles on an empty config).
    (directory / "Pulumi.e2e.yaml").write_text("config:\n  marker: policy-e2e\n")
    return directory


def release_code(*, tag: str = "v0.11.0", namespace: str = "vllm", gpus: int = 4) -> str:
    return textwrap.dedent(f'''
        release = k8s.helm.v3.Release(
            "llama-release",
            name="llama-70b-production",
            chart="{ROOT / 'charts' / 'vllm-deployment'}",
            namespace="{namespace}",
            skip_await=True,  # the verified rollout: the verification drives it, Helm must not wait
            timeout=6300,
            values={{
                "environment": "production",
                "replicaCount": 2,
                "rollout": {{"mode": "verified"}},
                "podDisruptionBudget": {{"enabled": True}},
                "image": {{"repository": "vllm/vllm-openai", "tag": "{tag}"}},
                "model": {{"path": "meta-llama/Llama-2-70b-chat-hf", "size": "large", "tensorParallelSize": {gpus}}},
                "resources": {{"limits": {{"nvidia.com/gpu": {gpus}, "memory": "256Gi", "cpu": "32"}}}},
                "startup": {{"budgetSeconds": 5400}},
            }},
        )
        ''')


def verification_code(*, linked: bool = True, p95: float = 3.0) -> str:
    revision = '"revision": release.status.revision, ' if linked else ""
    return STUB_VERIFICATION + textwrap.dedent(f'''
        DeploymentVerification("llama-verification", {{
            "namespace": "vllm", "release_name": "llama-70b-production", {revision}
            "p95_limit_seconds": {p95}, "pod_ready_timeout_seconds": 5400,
        }})
        ''')


def test_violating_release_is_blocked_with_the_rules_message(pulumi_env, tmp_path):
    cwd = program(tmp_path, "policy-bad", release_code(tag="latest", namespace="default", gpus=1)
                  + verification_code())
    result = preview(pulumi_env, cwd, "e2e")
    assert result.returncode != 0, result.output
    assert "[mandatory]  vllm-image-pinned" in result.output
    assert ('vLLM release "llama-70b-production": image "vllm/vllm-openai:latest" uses the floating tag "latest"; '
            'set image.tag to a released version (e.g. "v0.11.0") or pin a digest (repository@sha256:...).'
            ) in result.output
    assert ('vLLM release "llama-70b-production": namespace is "default"; deploy into a dedicated namespace '
            '(e.g. "vllm-<environment>") instead of "default".') in result.output
    assert ('vLLM release "llama-70b-production": a large model needs at least 2 GPU(s) per pod but '
            'resources.limits["nvidia.com/gpu"] is 1') in result.output


def test_the_development_config_makes_the_same_violations_advisory(pulumi_env, tmp_path):
    cwd = program(tmp_path, "policy-advisory", release_code(tag="latest") + verification_code())
    result = preview(pulumi_env, cwd, "e2e", config="development")
    assert result.returncode == 0, result.output
    assert "[advisory]  vllm-image-pinned" in result.output
    assert "[mandatory]" not in result.output


def test_compliant_release_with_its_verification_passes(pulumi_env, tmp_path):
    cwd = program(tmp_path, "policy-good", release_code() + verification_code())
    result = preview(pulumi_env, cwd, "e2e", config="production")
    assert result.returncode == 0, result.output
    assert "✅ vllm-deploy-policies" in result.output


def test_stack_policy_blocks_a_release_nothing_verifies(pulumi_env, tmp_path):
    cwd = program(tmp_path, "policy-unverified", release_code() + verification_code(linked=False))
    result = preview(pulumi_env, cwd, "e2e")
    assert result.returncode != 0, result.output
    assert "[mandatory]  vllm-post-deploy-verification" in result.output
    assert 'vLLM release "llama-70b-production" has no post-deploy verification depending on it' in result.output


def test_stack_policy_blocks_a_loose_p95_limit(pulumi_env, tmp_path):
    cwd = program(tmp_path, "policy-loose", release_code() + verification_code(p95=5.0))
    result = preview(pulumi_env, cwd, "e2e")
    assert result.returncode != 0, result.output
    assert ('DeploymentVerification "llama-verification" of vLLM release "llama-70b-production": '
            'p95_limit_seconds is 5; set it to at most 3 s') in result.output


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The program and its shipped stack files in a temp dir (stack init writes into Pulumi.<stack>.yaml)."""
    directory = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, directory / name)
    for stack in SHIPPED_STACKS:
        shutil.copy2(ROOT / f"Pulumi.{stack}.yaml", directory / f"Pulumi.{stack}.yaml")
    os.symlink(ROOT / ".venv", directory / ".venv")
    return directory


@pytest.mark.parametrize("with_config", [False, True], ids=["pack-defaults", "environment-config"])
@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stack_passes_the_policy_pack(pulumi_env, project_copy, stack, with_config):
    result = preview(pulumi_env, project_copy, stack, config=stack if with_config else None)
    assert "✅ vllm-deploy-policies" in result.output and "[mandatory]" not in result.output, result.output
    assert result.returncode == 0, result.output
