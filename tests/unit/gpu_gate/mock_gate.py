"""Register one GpuCapacityGate under Pulumi mocks and print what the engine would receive, as JSON.

Run in a fresh process (the Pulumi runtime is process-global): python -m tests.unit.gpu_gate.mock_gate
"""

from __future__ import annotations

import json
import sys

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def _is_secret(value) -> bool:
    fields = value.struct_value.fields if value.HasField("struct_value") else {}
    return SECRET_KEY in fields and fields[SECRET_KEY].string_value == SECRET_SIG


class Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.seen: list[dict] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.seen.append({
                "type": request.type,
                "additional_secret_outputs": list(request.additionalSecretOutputs),
                "secret_inputs": sorted(k for k, v in request.object.fields.items() if _is_secret(v)),
            })
        return response


class Mocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.inputs: dict = {}

    def new_resource(self, args):
        self.inputs = {k: v for k, v in args.inputs.items() if k != "__provider"}
        self.provider = args.inputs.get("__provider")
        return "gate-id", dict(args.inputs, placeable_replicas=2, waited_seconds=0.0, nodes=[])

    def call(self, args):
        return {}


def main() -> int:
    mocks = Mocks()
    monitor = Monitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="vllm-deploy", stack="test", preview=False, monitor=monitor)

    from components.gpu_gate.resource import GpuCapacityGate, GpuCapacityGateArgs

    outputs: dict = {}

    @pulumi.runtime.test
    def program():
        gate = GpuCapacityGate("llama-gpu-capacity", GpuCapacityGateArgs(
            kubeconfig="apiVersion: v1\nkind: Config\n", namespace="system", release_name="llama",
            replicas=2, gpus_per_pod=1,
        ))
        return gate.placeable_replicas.apply(lambda value: outputs.update(placeable_replicas=value))

    program()
    provider = mocks.provider.get("value") if isinstance(mocks.provider, dict) else mocks.provider
    json.dump({"seen": monitor.seen, "inputs": mocks.inputs, "outputs": outputs, "provider": provider},
              sys.stdout, default=repr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
