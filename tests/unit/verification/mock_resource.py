"""Register one DeploymentVerification under Pulumi mocks and print what the engine would get, as JSON.

Run in its own process (the Pulumi runtime is process-global): python -m tests.unit.verification.mock_resource
"""

from __future__ import annotations

import base64
import json

import dill
import pulumi

from tests.support.mock_program import RecordingMonitor


class Mocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.inputs = {}

    def new_resource(self, args):
        self.inputs = dict(args.inputs)
        return "system/llama", {**args.inputs, "passed": True, "summary": [], "n": 20}

    def call(self, args):
        return {}


mocks = Mocks()
monitor = RecordingMonitor(mocks)
pulumi.runtime.set_mocks(mocks, project="vllm-deploy", stack="dev", preview=False, monitor=monitor)

from components.verification import DeploymentVerification, DeploymentVerificationArgs  # noqa: E402
from components.verification.settings import DEFAULTS  # noqa: E402


@pulumi.runtime.test
def register():
    resource = DeploymentVerification(
        "verify",
        DeploymentVerificationArgs(
            namespace="system", release_name="llama", revision=3, kubeconfig="apiVersion: v1\nkind: Config\n",
            **{k: v for k, v in DEFAULTS.items() if k not in ("kubeconfig", "provider_version")},
        ),
    )

    def report(values):
        provider_blob = mocks.inputs["__provider"]
        if isinstance(provider_blob, dict):  # a secret on the wire: {SECRET_KEY: SECRET_SIG, "value": ...}
            provider_blob = provider_blob["value"]
        provider = dill.loads(base64.b64decode(provider_blob))
        print(json.dumps({
            "registrations": monitor.registrations,
            "passed": values[0],
            "n": values[1],
            "inputs": {k: v for k, v in mocks.inputs.items() if k != "__provider"},
            "provider_class": type(provider).__module__ + "." + type(provider).__name__,
        }))

    return pulumi.Output.all(resource.passed, resource.n).apply(report)


register()
