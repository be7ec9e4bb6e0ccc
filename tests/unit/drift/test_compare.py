"""Declared manifest vs live object: hand edits are drift, server defaults are not."""

from __future__ import annotations

import copy

from components.drift.compare import differences, object_differences, release_drift

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "llama", "labels": {"app.kubernetes.io/instance": "llama"}},
    "spec": {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "template": {"spec": {
            "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "args": ["--model", "m"],
                            "env": [{"name": "HF_HOME", "value": "/cache"}],
                            "resources": {"limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": 1}}}],
            "nodeSelector": {"node-type": "gpu"},
            "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}],
            "securityContext": {},
        }},
    },
}


def live_of(declared):
    """What the API server returns: defaults and bookkeeping added, nothing declared changed."""
    live = copy.deepcopy(declared)
    live["metadata"].update(namespace="system", uid="u1", resourceVersion="9", generation=1,
                            annotations={"deployment.kubernetes.io/revision": "1", "meta.helm.sh/release-name": "x"},
                            managedFields=[{"manager": "helm"}])
    spec = live["spec"]
    spec.update(revisionHistoryLimit=10, progressDeadlineSeconds=600)
    container = spec["template"]["spec"]["containers"][0]
    container.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
    container["resources"]["limits"] = {"cpu": "8000m", "memory": "32Gi", "nvidia.com/gpu": "1"}
    spec["template"]["spec"].pop("securityContext")  # an empty map comes back absent
    spec["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    spec["template"]["metadata"] = {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-02T10:00:00Z"}}
    live["status"] = {"replicas": 1}
    return live


def test_server_defaults_restarts_and_quantity_spellings_are_not_drift():
    assert object_differences(DEPLOYMENT, live_of(DEPLOYMENT)) == []


def test_kubectl_scale_and_edits_are_drift_with_path_live_and_declared_values():
    live = live_of(DEPLOYMENT)
    live["spec"]["replicas"] = 3
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "vllm/vllm-openai:latest"
    container["args"].append("--enforce-eager")
    container["env"][0]["value"] = "/tmp"
    live["metadata"]["labels"]["app.kubernetes.io/instance"] = "other"
    found = object_differences(DEPLOYMENT, live)
    assert "spec.replicas is 3, the release sets 1" in found
    assert "spec.template.spec.containers[vllm].image is 'vllm/vllm-openai:latest', the release sets " \
           "'vllm/vllm-openai:v0.11.0'" in found
    assert 'spec.template.spec.containers[vllm].args is ["--model", "m", "--enforce-eager"], the release sets ' \
           '["--model", "m"]' in found
    assert "spec.template.spec.containers[vllm].env[HF_HOME].value is '/tmp', the release sets '/cache'" in found
    assert "metadata.labels.app.kubernetes.io/instance is 'other', the release sets 'llama'" in found
    assert len(found) == 5


def test_added_sidecar_removed_volume_and_changed_quantity_are_drift():
    live = live_of(DEPLOYMENT)
    pod = live["spec"]["template"]["spec"]
    pod["containers"].append({"name": "debug", "image": "busybox"})
    pod["volumes"] = []
    pod["containers"][0]["resources"]["limits"]["memory"] = "64Gi"
    found = object_differences(DEPLOYMENT, live)
    assert "spec.template.spec.containers[debug] was added by hand" in found
    assert "spec.template.spec.volumes[shm] was removed" in found
    assert "spec.template.spec.containers[vllm].resources.limits.memory is '64Gi', the release sets '32Gi'" in found


def test_secret_values_never_appear_in_messages():
    declared = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"token": "c2VjcmV0"}}
    live = copy.deepcopy(declared)
    live["data"]["token"] = "b3RoZXI="
    [line] = object_differences(declared, live)
    assert "data.token" in line and "(value hidden)" in line
    assert "c2VjcmV0" not in line and "b3RoZXI=" not in line


def test_env_values_named_like_credentials_are_hidden():
    declared = {"env": [{"name": "HF_TOKEN", "value": "hf_declared"}, {"name": "HF_HOME", "value": "/cache"}]}
    live = {"env": [{"name": "HF_TOKEN", "value": "hf_live"}, {"name": "HF_HOME", "value": "/tmp"}]}
    lines = differences(declared, live, "spec.containers[vllm]")
    assert lines == ["spec.containers[vllm].env[HF_TOKEN].value is (value hidden), the release sets (value hidden)",
                     "spec.containers[vllm].env[HF_HOME].value is '/tmp', the release sets '/cache'"]


def test_release_drift_names_each_object_and_a_deleted_one():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "llama"}, "spec": {"ports": [
        {"name": "http", "port": 8000}]}}
    live_deployment = live_of(DEPLOYMENT)
    live_deployment["spec"]["replicas"] = 0
    lines = release_drift([DEPLOYMENT, service],
                          {("apps/v1", "Deployment", "system", "llama"): live_deployment}, "system")
    assert lines == ["Deployment system/llama: spec.replicas is 0, the release sets 1",
                     "Service system/llama: deleted (the release creates it)"]


def test_type_changes_and_booleans_compare_strictly():
    assert differences({"a": True}, {"a": "true"}, "") == ["a is 'true', the release sets True"]
    assert differences({"a": {"b": 1}}, {"a": "x"}, "") == ["a is 'x', the release sets {\"b\": 1}"]
    assert differences({"a": None, "b": {}}, {}, "") == []


def test_zero_values_the_api_server_omits_are_not_drift():
    declared = {"env": [{"name": "EMPTY", "value": ""}], "hostNetwork": False, "priority": 0}
    assert differences(declared, {"env": [{"name": "EMPTY"}]}, "spec") == []
    assert differences({"replicas": 1}, {}, "spec") == ["spec.replicas was removed (the release sets 1)"]
