"""A copy of this project run by the real ``pulumi`` CLI against the local cluster, for end-to-end tests.

Each project lives in a temporary directory (so stack init and state never touch the checkout), shares the
repository's virtualenv, and uses its own file backend. Commands return the combined output and the time taken.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "charts", "policies")


def pulumi_environment(backend: Path, home: Path) -> dict[str, str]:
    """tools/env.sh's environment with a private backend and PULUMI_HOME (the built plugins installed in it)."""
    dump = subprocess.run(["bash", "-c", f". {ROOT / 'tools' / 'env.sh'} >/dev/null && env -0"],
                          capture_output=True, check=True, timeout=60).stdout.decode()
    subprocess.run([str(ROOT / "tools" / "pulumi-plugins"), str(home)], check=True, timeout=120)
    env = dict(line.split("=", 1) for line in dump.split("\0") if "=" in line)
    backend.mkdir(parents=True, exist_ok=True)
    env.update(PULUMI_HOME=str(home), PULUMI_BACKEND_URL=f"file://{backend}", PULUMI_CONFIG_PASSPHRASE="e2e",
               NO_COLOR="1", PYTHONUNBUFFERED="1")
    env.pop("KUBECONFIG", None)  # the stack names its kubeconfig explicitly
    return env


@dataclass
class Result:
    returncode: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class PulumiProject:
    """One stack of a project copy; ``config`` is the stack's ``vllm-deploy:*`` config (section -> value)."""

    def __init__(self, directory: Path, env: dict[str, str], stack: str, config: dict):
        self.directory, self.env, self.stack = directory, env, stack
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, directory / name)
        (directory / ".venv").symlink_to(ROOT / ".venv")
        self.set_config(config)
        created = self.run("stack", "init", stack)
        assert created.ok, created.output

    def set_config(self, config: dict) -> None:
        """Rewrite the stack file (keeping the secrets salt written by stack init)."""
        path = self.directory / f"Pulumi.{self.stack}.yaml"
        existing = yaml.safe_load(path.read_text()) if path.exists() else {}
        document = {"config": {f"vllm-deploy:{key}": value for key, value in config.items()}}
        if existing and "encryptionsalt" in existing:
            document["encryptionsalt"] = existing["encryptionsalt"]
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def command(self, *args: str) -> list[str]:
        return ["pulumi", *args, "--stack", self.stack, "--non-interactive", "--color", "never"] \
            if args[0] != "stack" or args[1:2] != ("init",) else ["pulumi", *args, "--non-interactive"]

    def run(self, *args: str, timeout: float = 900) -> Result:
        started = time.monotonic()
        completed = subprocess.run(self.command(*args), cwd=self.directory, env=self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=timeout)
        return Result(completed.returncode, completed.stdout, time.monotonic() - started)

    def start(self, *args: str) -> subprocess.Popen:
        """Start a command in the background; its combined output is readable line by line."""
        return subprocess.Popen(self.command(*args), cwd=self.directory, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)

    def up(self, *extra: str, timeout: float = 900) -> Result:
        return self.run("up", "--yes", "--skip-preview", *extra, timeout=timeout)

    def preview(self, *extra: str) -> Result:
        return self.run("preview", *extra)

    def destroy(self) -> Result:
        return self.run("destroy", "--yes", "--skip-preview")

    def outputs(self) -> dict:
        result = self.run("stack", "output", "--json")
        assert result.ok, result.output
        return json.loads(result.output)

    def resource_count(self) -> int:
        """Resources in the stack's state, not counting the stack itself."""
        result = self.run("stack", "export")
        assert result.ok, result.output
        resources = json.loads(result.output).get("deployment", {}).get("resources") or []
        return sum(1 for r in resources if r["type"] != "pulumi:pulumi:Stack")


def local_stack_config(kubeconfig: Path, release: str, namespace: str, /, **overrides) -> dict:
    """Pulumi.local.yaml's config with this cluster's kubeconfig, a release/namespace of the test's, and overrides."""
    raw = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())["config"]
    config = {key.split(":", 1)[1]: value for key, value in raw.items()}
    config["kubernetes"] = {"kubeconfig": str(kubeconfig), "context": "vllm-local"}
    config["release"] = {**config["release"], "name": release, "namespace": namespace}
    # Tests share the local cluster's registry database: only tests that ask for the registry write to it.
    config["registry"] = {"enabled": False}
    for section, values in overrides.items():
        config[section] = {**config.get(section, {}), **values} if isinstance(values, dict) else values
    return config

