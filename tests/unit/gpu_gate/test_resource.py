"""GpuCapacityGate: input validation, what a diff means, what create/update do, and the provider's journey."""

from __future__ import annotations

import base64
import json
import pickle
import subprocess
import sys
from pathlib import Path

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.gpu_gate import resource as gate_resource
from components.gpu_gate import waiter as gate_waiter
from components.gpu_gate.capacity import GpuNeed, assess_capacity
from components.gpu_gate.inputs import PROVIDER_VERSION, UNKNOWN, input_problems
from components.gpu_gate.resource import GpuCapacityGateFailed, GpuCapacityGateProvider
from components.gpu_gate.waiter import GateResult, GpuCapacityTimeout

from .builders import node

ROOT = Path(__file__).resolve().parents[3]
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user: {token: s3cr3t-token}\n"


def inputs(**overrides) -> dict:
    """Inputs as the engine hands them over: numbers as floats, the provider key included."""
    values = {
        "__provider": "c2VyaWFsaXplZA==",
        "kubeconfig": KUBECONFIG,
        "context": "",
        "namespace": "system",
        "release_name": "llama-7b-development",
        "replicas": 2.0,
        "gpus_per_pod": 1.0,
        "gpu_resource": "nvidia.com/gpu",
        "node_selector": {"node-type": "gpu"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "timeout_seconds": 1800.0,
        "backoff_initial_seconds": 5.0,
        "backoff_max_seconds": 60.0,
        "progress_interval_seconds": 30.0,
        "allow_node_autoscaling": False,
        "provider_version": PROVIDER_VERSION,
    }
    values.update(overrides)
    return values


def outputs(**overrides) -> dict:
    """Old outputs as stored after a create (no kubeconfig)."""
    values = {k: v for k, v in inputs(**overrides).items() if k != "kubeconfig"}
    values.update(placeable_replicas=2, waited_seconds=12.5, nodes=[{"name": "gpu-node-0"}])
    return values


# --- check ------------------------------------------------------------------------------------------------


def test_check_accepts_good_inputs_and_turns_whole_floats_into_ints() -> None:
    toleration = {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 30.0}
    result = GpuCapacityGateProvider().check({}, inputs(tolerations=[toleration]))
    assert result.failures == []
    assert result.inputs["replicas"] == 2 and type(result.inputs["replicas"]) is int
    assert type(result.inputs["gpus_per_pod"]) is int
    assert result.inputs["tolerations"][0]["tolerationSeconds"] == 30
    assert result.inputs["__provider"] == "c2VyaWFsaXplZA=="


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("replicas", -1.0, "replicas must be a whole number of at least 0, got -1"),
        ("replicas", 1.5, "got 1.5"),
        ("replicas", "2", "got '2'"),
        ("gpus_per_pod", 0.0, "gpus_per_pod must be a whole number of at least 1, got 0"),
        ("namespace", "Bad_NS", "namespace must be a Kubernetes namespace name"),
        ("namespace", "", "got ''"),
        ("release_name", "x" * 54, "at most 53"),
        ("gpu_resource", "gpu", "must be an extended resource name like 'nvidia.com/gpu', got 'gpu'"),
        ("node_selector", ["node-type=gpu"], "node_selector must be a mapping"),
        ("node_selector", {"node-type": "gpu!"}, "invalid label 'node-type'='gpu!'"),
        ("tolerations", {"key": "x"}, "tolerations must be a list"),
        ("tolerations", [{"key": "x", "operator": "In"}], "[0].operator must be 'Exists' or 'Equal', got 'In'"),
        ("tolerations", [{"key": "x", "effect": "NoRun"}], "[0].effect must be one of"),
        ("tolerations", [{"key": "x", "operator": "Exists", "value": "v"}],
         "[0].value must be empty with operator Exists"),
        ("tolerations", [{"value": "v"}], "[0].key may only be empty with operator Exists"),
        ("tolerations", [{"key": "x", "toleration_seconds": 5}], "unknown fields ['toleration_seconds']"),
        ("tolerations", [{"key": "x", "tolerationSeconds": 1.5}], "tolerationSeconds must be a whole number"),
        ("timeout_seconds", 0.0, "timeout_seconds must be a number of seconds above 0"),
        ("timeout_seconds", "30m", "got '30m'"),
        ("backoff_initial_seconds", -1.0, "backoff_initial_seconds must be"),
        ("progress_interval_seconds", 60.0, "at most 30, got 60"),
        ("allow_node_autoscaling", "yes", "allow_node_autoscaling must be true or false, got 'yes'"),
        ("context", 5.0, "context must be a kubeconfig context name or empty"),
    ],
)
def test_check_names_the_input_the_value_and_what_is_allowed(key, value, says) -> None:
    result = GpuCapacityGateProvider().check({}, inputs(**{key: value}))
    assert [f.property for f in result.failures] == [key]
    assert says in result.failures[0].reason


def test_check_reports_every_problem_at_once_and_cross_checks_backoff() -> None:
    result = GpuCapacityGateProvider().check({}, inputs(replicas=-1.0, gpus_per_pod=0.0, backoff_initial_seconds=10.0,
                                                        backoff_max_seconds=5.0))
    assert [f.property for f in result.failures] == ["replicas", "gpus_per_pod", "backoff_max_seconds"]


def test_check_requires_the_release_and_the_need() -> None:
    bare = {"__provider": "x"}
    assert [key for key, _ in input_problems(bare)] == ["namespace", "release_name", "replicas", "gpus_per_pod"]


def test_check_never_quotes_the_kubeconfig() -> None:
    result = GpuCapacityGateProvider().check({}, inputs(kubeconfig=["not", "text", "s3cr3t-token"]))
    assert result.failures[0].property == "kubeconfig"
    assert "s3cr3t" not in result.failures[0].reason and "got a list" in result.failures[0].reason


def test_check_tolerates_values_unknown_during_preview() -> None:
    news = inputs(namespace=UNKNOWN, replicas=UNKNOWN, kubeconfig=UNKNOWN,
                  tolerations=[{"key": UNKNOWN, "operator": "Exists"}], node_selector={"node-type": UNKNOWN})
    result = GpuCapacityGateProvider().check({}, news)
    assert result.failures == []
    assert result.inputs["namespace"] == UNKNOWN and result.inputs["replicas"] == UNKNOWN


def test_check_fills_in_defaults() -> None:
    news = {k: v for k, v in inputs().items() if k not in ("tolerations", "node_selector", "timeout_seconds")}
    result = GpuCapacityGateProvider().check({}, news)
    assert result.failures == []
    assert result.inputs["node_selector"] == {"node-type": "gpu"} and result.inputs["timeout_seconds"] == 1800


# --- diff -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, changes",
    [
        ({}, False),
        ({"replicas": 2}, False),  # 2 and 2.0 are the same
        ({"kubeconfig": "other: text\n"}, False),  # new credentials alone do not re-run the wait
        ({"context": "other"}, False),
        ({"replicas": 3.0}, True),
        ({"gpus_per_pod": 2.0}, True),
        ({"node_selector": {"node-type": "a100"}}, True),
        ({"tolerations": []}, True),
        ({"gpu_resource": "amd.com/gpu"}, True),
        ({"release_name": "llama-13b"}, True),
        ({"timeout_seconds": 600.0}, True),  # recorded by an update that does not wait
        ({"backoff_max_seconds": 30.0}, True),
        ({"provider_version": "0"}, True),
        ({"replicas": UNKNOWN}, True),
    ],
)
def test_diff_reports_changes_and_never_replaces(change, changes) -> None:
    result = GpuCapacityGateProvider().diff("id", outputs(), inputs(**change))
    assert result.changes is changes
    assert result.replaces == [] and result.delete_before_replace is False


# --- create / update / delete ------------------------------------------------------------------------------


class Calls(list):
    replaced: list
    rolling: list


@pytest.fixture
def gate_calls(monkeypatch) -> list:
    """Replace the wait with a recorder; each call returns fixed results."""
    calls = Calls()
    replaced: list = []
    rolling: list = []

    def fake_pass_gate(props, replacing=(), rolls_out=True):
        calls.append(props)
        replaced.append(replacing)
        rolling.append(rolls_out)
        return {"placeable_replicas": 3, "waited_seconds": 1.2, "nodes": [{"name": "gpu-node-1"}]}

    monkeypatch.setattr(gate_resource, "_pass_gate", fake_pass_gate)
    calls.replaced = replaced
    calls.rolling = rolling
    return calls


def test_create_waits_and_keeps_the_kubeconfig_out_of_the_outputs(gate_calls) -> None:
    result = GpuCapacityGateProvider().create(inputs())
    assert len(gate_calls) == 1 and result.id
    assert "kubeconfig" not in result.outs and "__provider" not in result.outs
    assert (result.outs["placeable_replicas"], result.outs["waited_seconds"]) == (3, 1.2)
    assert result.outs["replicas"] == 2 and result.outs["release_name"] == "llama-7b-development"
    assert "s3cr3t" not in json.dumps(result.outs)


def test_update_waits_again_only_when_the_need_changes(gate_calls) -> None:
    provider = GpuCapacityGateProvider()
    unchanged = provider.update("id", outputs(), inputs(timeout_seconds=600.0, kubeconfig="new: config\n"))
    assert gate_calls == []
    assert unchanged.outs["timeout_seconds"] == 600 and unchanged.outs["placeable_replicas"] == 2
    assert unchanged.outs["waited_seconds"] == 12.5 and "kubeconfig" not in unchanged.outs

    changed = provider.update("id", outputs(), inputs(replicas=3.0))
    assert len(gate_calls) == 1 and changed.outs["placeable_replicas"] == 3


def test_renaming_or_moving_the_release_counts_the_old_releases_pods_as_free(gate_calls) -> None:
    provider = GpuCapacityGateProvider()
    provider.update("id", outputs(), inputs(release_name="llama-7b-renamed"))
    provider.update("id", outputs(), inputs(namespace="models"))
    provider.update("id", outputs(), inputs(replicas=3.0))
    assert gate_calls.replaced == [(("system", "llama-7b-development"),), (("system", "llama-7b-development"),), ()]


def test_an_update_that_rolls_out_pods_needs_the_surge_a_scale_change_does_not(gate_calls) -> None:
    provider = GpuCapacityGateProvider()
    provider.update("id", outputs(), inputs(release_revision="new-values", rollout="verified"))
    provider.update("id", outputs(rollout="verified"), inputs(replicas=3.0, rollout="verified"))
    assert gate_calls.rolling == [True, False]


def test_delete_does_nothing() -> None:
    assert GpuCapacityGateProvider().delete("id", outputs()) is None


def test_the_wait_uses_the_kubernetes_provider_access_and_the_stack_settings(monkeypatch) -> None:
    seen: dict = {}

    class Client:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            seen["closed"] = True

    def fake_api_client_for(access):
        seen["access"] = access
        return Client()

    def fake_wait(api, need, **settings):
        seen.update(api=api, need=need, settings=settings)
        return GateResult(assess_capacity([node("gpu-node-0", 2)], [], need), 4.04)

    monkeypatch.setattr(gate_resource, "api_client_for", fake_api_client_for)
    monkeypatch.setattr(gate_waiter, "wait_for_gpu_capacity", fake_wait)
    outs = GpuCapacityGateProvider().create(inputs(context="kind-gpu", timeout_seconds=900.0)).outs

    assert seen["access"].kubeconfig == KUBECONFIG and seen["access"].context == "kind-gpu"
    assert seen["closed"] and isinstance(seen["api"], Client)
    assert seen["need"] == GpuNeed(
        replicas=2, gpus_per_pod=1, gpu_resource="nvidia.com/gpu", node_selector={"node-type": "gpu"},
        tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
        namespace="system", release_name="llama-7b-development", allow_node_autoscaling=False,
    )
    settings = seen["settings"]
    assert settings["timeout_seconds"] == 900 and settings["backoff_max_seconds"] == 60
    assert settings["progress_interval_seconds"] == 30 and callable(settings["on_progress"])
    assert outs["placeable_replicas"] == 2 and outs["waited_seconds"] == 4.0
    assert outs["nodes"] == [{"name": "gpu-node-0", "ready": True, "cordoned": False, "allocatable": 2,
                              "requested": 0, "free": 2, "excluded_reason": ""}]


def test_gate_failures_surface_as_errors(monkeypatch) -> None:
    class Client:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    def timing_out(api, need, **settings):
        raise GpuCapacityTimeout("GPU capacity not available after 30m00s: ...")

    monkeypatch.setattr(gate_resource, "api_client_for", lambda access: Client())
    monkeypatch.setattr(gate_waiter, "wait_for_gpu_capacity", timing_out)
    with pytest.raises(GpuCapacityGateFailed, match="not available after") as caught:
        GpuCapacityGateProvider().create(inputs())
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unreadable_kubeconfig_fails_without_quoting_it() -> None:
    with pytest.raises(GpuCapacityGateFailed) as caught:
        GpuCapacityGateProvider().create(inputs(kubeconfig="apiVersion: v1\nclusters: s3cr3t-token\n"))
    assert "inline kubeconfig" in str(caught.value) and "s3cr3t" not in str(caught.value)


# --- the provider's journey through the engine -------------------------------------------------------------


def test_provider_survives_the_dill_round_trip_into_a_separate_process() -> None:
    provider = GpuCapacityGateProvider()
    assert vars(provider) == {}  # stateless
    assert dill.loads(dill.dumps(provider, protocol=pickle.DEFAULT_PROTOCOL, recurse=True)).__class__ is type(provider)

    serialized = serialize_provider(provider)  # what the SDK stores in __provider
    script = (
        "import base64, json, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.argv[1]))\n"
        "result = provider.check({}, json.loads(sys.argv[2]))\n"
        "print(json.dumps({'type': type(provider).__name__, 'failures': [f.property for f in result.failures],"
        " 'replicas': result.inputs['replicas']}))\n"
    )
    args = [sys.executable, "-c", script, serialized, json.dumps(inputs(gpus_per_pod=0.0))]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"type": "GpuCapacityGateProvider", "failures": ["gpus_per_pod"], "replicas": 2}
    assert base64.b64decode(serialized)  # small, by-reference pickle: no captured state
    assert len(serialized) < 400


def test_registration_marks_the_kubeconfig_secret_and_keeps_it_out_of_outputs() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.unit.gpu_gate.mock_gate"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    (seen,) = result["seen"]
    assert seen["type"] == "pulumi-python:dynamic/vllm:GpuCapacityGate"
    assert "kubeconfig" in seen["secret_inputs"] and seen["additional_secret_outputs"] == ["kubeconfig"]
    assert result["inputs"]["provider_version"] == PROVIDER_VERSION
    assert set(result["inputs"]) >= {
        "kubeconfig", "context", "namespace", "release_name", "replicas", "gpus_per_pod", "gpu_resource",
        "node_selector", "tolerations", "timeout_seconds", "backoff_initial_seconds", "backoff_max_seconds",
        "progress_interval_seconds", "allow_node_autoscaling",
    }
    assert result["outputs"] == {"placeable_replicas": 2}
