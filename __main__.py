"""vllm-deploy: deploy a vLLM model on Kubernetes GPU nodes and prove that it serves."""

import pulumi

from components.config import ConfigError, validate_config
from components.stack_config import read_project_config
from components.vllm_model import COMPONENT_NAME, VllmModel, VllmModelArgs

try:
    deployment = validate_config(read_project_config())
except ConfigError as error:
    # Fails `pulumi preview` before any resource is registered: nothing in the cluster changes.
    raise pulumi.RunError(str(error)) from None

model = VllmModel(COMPONENT_NAME, VllmModelArgs(config=deployment))

pulumi.export("release_name", model.release_name)
pulumi.export("namespace", model.namespace)
pulumi.export("revision", model.revision)
pulumi.export("endpoint", model.endpoint)
pulumi.export("verification", model.verification)
pulumi.export("gpu_wait", model.gpu_wait)
pulumi.export("registry", model.registry)
pulumi.export("deployed", model.deployed)  # model, image, chart, resources, vLLM args
pulumi.export(
    "inspect",
    pulumi.Output.concat(
        "kubectl get pods -n ", model.namespace, " -l app.kubernetes.io/instance=", model.release_name),
)
