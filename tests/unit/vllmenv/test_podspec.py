"""tools/vllmenv/podspec.py: a pod's container spec -> the real vLLM process (chart pods rendered by helm)."""

from pathlib import Path

import pytest
import yaml

from tests.unit.charts.test_chart_render import render
from tools.vllmenv.podspec import (
    ADDED_ENV,
    HOST_MEMORY_FRACTION,
    Local,
    PodSpecError,
    expand,
    local_command,
    materialize,
    vllm_launch,
)

MIDDLEWARE = "charts/vllm-deployment/files/vllm_ready_middleware.py"
LOCAL = Local(python="/env/bin/python", model="/cache/tiny", port=40123, pod_dir=Path("/pods/p1"))


def chart_objects(values: dict | None = None) -> tuple[dict, dict[tuple[str, str], dict]]:
    """The Deployment's pod (as the API server would hand it to the runner) and the chart's ConfigMaps."""
    docs = render(values or {}, release="llama-7b")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = {"metadata": {"name": "llama-7b-abc", "namespace": "system", "uid": "u1"},
           "spec": deployment["spec"]["template"]["spec"]}
    objects = {("configmap", d["metadata"]["name"]): d["data"] for d in docs if d["kind"] == "ConfigMap"}
    return pod, objects


def lookup_from(objects: dict):
    return lambda kind, namespace, name: objects.get((kind, name))


@pytest.mark.tools
def test_the_chart_pod_runs_its_own_command_args_env_and_middleware_with_only_the_mapped_substitutions():
    pod, objects = chart_objects({"model": {"servedModelName": "llama-7b", "maxModelLen": 1024}})
    launch = vllm_launch(pod, LOCAL, lookup_from(objects))
    argv = list(launch.argv)
    assert argv[:3] == ["/env/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert "--model=/cache/tiny" in argv and "--served-model-name=llama-7b" in argv
    assert "--host=127.0.0.1" in argv and "--port=40123" in argv
    assert f"--gpu-memory-utilization={HOST_MEMORY_FRACTION}" in argv
    assert "--download-dir=/pods/p1/download" in argv and "--enforce-eager" in argv
    # the chart's own arguments stay as rendered
    assert "--max-model-len=1024" in argv and "--middleware=vllm_ready_middleware.ReadyEndpoint" in argv
    assert "--tensor-parallel-size=1" in argv
    # mounts: the middleware ConfigMap is written where PYTHONPATH points; HOME/HF_HOME are the cache stand-in
    assert launch.env["PYTHONPATH"] == "/pods/p1/mounts/ready-middleware"
    written = launch.files["/pods/p1/mounts/ready-middleware/vllm_ready_middleware.py"]
    assert written.strip() == Path(MIDDLEWARE).read_text().strip()
    assert launch.env["HF_HOME"] == "/pods/p1/mounts/model-cache" and launch.env["VLLM_READY_PATH"] == "/ready"
    assert {k: launch.env[k] for k in ADDED_ENV} == ADDED_ENV
    assert launch.ready_path == "/ready" and launch.served_model == "llama-7b"
    assert any(n.startswith("--port=8000 -> ") for n in launch.substituted)


@pytest.mark.tools
def test_the_api_key_comes_from_the_secret_and_a_missing_secret_is_a_config_error():
    pod, objects = chart_objects({"apiKey": {"existingSecret": "llama-key", "key": "api-key"}})
    objects[("secret", "llama-key")] = {"api-key": "s3cret"}
    assert vllm_launch(pod, LOCAL, lookup_from(objects)).env["VLLM_API_KEY"] == "s3cret"
    del objects[("secret", "llama-key")]
    with pytest.raises(PodSpecError, match='env VLLM_API_KEY: secret "system/llama-key" not found'):
        vllm_launch(pod, LOCAL, lookup_from(objects))
    objects[("secret", "llama-key")] = {"other": "x"}
    with pytest.raises(PodSpecError, match='no key "api-key" in secret "system/llama-key"'):
        vllm_launch(pod, LOCAL, lookup_from(objects))


@pytest.mark.tools
def test_a_wrong_chart_argument_is_passed_through_so_vllm_rejects_it():
    pod, objects = chart_objects({"model": {"extraArgs": ["--no-such-flag=1"]}})
    assert "--no-such-flag=1" in vllm_launch(pod, LOCAL, lookup_from(objects)).argv


def plain_pod(command, args, env=(), volumes=(), mounts=()):
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "vllm", "command": command, "args": args, "env": list(env),
                                     "ports": [{"containerPort": 8000}], "volumeMounts": list(mounts)}],
                     "volumes": list(volumes)}}


def test_vllm_serve_positional_model_and_separate_flag_values_are_substituted():
    pod = plain_pod(["vllm", "serve"], ["meta-llama/Llama-3-8B", "--port", "8000", "--gpu-memory-utilization", "0.9"])
    launch = vllm_launch(pod, LOCAL, lookup_from({}))
    assert list(launch.argv) == [
        "/env/bin/python", "-m", "vllm.entrypoints.cli.main", "serve", "/cache/tiny", "--port=40123",
        f"--gpu-memory-utilization={HOST_MEMORY_FRACTION}", "--served-model-name=meta-llama/Llama-3-8B",
        "--enforce-eager", "--host=127.0.0.1"]
    assert launch.served_model == "meta-llama/Llama-3-8B" and launch.ready_path == "/health"


def test_env_from_configmap_key_and_kubelet_expansion():
    env = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
           {"name": "B", "value": "$(A)-x-$$(A)-$(UNSET)"},
           {"name": "C", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}}]
    pod = plain_pod(["python3", "-m", "vllm.entrypoints.openai.api_server"], ["--model=m", "--max-num-seqs=$(A)"], env)
    launch = vllm_launch(pod, LOCAL, lookup_from({("configmap", "cm"): {"k": "7"}}))
    assert launch.env["A"] == "7" and launch.env["B"] == "7-x-$(A)-$(UNSET)" and "C" not in launch.env
    assert "--max-num-seqs=7" in launch.argv
    assert expand("$$", {}) == "$"


def test_field_refs_and_foreign_commands_are_clear_config_errors():
    pod = plain_pod(["python3"], ["--model=m"], [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])
    with pytest.raises(PodSpecError, match=r"env N: valueFrom \['fieldRef'\] is not supported"):
        vllm_launch(pod, LOCAL, lookup_from({}))
    with pytest.raises(PodSpecError, match="command '/bin/sh' is not vLLM's"):
        local_command(["/bin/sh", "-c", "x"], "/py")
    with pytest.raises(PodSpecError, match="name no model"):
        vllm_launch(plain_pod(["python3", "-m", "x"], ["--dtype=auto"]), LOCAL, lookup_from({}))


def test_materialize_writes_configmap_items_and_volume_dirs(tmp_path):
    volumes = [{"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "k", "path": "sub/file.py"}]}},
               {"name": "cache", "emptyDir": {}}]
    mounts = [{"name": "cfg", "mountPath": "/opt/x"}, {"name": "cache", "mountPath": "/data"}]
    pod = plain_pod(["python3", "-m", "m"], ["--model=m", "--download-dir=/data/hub"],
                    [{"name": "PYTHONPATH", "value": "/opt/x:/usr/lib"}], volumes, mounts)
    local = Local("/py", "/tiny", 1, tmp_path)
    launch = vllm_launch(pod, local, lookup_from({("configmap", "cm"): {"k": "print(1)\n"}}))
    materialize(launch)
    assert (tmp_path / "mounts/cfg/sub/file.py").read_text() == "print(1)\n"
    assert (tmp_path / "mounts/cache").is_dir() and (tmp_path / "download").is_dir()
    assert launch.env["PYTHONPATH"] == f"{tmp_path}/mounts/cfg:/usr/lib"
    assert f"--download-dir={tmp_path}/download" in launch.argv


def test_the_chart_deployment_template_still_has_the_command_the_mapping_expects():
    text = Path("charts/vllm-deployment/templates/deployment.yaml").read_text()
    command = yaml.safe_load(next(line for line in text.splitlines() if "command:" in line).strip())["command"]
    assert local_command(command, "/py") == ["/py", "-m", "vllm.entrypoints.openai.api_server"]
