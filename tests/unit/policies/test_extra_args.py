"""vllm-extra-args-safe: model.extraArgs of any vLLM release; the pack's tables agree with components/extra_args.py."""

import pytest

from components import extra_args as component
from policies.rules import extra_args as pack

from .builders import release_props, violations, vllm_values

RULE = "vllm-extra-args-safe"
API_KEY = "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2"
HF_TOKEN = "hf_" + "AbCdEf0123456789" * 2


def found(args) -> list[str]:
    return violations(RULE, release_props(values=vllm_values(model={"extraArgs": args})))


def test_harmless_extra_args_pass():
    assert found(["--enable-prefix-caching", "--max-num-seqs=64"]) == []


def test_a_managed_flag_is_refused_naming_the_chart_value():
    assert found(["--tensor-parallel-size=4", "--port=9000"]) == [
        'vLLM release "llama-7b-development": model.extraArgs[0] is "--tensor-parallel-size=4", but the chart already '
        "sets --tensor-parallel-size and the later flag silently wins; use model.tensorParallelSize instead.",
        'vLLM release "llama-7b-development": model.extraArgs[1] is "--port=9000", but the chart already sets --port '
        "and the later flag silently wins; use nothing: the chart's probes and Service use port 8000 instead."]


def test_secrets_are_refused_and_never_quoted():
    messages = found([f"--api-key={API_KEY}", "--hf-token", HF_TOKEN])
    assert messages == [
        'vLLM release "llama-7b-development": model.extraArgs[0] passes --api-key, a literal secret in the values, '
        "the Deployment and the state; store it in a Kubernetes Secret and set apiKey.existingSecret.",
        'vLLM release "llama-7b-development": model.extraArgs[1] passes --hf-token, a literal secret in the values, '
        "the Deployment and the state; store it in a Kubernetes Secret and set model.hfToken.existingSecret.",
        'vLLM release "llama-7b-development": model.extraArgs[2] holds a token-shaped value (hidden); store it in a '
        "Kubernetes Secret and set apiKey.existingSecret or model.hfToken.existingSecret."]
    assert API_KEY not in " ".join(messages) and HF_TOKEN not in " ".join(messages)


def test_unknown_args_are_skipped(unknown_values):
    assert found([unknown_values.string, "--port=1"])[0].startswith(
        'vLLM release "llama-7b-development": model.extraArgs[1] is "--port=1"')


def test_the_pack_and_the_components_refuse_the_same_flags():
    assert set(pack.MANAGED_FLAGS) == set(component.MANAGED_FLAGS)
    assert set(pack.SECRET_FLAGS) == set(component.SECRET_FLAGS)
    assert pack.TOKEN_SHAPES.pattern == component._TOKEN_SHAPES.pattern


@pytest.mark.parametrize("arg", ["--Tensor-Parallel-Size=2", "--tensor_parallel_size=2", "-tp", "--port 1", "x", "--",
                                 f"--api-key={API_KEY}", HF_TOKEN, "--seed=0"])
def test_the_pack_and_the_components_read_a_flag_alike(arg):
    assert pack.flag_name(arg) == component.flag_name(arg)
