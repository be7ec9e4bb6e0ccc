"""Run ``__main__.py`` for one stack under Pulumi mocks and print every registration as JSON.

Used by tests/unit/test_program.py in a fresh process per stack (the Pulumi runtime is process-global).
Usage: python -m tests.support.mock_program <stack> [--config-json FILE]
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks

ROOT = Path(__file__).resolve().parents[2]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also recording parent, dependencies and provider of every registration."""

    def __init__(self, mocks):
        super().__init__(mocks)
        self.registrations: list[dict] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append({
                "type": request.type,
                "name": request.name,
                "urn": response.urn,
                "parent": request.parent,
                "custom": request.custom,
                "provider": request.provider,
                "dependencies": sorted(request.dependencies),
                "property_dependencies": {k: sorted(v.urns) for k, v in request.propertyDependencies.items()},
                "additional_secret_outputs": list(request.additionalSecretOutputs),
                "secret_inputs": sorted(k for k, v in request.object.fields.items() if _is_secret(v)),
                "keys": sorted(request.object.fields),
                "alias_names": sorted(a.spec.name for a in request.aliases if a.HasField("spec")),
            })
        return response


_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # pulumi.runtime.rpc: the wire marker of a secret value


def _is_secret(value) -> bool:
    fields = value.struct_value.fields if value.HasField("struct_value") else {}
    return "4dabf18193072939515e22adb298388d" in fields and \
        fields["4dabf18193072939515e22adb298388d"].string_value == _SECRET_SIG


class ProgramMocks(pulumi.runtime.Mocks):
    """State for each resource type as the real providers would return it."""

    def __init__(self):
        self.inputs: dict[str, dict] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        self.inputs[args.name] = _plain(args.inputs)
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {"revision": 1, "name": args.inputs.get("name"),
                               "namespace": args.inputs.get("namespace"), "status": "deployed",
                               "chart": "vllm-deployment", "version": "0.1.0"}
        elif args.typ.endswith("vllm:GpuCapacityGate"):
            state.update({"placeable_replicas": 2, "waited_seconds": 0.5, "nodes": []})
        elif args.typ.endswith("vllm:DeploymentVerification"):
            state.update({"passed": True, "summary": [{"name": "pods ready", "status": "passed"}],
                          "p50_seconds": 0.1, "p95_seconds": 0.2, "max_seconds": 0.3,
                          "n": int(args.inputs.get("samples", 20)), "verified_at": "2026-01-01T00:00:00Z",
                          "verified_revision": args.inputs.get("revision")})
        elif args.typ.endswith("vllm:ModelRegistryEntry"):
            state.update({"entry_id": 1, "status": "active", "schema_version": 2, "database": "db:5432/registry",
                          "endpoint": f"http://{args.inputs.get('release_name')}.{args.inputs.get('namespace')}"
                                      ".svc.cluster.local:8000",
                          "created_at": "2026-01-01T00:00:01+00:00", "updated_at": "2026-01-01T00:00:01+00:00",
                          "updated_by": "mock@vllm-deploy/stack"})
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def stack_config(stack: str, override_file: str | None = None) -> dict[str, str]:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    if override_file:
        raw = json.loads(Path(override_file).read_text())
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def main(argv: list[str]) -> int:
    stack = argv[0]
    override = argv[2] if len(argv) > 2 and argv[1] == "--config-json" else None
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    mocks = ProgramMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_all_config(stack_config(stack, override), ["vllm-deploy:kubernetes", "vllm-deploy:registry"])
    pulumi.runtime.set_mocks(mocks, project="vllm-deploy", stack=stack, preview=False, monitor=monitor)
    outputs: dict = {}
    error = None

    @pulumi.runtime.test
    def program():
        namespace = runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        model = namespace["model"]
        return pulumi.Output.all(
            release_name=model.release_name, namespace=model.namespace, revision=model.revision,
            endpoint=model.endpoint, verification=model.verification, gpu_wait=model.gpu_wait,
            registry=model.registry,
            deployed=model.deployed,
        ).apply(outputs.update)

    try:
        program()
    except Exception as exc:  # a config error is part of what the tests check
        error = f"{type(exc).__name__}: {exc}"
    json.dump({"registrations": monitor.registrations, "inputs": mocks.inputs, "outputs": outputs, "error": error},
              sys.stdout, default=repr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
