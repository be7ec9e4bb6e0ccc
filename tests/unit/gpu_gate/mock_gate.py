"""Register one GpuCapacityGate under Pulumi mocks and print what the engine would receive, as JSON.

Run in a fresh process (the Pulumi runtime is process-global): python -m tests.unit.gpu_gate.mock_gate
"""

from __future__ import annotations

import json
import sys

import pulumi

from tests.support.mock_program import RecordingMonitor


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
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="vllm-deploy", stack="test", preview=False, monitor=monitor)

    from components.gpu_gate.inputs import DEFAULTS
    from components.gpu_gate.resource import GpuCapacityGate, GpuCapacityGateArgs

    outputs: dict = {}

    @pulumi.runtime.test
    def program():
        gate = GpuCapacityGate("llama-gpu-capacity", GpuCapacityGateArgs(
            kubeconfig="apiVersion: v1\nkind: Config\n", namespace="system", release_name="llama",
            replicas=2, gpus_per_pod=1, **{k: v for k, v in DEFAULTS.items() if k not in ("kubeconfig", "context")},
        ))
        return gate.placeable_replicas.apply(lambda value: outputs.update(placeable_replicas=value))

    program()
    provider = mocks.provider.get("value") if isinstance(mocks.provider, dict) else mocks.provider
    json.dump({"seen": monitor.registrations, "inputs": mocks.inputs, "outputs": outputs, "provider": provider},
              sys.stdout, default=repr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
