from policies.rules.subjects import GPU_GATE_TYPE, VERIFICATION_TYPE

from .builders import release_props, verification_props, violations

RULE = "vllm-namespace-not-default"


def test_dedicated_namespace_passes():
    assert violations(RULE, release_props()) == []
    assert violations(RULE, verification_props(), VERIFICATION_TYPE) == []


def test_default_namespace_is_refused():
    assert violations(RULE, release_props(namespace="default")) == [
        'vLLM release "llama-7b-development": namespace is "default"; deploy into a dedicated namespace '
        '(e.g. "vllm-<environment>") instead of "default".']


def test_missing_namespace_on_the_release_is_refused():
    assert "namespace is not set" in violations(RULE, release_props(namespace=None))[0]


def test_gate_and_verification_in_default_are_refused():
    found = violations(RULE, {"namespace": "default"}, GPU_GATE_TYPE, name="llama-gpu-capacity")
    assert found == ['GpuCapacityGate "llama-gpu-capacity": namespace is "default"; deploy into a dedicated '
                     'namespace (e.g. "vllm-<environment>") instead of "default".']
    assert violations(RULE, verification_props(namespace="default"), VERIFICATION_TYPE)


def test_unrelated_resources_and_unknown_namespaces_are_skipped(unknown_values):
    assert violations(RULE, {"metadata": {"namespace": "default"}}, "kubernetes:core/v1:ConfigMap") == []
    assert violations(RULE, release_props(namespace=unknown_values.string)) == []
