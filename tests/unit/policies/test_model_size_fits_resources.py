from policies.rules.sizing import MODEL_SIZES, size_requirements

from .builders import release_props, violations, vllm_values

RULE = "vllm-model-size-fits-resources"


def test_sizes_come_from_one_table():
    assert {size: (r.loading_budget_seconds, r.min_gpus, r.min_memory) for size, r in MODEL_SIZES.items()} == {
        "small": (1200, 1, "16Gi"), "medium": (2400, 1, "48Gi"), "large": (3600, 2, "64Gi")}


def test_config_overrides_the_table():
    table = size_requirements({"modelSizes": {"large": {"minGpus": 8}, "huge": {"minMemory": "512Gi"}}})
    assert table["large"].min_gpus == 8 and table["large"].min_memory == "64Gi"
    assert table["huge"].min_memory == "512Gi"


def test_each_environment_default_fits():
    for environment in ("development", "staging", "production"):
        assert violations(RULE, release_props(environment)) == []


def test_large_model_on_one_gpu_is_refused():
    values = vllm_values("production", model={"tensorParallelSize": 1},
                         resources={"limits": {"nvidia.com/gpu": 1}, "requests": {"nvidia.com/gpu": 1}})
    assert violations(RULE, release_props("production", values=values)) == [
        'vLLM release "llama-70b-production": a large model needs at least 2 GPU(s) per pod but '
        'resources.limits["nvidia.com/gpu"] is 1; raise the GPU limit (and model.tensorParallelSize) to 2 or '
        'choose a smaller model.size.']


def test_large_model_with_too_little_memory_is_refused():
    values = vllm_values("production", resources={"limits": {"memory": "32Gi"}, "requests": {"memory": "32Gi"}})
    assert violations(RULE, release_props("production", values=values)) == [
        'vLLM release "llama-70b-production": a large model needs at least 64Gi memory per pod but '
        'resources.limits.memory is "32Gi" (32Gi); raise the memory limit to 64Gi or more.']


def test_small_model_below_16gi_is_refused_and_decimal_units_count():
    values = vllm_values(resources={"limits": {"memory": "16G"}, "requests": {"memory": "8Gi"}})
    assert "needs at least 16Gi memory" in violations(RULE, release_props(values=values))[0]


def test_tensor_parallelism_above_the_gpus_is_refused():
    values = vllm_values("staging", model={"tensorParallelSize": 4})
    assert violations(RULE, release_props("staging", values=values)) == [
        'vLLM release "llama-13b-staging": model.tensorParallelSize is 4 but each pod has 2 GPU(s); lower '
        'model.tensorParallelSize or raise resources.limits["nvidia.com/gpu"].']


def test_unknown_model_size_is_refused():
    values = vllm_values(model={"size": "huge"})
    found = violations(RULE, release_props(values=values))
    assert "model.size is \"huge\", not one of small, medium, large" in found[0]


def test_configured_thresholds_apply():
    config = {"modelSizes": {"small": {"minGpus": 2}}}
    assert "needs at least 2 GPU(s)" in violations(RULE, release_props(), config=config)[0]


def test_unknown_size_value_skips_the_check(unknown_values):
    assert violations(RULE, release_props(values=vllm_values(model={"size": unknown_values.string}))) == []
