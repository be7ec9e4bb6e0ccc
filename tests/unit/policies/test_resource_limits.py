import pytest

from .builders import release_props, violations, vllm_values

RULE = "vllm-resource-limits"


def test_compliant_limits_pass():
    assert violations(RULE, release_props()) == []


def test_missing_gpu_limit_is_refused_with_the_fix():
    props = release_props(values=vllm_values(resources={"limits": {"nvidia.com/gpu": None},
                                                        "requests": {"nvidia.com/gpu": None}}))
    assert violations(RULE, props) == [
        'vLLM release "llama-7b-development": resources.limits["nvidia.com/gpu"] is not set; set it (e.g. 1) so '
        'every vLLM pod has a bounded GPU count.']


def test_zero_gpus_are_refused():
    props = release_props(values=vllm_values(resources={"limits": {"nvidia.com/gpu": 0.0},
                                                        "requests": {"nvidia.com/gpu": 0.0}}))
    assert violations(RULE, props) == [
        'vLLM release "llama-7b-development": resources.limits["nvidia.com/gpu"] is 0; vLLM needs at least 1 GPU '
        'per pod, set it to 1 or more.']


def test_missing_memory_and_cpu_limits_are_each_refused():
    props = release_props(values=vllm_values(resources={"limits": {"memory": None, "cpu": None}}))
    found = violations(RULE, props)
    assert len(found) == 2
    assert "resources.limits.memory is not set" in found[0] and "resources.limits.cpu is not set" in found[1]


def test_malformed_quantity_is_refused():
    props = release_props(values=vllm_values(resources={"limits": {"memory": "lots"}, "requests": {"memory": "1Gi"}}))
    assert violations(RULE, props) == [
        'vLLM release "llama-7b-development": resources.limits.memory is "lots", not a Kubernetes quantity; '
        'use e.g. "32Gi".']


@pytest.mark.parametrize("memory", ["64K", "2 Gi", "1e3Gi", "\uff16\uff14Gi"])
def test_quantity_the_api_server_refuses_is_refused(memory):
    """Python's number syntax or a suffix Kubernetes does not know (the pack's parser used to read these)."""
    props = release_props(values=vllm_values(resources={"limits": {"memory": memory}, "requests": {"memory": "1Gi"}}))
    assert violations(RULE, props) == [
        f'vLLM release "llama-7b-development": resources.limits.memory is "{memory}", not a Kubernetes quantity; '
        'use e.g. "32Gi".']


def test_request_above_limit_is_refused():
    props = release_props(values=vllm_values(resources={"requests": {"memory": "64Gi", "cpu": "500m"}}))
    assert violations(RULE, props) == [
        'vLLM release "llama-7b-development": resources.requests.memory "64Gi" is above resources.limits.memory '
        '"32Gi"; lower the request or raise the limit (requests must not exceed limits).']


def test_other_helm_releases_are_not_judged():
    props = {"name": "ingress", "chart": "ingress-nginx", "namespace": "default", "values": {}}
    assert violations(RULE, props) == []


def test_unknown_limits_skip_the_check(unknown_values):
    props = release_props(values=vllm_values(resources={"limits": {"memory": unknown_values.string}}))
    assert violations(RULE, props) == []
    assert violations(RULE, release_props(values=vllm_values(resources=unknown_values.string))) == []
