"""The policy pack cannot import components/: where it keeps its own copy of a rule or a constant, these tests fail
when the copy and the components' original disagree."""

import pytest

from components import presets
from components.config import ConfigError, validate_config
from policies.rules import extra_args as pack_extra_args
from policies.rules import subjects
from tests.unit.components.test_config import base

from .builders import release_props, violations, vllm_values


def test_the_gpu_resource_name_is_the_components():
    assert subjects.GPU_RESOURCE == presets.GPU_RESOURCE


def test_the_port_the_pack_names_is_the_service_port():
    assert pack_extra_args.MANAGED_FLAGS["--port"].endswith(f"port {presets.SERVICE_PORT}")


@pytest.mark.parametrize("tensor_parallel, gpus", [(1, 1), (2, 1), (2, 2), (4, 2), (3, 4)])
def test_the_pack_and_the_config_bound_tensor_parallelism_alike(tensor_parallel, gpus):
    """Config (at preview, from the stack) and policy (on the Helm values) apply one rule: tp <= GPUs per pod."""
    raw = base()
    raw["model"]["tensorParallelSize"] = tensor_parallel
    raw.setdefault("resources", {}).setdefault("limits", {})[presets.GPU_RESOURCE] = gpus
    try:
        validate_config(raw)
        config_refuses = False
    except ConfigError as error:
        config_refuses = any("tensorParallelSize" in problem for problem in error.problems)
    values = vllm_values(model={"tensorParallelSize": tensor_parallel},
                         resources={"limits": {presets.GPU_RESOURCE: gpus}, "requests": {presets.GPU_RESOURCE: gpus}})
    pack_refuses = any("tensorParallelSize is" in v for v in violations("vllm-model-size-fits-resources",
                                                                        release_props(values=values)))
    assert config_refuses == pack_refuses == (tensor_parallel > gpus)
