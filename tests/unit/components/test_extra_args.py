"""components.extra_args and its use in components.config: model.extraArgs cannot bypass validation or leak secrets."""

import copy
from pathlib import Path

import pytest
import yaml

from components.config import ConfigError, validate_config
from components.extra_args import MANAGED_FLAGS, SECRET_FLAGS, extra_args_problems, flag_name

ROOT = Path(__file__).resolve().parents[3]
API_KEY = "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2"
HF_TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345"


def config_with_extra_args(args: list) -> dict:
    raw = yaml.safe_load((ROOT / "Pulumi.development.yaml").read_text())["config"]
    config = copy.deepcopy({key.split(":", 1)[1]: value for key, value in raw.items()})
    config["model"]["extraArgs"] = args
    return config


def problems_for(args: list) -> list[str]:
    with pytest.raises(ConfigError) as error:
        validate_config(config_with_extra_args(args))
    return error.value.problems


@pytest.mark.parametrize("arg,expected", [
    ("--tensor-parallel-size=4", "--tensor-parallel-size"),
    ("--tensor_parallel_size=4", "--tensor-parallel-size"),
    ("--port 9000", "--port"),
    ("-tp", "-tp"),
    ("4", None),
    ("--", None),
])
def test_flag_name_normalises_as_vllm_does(arg, expected):
    assert flag_name(arg) == expected


@pytest.mark.parametrize("args,expected", [
    (["--tensor-parallel-size=4"],
     "vllm-deploy:model.extraArgs[0]: '--tensor-parallel-size=4' is not valid; the chart already sets "
     "--tensor-parallel-size (a repeated flag silently overrides it); use model.tensorParallelSize instead"),
    (["--enable-prefix-caching", "--tensor_parallel_size", "4"],
     "vllm-deploy:model.extraArgs[1]: '--tensor_parallel_size' is not valid; the chart already sets "
     "--tensor-parallel-size (a repeated flag silently overrides it); use model.tensorParallelSize instead"),
    (["--port=9000"],
     "vllm-deploy:model.extraArgs[0]: '--port=9000' is not valid; the chart already sets --port (a repeated flag "
     "silently overrides it); use nothing: the chart's probes, Service and verification use port 8000 instead"),
    (["--max-model-len=2048"],
     "vllm-deploy:model.extraArgs[0]: '--max-model-len=2048' is not valid; the chart already sets --max-model-len "
     "(a repeated flag silently overrides it); use model.maxModelLen instead"),
])
def test_a_flag_the_chart_manages_is_refused_naming_the_setting(args, expected):
    assert problems_for(args) == [expected]


def test_a_literal_api_key_is_refused_without_echoing_it():
    problems = problems_for([f"--api-key={API_KEY}"])
    assert problems == [
        "vllm-deploy:model.extraArgs[0]: (secret value hidden) is not valid; --api-key would put a literal secret into "
        "the Helm values, the Deployment and the state; store it in a Kubernetes Secret and set "
        "model.apiKeySecret: {name, key}"]
    assert API_KEY not in "\n".join(problems)


def test_a_secret_flag_and_its_separate_value_are_both_refused_and_masked():
    problems = problems_for(["--hf-token", HF_TOKEN])
    assert problems == [
        "vllm-deploy:model.extraArgs[0]: '--hf-token' is not valid; --hf-token would put a literal secret into the "
        "Helm values, the Deployment and the state; store it in a Kubernetes Secret and set "
        "model.hfTokenSecret: {name, key}",
        "vllm-deploy:model.extraArgs[1]: (secret value hidden) is not valid; this looks like a token; store it in a "
        "Kubernetes Secret and set model.apiKeySecret: {name, key} or model.hfTokenSecret: {name, key}"]
    assert HF_TOKEN not in "\n".join(problems)


def test_a_secret_flag_with_a_value_that_does_not_look_like_a_token_is_still_hidden():
    problems = problems_for(["--api-key=letmein"])
    assert problems[0].startswith("vllm-deploy:model.extraArgs[0]: '--api-key=(hidden)' is not valid; --api-key")
    assert "letmein" not in "\n".join(problems)


def test_harmless_extra_args_pass():
    config = validate_config(config_with_extra_args(["--enable-prefix-caching", "--max-num-seqs=64", "--seed", "0"]))
    assert config.model.extra_args == ("--enable-prefix-caching", "--max-num-seqs=64", "--seed", "0")
    assert extra_args_problems(["--enable-prefix-caching", "--max-num-seqs=64"]) == []


def test_every_flag_the_chart_template_sets_is_managed():
    """The chart's Deployment is where the flags are set: a new flag there must be added to MANAGED_FLAGS."""
    template = (ROOT / "charts" / "vllm-deployment" / "templates" / "deployment.yaml").read_text()
    set_by_chart = {flag_name(line.strip()[2:]) for line in template.splitlines()
                    if line.strip().startswith("- --")}
    assert set_by_chart and set_by_chart <= set(MANAGED_FLAGS), sorted(set_by_chart - set(MANAGED_FLAGS))
    assert not set(SECRET_FLAGS) & set(MANAGED_FLAGS)
