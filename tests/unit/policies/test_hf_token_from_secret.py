from .builders import release_props, violations, vllm_values

RULE = "vllm-hf-token-from-secret"
TOKEN = "hf_" + "AbCdEf0123456789" * 2  # a fake, token-shaped literal
FIX = ("store the token in a Kubernetes Secret and reference it with model.hfToken.existingSecret "
       "(or an env entry's valueFrom.secretKeyRef)")


def test_secret_references_pass():
    values = vllm_values(extraEnv=[{"name": "HF_TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}},
                                   {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "hf_transfer"}])
    assert violations(RULE, release_props(values=values)) == []


def test_literal_token_in_env_is_refused_without_echoing_it():
    values = vllm_values(extraEnv=[{"name": "HUGGING_FACE_HUB_TOKEN", "value": TOKEN}])
    found = violations(RULE, release_props(values=values))
    assert found == [f'vLLM release "llama-7b-development": extraEnv[0] sets HUGGING_FACE_HUB_TOKEN to a literal '
                     f'value; {FIX}.']
    assert TOKEN not in " ".join(found)


def test_literal_env_value_is_refused_even_if_not_token_shaped():
    values = vllm_values(extraEnv=[{"name": "HF_TOKEN", "value": "secret"}])
    assert len(violations(RULE, release_props(values=values))) == 1


def test_literal_in_hf_token_settings_is_refused():
    values = vllm_values(model={"hfToken": {"value": TOKEN}})
    assert violations(RULE, release_props(values=values)) == [
        f'vLLM release "llama-7b-development": model.hfToken.value is a literal value; {FIX}.']
    assert "model.hfToken is a literal value" in violations(RULE, release_props(values=vllm_values(
        model={"hfToken": TOKEN})))[0]


def test_token_anywhere_in_values_is_refused_masked():
    values = vllm_values(model={"extraArgs": ["--download-dir", "/models", TOKEN]})
    assert violations(RULE, release_props(values=values)) == [
        f'vLLM release "llama-7b-development": values.model.extraArgs[2] holds a literal Hugging Face token '
        f'(hf_****); {FIX}.']


def test_unknown_values_are_skipped(unknown_values):
    values = vllm_values(extraEnv=[{"name": "HF_TOKEN", "value": unknown_values.string}],
                         model={"hfToken": unknown_values.object})
    assert violations(RULE, release_props(values=values)) == []
