"""Engine vllm: a pod -> the runner's Launch of the real vLLM (files written, probes from the pod's spec)."""

import pytest

from tools.localcluster.engines import VllmEngine, require_vllm_env
from tools.localcluster.processes import ClusterError
from tools.localcluster.sim import PodConfigError, PodPlan


def pod(env=()):
    return {"metadata": {"name": "llama-1", "namespace": "ns", "uid": "0123456789"},
            "spec": {"containers": [{
                "name": "vllm", "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
                "args": ["--model=meta-llama/x", "--port=8000", "--middleware=mw.Ready"], "env": list(env),
                "ports": [{"containerPort": 8000}],
                "startupProbe": {"httpGet": {"path": "/health"}}, "readinessProbe": {"httpGet": {"path": "/ready"}},
                "volumeMounts": [{"name": "mw", "mountPath": "/opt/mw"}]}],
                "volumes": [{"name": "mw", "configMap": {"name": "mw-cm"}}]}}


PLAN = PodPlan("ns", "llama-1", "0123456789", "vllm", "vllm/vllm-openai:v0.32.0", "meta-llama/x", ())


def test_launch_writes_the_pods_configmaps_and_probes_like_the_kubelet(tmp_path):
    objects = {("configmap", "mw-cm"): {"mw.py": "class Ready: ...\n"}, ("secret", "k"): {"api-key": "s"}}
    engine = VllmEngine("/env/python", "/tiny", tmp_path, lambda kind, ns, name: objects.get((kind, name)))
    env = [{"name": "PYTHONPATH", "value": "/opt/mw"},
           {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "k", "key": "api-key"}}}]
    launch = engine.launch(PLAN, 40001, pod(env))
    pod_dir = tmp_path / "ns_llama-1_01234567"
    assert (pod_dir / "mounts/mw/mw.py").read_text() == "class Ready: ...\n"
    assert launch.env["PYTHONPATH"] == str(pod_dir / "mounts/mw") and launch.env["VLLM_API_KEY"] == "s"
    assert launch.env["VIRTUAL_ENV"] == ""  # the runner's own virtualenv does not leak into the pod
    assert launch.ready_paths == ("/health",) and launch.loading_paths == ("/ready",)
    assert launch.argv[:3] == ("/env/python", "-m", "vllm.entrypoints.openai.api_server")
    assert "--port=40001" in launch.argv and "--model=/tiny" in launch.argv
    assert "--served-model-name=meta-llama/x" in launch.argv
    assert any(note.startswith("--port=8000 -> ") for note in launch.notes)


def test_a_missing_secret_is_a_container_config_error(tmp_path):
    engine = VllmEngine("/env/python", "/tiny", tmp_path, lambda kind, ns, name: None)
    env = [{"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "k", "key": "api-key"}}}]
    with pytest.raises(PodConfigError, match='env VLLM_API_KEY: secret "ns/k" not found'):
        engine.launch(PLAN, 40001, pod(env))


def test_the_engine_needs_the_built_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_DEPLOY_CACHE", str(tmp_path))
    with pytest.raises(ClusterError, match="engine vllm needs the real vLLM 0.32.0 environment, not built yet: "
                                           "run tools/vllm-env"):
        require_vllm_env()
