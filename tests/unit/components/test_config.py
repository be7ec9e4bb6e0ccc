"""components.config: the shipped stacks validate; every bad configuration is named precisely."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from components.config import ConfigError, config_warnings, validate_config

ROOT = Path(__file__).resolve().parents[3]
STACKS = ("development", "staging", "production", "local")


def stack_config(stack: str) -> dict:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: value for key, value in raw.items()}


def base() -> dict:
    return copy.deepcopy(stack_config("development"))


def with_change(path: str, value) -> dict:
    config = base()
    *parents, last = path.split(".") if not path.startswith("resources.limits.nvidia") else \
        ["resources", "limits", "nvidia.com/gpu"]
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(last)
    else:
        node[last] = value
    return config


DELETE = object()


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_are_valid(stack):
    config = validate_config(stack_config(stack))
    assert config.release.namespace == "system"
    assert config.release.name.endswith(stack)


def test_presets_fill_what_the_stack_leaves_out():
    config = validate_config({
        "environment": "production",
        "model": {"path": "meta-llama/Llama-2-70b-chat-hf", "size": "large"},
        "release": {"name": "llama-70b", "namespace": "system"},
        "image": {"tag": "v0.11.0"},
    })
    assert (config.resources.gpus, config.resources.memory_limit, config.resources.cpu_limit) == (4, "256Gi", "32")
    assert config.model.tensor_parallel_size == 4
    assert config.model.startup_budget_seconds == 5400  # large 3600 s x production 1.5
    assert config.release.timeout_seconds == 5400 + 900
    # the verified rollout: Helm must not wait (the verification drives the rollout), so it cannot be atomic
    assert config.release.rollout == "verified"
    assert not config.release.atomic and not config.release.helm_wait
    assert config.gpu_wait.timeout_seconds == 30 * 60
    assert config.verification.pod_ready_timeout_seconds == 5400
    assert config.endpoint == "llama-70b.system.svc.cluster.local:8000"


def test_development_is_faster_than_production():
    dev = validate_config({**base(), "gpuWait": {}, "release": {"name": "a", "namespace": "system"}})
    assert dev.gpu_wait.timeout_seconds == 600
    assert not dev.release.atomic
    assert dev.model.startup_budget_seconds == 1200


def test_requests_default_to_limits():
    config = validate_config(base())
    assert config.resources.memory_request == config.resources.memory_limit == "32Gi"
    assert config.resources.cpu_request == "8"


BAD_CONFIGS = [
    ("unknown size", with_change("model.size", "huge"),
     "vllm-deploy:model.size: 'huge' is not valid; allowed: small, medium, large"),
    ("zero GPUs", with_change("resources.limits.nvidia.com/gpu", 0),
     "vllm-deploy:resources.limits.nvidia.com/gpu: 0 is not valid; expected a whole number >= 1 and <= 16"),
    ("fractional GPUs", with_change("resources.limits.nvidia.com/gpu", 1.5),
     "vllm-deploy:resources.limits.nvidia.com/gpu: 1.5 is not valid; expected a whole number >= 1 and <= 16"),
    ("memory in GB", with_change("resources.limits.memory", "32GB"),
     "vllm-deploy:resources.limits.memory: '32GB' is not valid; expected a positive Kubernetes quantity such as "
     "32Gi, 512Mi, 8 or 500m (binary suffixes Ki/Mi/Gi/Ti, decimal k/M/G/T; 'GB'/'MB' are not quantities)"),
    ("cpu not a quantity", with_change("resources.limits.cpu", "eight"),
     "vllm-deploy:resources.limits.cpu: 'eight' is not valid; expected a positive Kubernetes quantity such as "
     "32Gi, 512Mi, 8 or 500m (binary suffixes Ki/Mi/Gi/Ti, decimal k/M/G/T; 'GB'/'MB' are not quantities)"),
    ("request above limit", with_change("resources.requests", {"memory": "64Gi"}),
     "vllm-deploy:resources.requests.memory: '64Gi' is not valid; must not exceed resources.limits.memory (32Gi)"),
    ("latest tag", with_change("image.tag", "latest"),
     "vllm-deploy:image.tag: 'latest' is not valid; expected a pinned tag such as v0.11.0 or a digest "
     "sha256:<64 hex>; 'latest' and empty tags are not allowed"),
    ("missing tag", with_change("image.tag", DELETE),
     "vllm-deploy:image.tag: (missing) is not valid; expected a pinned tag such as v0.11.0 or a digest "
     "sha256:<64 hex>; 'latest' and empty tags are not allowed"),
    ("tag in repository", with_change("image.repository", "vllm/vllm-openai:latest"),
     "vllm-deploy:image.repository: 'vllm/vllm-openai:latest' is not valid; expected an image repository such as "
     "vllm/vllm-openai, without a tag"),
    ("negative GPU wait", with_change("gpuWait.timeoutMinutes", -5),
     "vllm-deploy:gpuWait.timeoutMinutes: -5 is not valid; expected a number > 0 and <= 1440"),
    ("negative Helm timeout", with_change("release.timeoutSeconds", -1),
     "vllm-deploy:release.timeoutSeconds: -1 is not valid; expected a whole number >= 1"),
    ("zero latency limit", with_change("verification.p95LimitSeconds", 0),
     "vllm-deploy:verification.p95LimitSeconds: 0 is not valid; expected a number > 0 and <= 600"),
    ("typo in a section key", with_change("model.sizee", "small"),
     "vllm-deploy:model.sizee: unknown key; did you mean 'size'?"),
    ("typo in a top-level key", {**base(), "verifcation": {}},
     "vllm-deploy:verifcation: unknown key; did you mean 'verification'?"),
    ("unknown environment", with_change("environment", "prod"),
     "vllm-deploy:environment: 'prod' is not valid; allowed: development, staging, production"),
    ("release name with capitals", with_change("release.name", "Llama-7B"),
     "vllm-deploy:release.name: 'Llama-7B' is not valid; expected a DNS-1123 label of at most 53 characters "
     "(Helm's limit), e.g. llama-7b-development"),
    ("release name too long", with_change("release.name", "a" * 54),
     f"vllm-deploy:release.name: {'a' * 54!r} is not valid; expected a DNS-1123 label of at most 53 characters "
     "(Helm's limit), e.g. llama-7b-development"),
    ("namespace with underscore", with_change("release.namespace", "my_ns"),
     "vllm-deploy:release.namespace: 'my_ns' is not valid; expected a DNS-1123 label of at most 63 characters, "
     "e.g. system"),
    ("missing model path", with_change("model.path", DELETE),
     "vllm-deploy:model.path: (missing) is not valid; expected a model id such as meta-llama/Llama-2-7b-chat-hf "
     "or a path, without spaces"),
    ("tensor parallel above GPUs", with_change("model.tensorParallelSize", 2),
     "vllm-deploy:model.tensorParallelSize: 2 is not valid; must not exceed the GPUs per pod "
     "(resources.limits.nvidia.com/gpu = 1)"),
    ("GPU memory utilisation above 1", with_change("model.gpuMemoryUtilization", 1.2),
     "vllm-deploy:model.gpuMemoryUtilization: 1.2 is not valid; expected a number > 0 and <= 1"),
    ("direct mode without URL", with_change("verification.accessMode", "direct"),
     "vllm-deploy:verification.baseUrl: '' is not valid; required when accessMode is direct"),
    ("unknown access mode", with_change("verification.accessMode", "kubectl"),
     "vllm-deploy:verification.accessMode: 'kubectl' is not valid; allowed: port-forward, direct, service-proxy"),
    ("service proxy with an API key", with_change("verification.accessMode", "service-proxy") | {
        "model": {**base()["model"], "apiKeySecret": {"name": "vllm-api-key"}}},
     "vllm-deploy:verification.accessMode: 'service-proxy' is not valid; model.apiKeySecret is set, and through "
     "the API server's service proxy the Authorization header authenticates to the API server, not to vLLM; use "
     "port-forward or direct"),
    ("memory as a bare number", with_change("resources.limits.memory", 32),
     "vllm-deploy:resources.limits.memory: 32 is not valid; a bare number is bytes, and 32 bytes cannot hold a model "
     "server; did you mean 32Gi? (sizes need a unit: Gi, Mi, ...; a bare number is allowed only from 1Gi = "
     "1073741824 bytes)"),
    ("memory request as a bare string", with_change("resources.requests", {"memory": "16"}),
     "vllm-deploy:resources.requests.memory: '16' is not valid; a bare number is bytes, and 16 bytes cannot hold a "
     "model server; did you mean 16Gi? (sizes need a unit: Gi, Mi, ...; a bare number is allowed only from 1Gi = "
     "1073741824 bytes)"),
    ("shm size as a bare number", with_change("storage.shmSizeLimit", 8),
     "vllm-deploy:storage.shmSizeLimit: 8 is not valid; a bare number is bytes, and 8 bytes cannot hold a model "
     "server; did you mean 8Gi? (sizes need a unit: Gi, Mi, ...; a bare number is allowed only from 1Gi = "
     "1073741824 bytes)"),
    ("negative image pull grace", with_change("verification.imagePullGraceSeconds", -1),
     "vllm-deploy:verification.imagePullGraceSeconds: -1 is not valid; expected a number > 0 and <= 3600"),
    ("ready grace not a number", with_change("verification.readyGraceSeconds", "soon"),
     "vllm-deploy:verification.readyGraceSeconds: 'soon' is not valid; expected a number > 0 and <= 3600"),
    ("zero samples", with_change("verification.samples", 0),
     "vllm-deploy:verification.samples: 0 is not valid; expected a whole number >= 1 and <= 1000"),
    ("path without slash", with_change("verification.readyPath", "ready"),
     "vllm-deploy:verification.readyPath: 'ready' is not valid; expected a path starting with /"),
    ("atomic without waiting", with_change("release.atomic", True),
     "vllm-deploy:release.helmWait: False is not valid; atomic releases need Helm to wait; set helmWait: true or "
     "atomic: false"),
    ("Helm timeout below the startup budget", with_change("release", {"name": "x", "namespace": "system",
                                                                       "helmWait": True, "timeoutSeconds": 600}),
     "vllm-deploy:release.timeoutSeconds: 600 is not valid; Helm waits for the pods, so allow at least the startup "
     "budget (1200 s)"),
    ("backoff cap below initial", with_change("gpuWait.maxBackoffSeconds", 0.5),
     "vllm-deploy:gpuWait.maxBackoffSeconds: 0.5 is not valid; expected at least initialBackoffSeconds (1)"),
    ("token as secret name", with_change("model.hfTokenSecret", {"name": "hf_abcdefghijklmnop"}),
     "vllm-deploy:model.hfTokenSecret.name: 'hf_…' is not valid; this looks like a token; give the name of a "
     "Secret holding it"),
    ("API key secret not a Secret name", with_change("model.apiKeySecret", {"name": "My_Key"}),
     "vllm-deploy:model.apiKeySecret.name: 'My_Key' is not valid; expected the name of an existing Secret holding "
     "vLLM's API key"),
    ("section not an object", with_change("resources", "lots"),
     "vllm-deploy:resources: 'lots' is not valid; expected an object with keys limits, requests"),
    ("bad toleration operator", with_change("scheduling.tolerations", [{"key": "x", "operator": "In"}]),
     "vllm-deploy:scheduling.tolerations: [{'key': 'x', 'operator': 'In'}] is not valid; expected a list of "
     "tolerations with key, operator (Equal|Exists), value, effect (NoSchedule|PreferNoSchedule|NoExecute): "
     "[0].operator must be 'Exists' or 'Equal', got 'In'"),
    ("flag not a boolean", with_change("release.createNamespace", "yes"),
     "vllm-deploy:release.createNamespace: 'yes' is not valid; expected true or false"),
]


@pytest.mark.parametrize("config,expected", [(c, e) for _, c, e in BAD_CONFIGS], ids=[n for n, _, _ in BAD_CONFIGS])
def test_bad_configuration_is_named_precisely(config, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert error.value.problems == [expected]


def test_every_problem_is_reported_at_once():
    config = with_change("model.size", "huge")
    config["image"]["tag"] = "latest"
    config["resources"]["limits"]["memory"] = "32GB"
    config["gpuWait"]["timeoutMinutes"] = -1
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert len(error.value.problems) == 4
    assert "4 problem(s)" in str(error.value)


def test_kubeconfig_value_never_appears_in_errors():
    secret = "apiVersion: v1\nusers:\n- user:\n    token: s3cr3t-token\n"
    config = with_change("kubernetes.kubeconfig", {"inline": secret})
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert "s3cr3t" not in str(error.value)
    assert "vllm-deploy:kubernetes.kubeconfig: (secret value hidden)" in str(error.value)


def test_digest_is_a_pinned_tag():
    config = validate_config(with_change("image.tag", "sha256:" + "a" * 64))
    assert config.image.reference == "vllm/vllm-openai@sha256:" + "a" * 64


@pytest.mark.parametrize("environment,rollout", [("development", "recreate"), ("staging", "verified"),
                                                 ("production", "verified")])
def test_rollout_default_per_environment(environment, rollout):
    config = base()
    config["environment"] = environment
    for key in ("helmWait", "atomic", "rollout"):
        config["release"].pop(key, None)
    release = validate_config(config).release
    assert release.rollout == rollout
    # Helm waits (and may be atomic) only where it cannot deadlock: the recreate rollout
    assert release.helm_wait is (rollout == "recreate" and environment != "development")
    assert release.atomic is release.helm_wait


@pytest.mark.parametrize("key", ["helmWait", "atomic"])
def test_verified_rollout_refuses_a_helm_wait(key):
    config = base()
    config["release"].update({"rollout": "verified", "helmWait": False, "atomic": False})
    config["release"][key] = True
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert (f"vllm-deploy:release.{key}: True is not valid; the verified rollout needs Helm not to wait (its pods "
            f"become Ready only once the verification has passed on them, so a Helm wait would deadlock); remove "
            f"{key} or set release.rollout: recreate") in error.value.problems


def test_rollout_values_are_named():
    with pytest.raises(ConfigError) as error:
        validate_config(with_change("release.rollout", "rolling"))
    assert error.value.problems == ["vllm-deploy:release.rollout: 'rolling' is not valid; allowed: verified, recreate"]


def test_verified_rollout_needs_the_port_forward_access():
    config = base()
    config["release"]["rollout"] = "verified"
    config["verification"].update({"accessMode": "direct", "baseUrl": "http://llama.system.svc.cluster.local:8000"})
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert error.value.problems[0].startswith("vllm-deploy:verification.accessMode: 'direct' is not valid; the "
                                              "verified rollout checks each new pod before it gets Service traffic")


def test_pod_annotation_keys_are_checked():
    with pytest.raises(ConfigError) as error:
        validate_config(with_change("release.podAnnotations", {"bad key": "x"}))
    assert error.value.problems == ["vllm-deploy:release.podAnnotations.bad key: 'x' is not valid; expected an "
                                    "annotation key such as example.com/name (optional DNS prefix and '/')"]


def test_a_bare_memory_number_of_at_least_one_gibibyte_is_bytes_and_allowed():
    config = validate_config(with_change("resources.limits.memory", 34359738368))
    assert config.resources.memory_limit == "34359738368" == config.resources.memory_request


def test_service_proxy_is_reachable_from_stack_configuration():
    config = validate_config(with_change("verification.accessMode", "service-proxy"))
    assert config.verification.access_mode == "service-proxy"


def test_grace_periods_default_from_presets_and_can_be_set():
    from components.presets import IMAGE_PULL_GRACE_SECONDS, READY_GRACE_SECONDS

    config = validate_config(base())
    assert config.verification.image_pull_grace_seconds == IMAGE_PULL_GRACE_SECONDS
    assert config.verification.ready_grace_seconds == READY_GRACE_SECONDS
    config = validate_config(with_change("verification", {"imagePullGraceSeconds": 300, "readyGraceSeconds": 30}))
    assert (config.verification.image_pull_grace_seconds, config.verification.ready_grace_seconds) == (300, 30)


@pytest.mark.parametrize("samples", [1, 10, 19])
def test_fewer_than_20_samples_is_allowed_with_a_warning_that_p95_is_the_maximum(samples):
    warnings = config_warnings(validate_config(with_change("verification.samples", samples)))
    assert [w for w in warnings if "verification.samples" in w] == [
        f"vllm-deploy:verification.samples: {samples}: with N <= 19 samples the nearest-rank p95 is the maximum, so a "
        "single slow completion fails the latency check; use 20 or more (59 samples all within the limit give 95% "
        "confidence that the true p95 is within it)"]


@pytest.mark.parametrize("samples", [20, 59])
def test_20_or_more_samples_warn_nothing(samples):
    warnings = config_warnings(validate_config(with_change("verification.samples", samples)))
    assert [w for w in warnings if "verification.samples" in w] == []


def test_node_autoscaling_gives_unschedulable_pods_minutes_for_a_node_to_join():
    plain = validate_config(base())
    assert plain.verification.unschedulable_grace_seconds == 90  # covers a replaced release's pods terminating
    autoscaled = validate_config(with_change("scheduling", {"allowNodeAutoscaling": True, "nodeGroupGpus": 8}))
    assert autoscaled.scheduling.node_group_gpus == 8
    assert autoscaled.verification.unschedulable_grace_seconds == 600
    tuned = with_change("scheduling", {"allowNodeAutoscaling": True})
    tuned["verification"] = {**tuned.get("verification", {}), "unschedulableGraceSeconds": 1200}
    assert validate_config(tuned).verification.unschedulable_grace_seconds == 1200


@pytest.mark.parametrize("scheduling,expected", [
    ({"nodeGroupGpus": 8},
     "vllm-deploy:scheduling.nodeGroupGpus: 8 is not valid; it describes the nodes an autoscaler adds; set "
     "allowNodeAutoscaling: true or remove it"),
    ({"allowNodeAutoscaling": True, "nodeGroupGpus": 0.5},
     "vllm-deploy:scheduling.nodeGroupGpus: 0.5 is not valid; expected a whole number >= 0 and <= 64"),
])
def test_node_group_gpus_are_checked(scheduling, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(with_change("scheduling", scheduling))
    assert error.value.problems == [expected]


def test_a_node_group_smaller_than_a_pod_is_refused_at_preview():
    config = with_change("scheduling", {"allowNodeAutoscaling": True, "nodeGroupGpus": 1})
    config["resources"]["limits"]["nvidia.com/gpu"] = 2
    config["model"]["size"] = "small"
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert "vllm-deploy:scheduling.nodeGroupGpus: 1 is not valid; a node of 1 GPUs can never fit a pod of " \
           "resources.limits.nvidia.com/gpu = 2" in error.value.problems


def test_recreate_warns_that_it_means_downtime_and_verified_does_not():
    warnings = config_warnings(validate_config(with_change("release.rollout", "recreate")))
    assert warnings == [
        "vllm-deploy:release.rollout is recreate: an update deletes the pods serving llama-7b before the new revision "
        "loads, so the model is DOWN during every update (model loading takes up to 20 min), and a new revision that "
        "fails the verification leaves nothing serving. Use release.rollout: verified (needs GPUs for 1 extra pod) to "
        "keep serving."]
    assert config_warnings(validate_config(with_change("release.rollout", "verified"))) == []


# Numbers in the stack config: one rule (components.quantity.plain_number) for every whole number and number.
_NOT_NUMBERS = [
    ("nan", "'nan'"), ("inf", "'inf'"), ("-inf", "'-inf'"), ("Infinity", "'Infinity'"), ("1e999", "'1e999'"),
    (yaml.safe_load(".nan"), "nan"), (yaml.safe_load(".inf"), "inf"), (yaml.safe_load("-.inf"), "-inf"),
    (json.loads("NaN"), "nan"), (json.loads("-Infinity"), "-inf"),  # components.stack_config parses with json.loads
    (True, "True"), (False, "False"), ("1_000", "'1_000'"), ("three", "'three'"), (None, "None"),
]
_OTHER_DIGITS = ["\uff13", "\u0663", "\u00b3"]  # full-width 3, Arabic-Indic 3, superscript 3: all look like 3


@pytest.mark.parametrize("value, shown", _NOT_NUMBERS, ids=[repr(v) for v, _ in _NOT_NUMBERS])
def test_a_whole_number_that_is_not_finite_or_not_a_number_is_named(value, shown):
    """release.replicas: NaN, infinities (strings or YAML's .nan/.inf), booleans and Python-only syntax are refused
    with the config error at preview, never a crash."""
    with pytest.raises(ConfigError) as error:
        validate_config(with_change("release.replicas", value))
    assert error.value.problems == [
        f"vllm-deploy:release.replicas: {shown} is not valid; expected a whole number >= 1 and <= 64"]


@pytest.mark.parametrize("value, shown", _NOT_NUMBERS, ids=[repr(v) for v, _ in _NOT_NUMBERS])
def test_a_number_that_is_not_finite_or_not_a_number_is_named(value, shown):
    with pytest.raises(ConfigError) as error:
        validate_config(with_change("gpuWait.timeoutMinutes", value))
    assert error.value.problems == [
        f"vllm-deploy:gpuWait.timeoutMinutes: {shown} is not valid; expected a number > 0 and <= 1440"]


@pytest.mark.parametrize("value", _OTHER_DIGITS, ids=ascii)
@pytest.mark.parametrize("key, allowed", [("release.replicas", "expected a whole number >= 1 and <= 64"),
                                          ("gpuWait.timeoutMinutes", "expected a number > 0 and <= 1440")])
def test_digits_other_than_0_to_9_are_refused_with_a_hint(key, allowed, value):
    with pytest.raises(ConfigError) as error:
        validate_config(with_change(key, value))
    assert error.value.problems == [
        f"vllm-deploy:{key}: {value!r} is not valid; {allowed} (written with the digits 0-9)"]


@pytest.mark.parametrize("value, replicas", [(2, 2), (2.0, 2), ("2", 2), (" 3 ", 3), ("3.0", 3), ("+4", 4),
                                             ("1e1", 10), (64, 64), ("64", 64)])
def test_whole_numbers_are_read_as_written(value, replicas):
    assert validate_config(with_change("release.replicas", value)).release.replicas == replicas


@pytest.mark.parametrize("value", [0, 65, 1.5, "1.5", "-1", -1e308])
def test_whole_numbers_outside_the_range_are_refused(value):
    with pytest.raises(ConfigError) as error:
        validate_config(with_change("release.replicas", value))
    assert error.value.problems == [
        f"vllm-deploy:release.replicas: {value!r} is not valid; expected a whole number >= 1 and <= 64"]


@pytest.mark.parametrize("value, seconds", [(5, 300), (0.5, 30), ("2.5", 150), (" 1 ", 60), ("1e1", 600),
                                            (1440, 86400)])
def test_numbers_are_read_as_written(value, seconds):
    assert validate_config(with_change("gpuWait.timeoutMinutes", value)).gpu_wait.timeout_seconds == seconds


def test_a_bare_memory_number_in_exponent_form_is_bytes_too():
    """"1e3" is 1000 bytes to Kubernetes, like "1000": the same 'did you mean Gi' problem."""
    with pytest.raises(ConfigError) as error:
        validate_config(with_change("resources.limits.memory", "1e3"))
    assert error.value.problems == [
        "vllm-deploy:resources.limits.memory: '1e3' is not valid; a bare number is bytes, and 1e3 bytes cannot hold a "
        "model server; did you mean 1000Gi? (sizes need a unit: Gi, Mi, ...; a bare number is allowed only from 1Gi "
        "= 1073741824 bytes)"]
