import pytest

from tools.localcluster.engines import SimEngine, make_engine
from tools.localcluster.processes import ClusterError
from tools.localcluster.sim import (
    SIM_BASE_ARGS,
    PodConfigError,
    annotation_args,
    parse_flags,
    plan_for,
    shared_sim_command,
    translate_vllm_args,
)
from tools.vllmenv.podspec import serving_container

CHART_ARGS = ["--model=meta-llama/Llama-2-7b-hf", "--served-model-name=llama-7b", "--host=0.0.0.0", "--port=8000",
              "--tensor-parallel-size=2", "--gpu-memory-utilization=0.9", "--dtype=auto", "--max-model-len=4096",
              "--download-dir=/models/hub", "--middleware=vllm_ready_middleware.ReadyEndpoint"]


def pod(args=None, annotations=None, containers=None):
    return {
        "metadata": {"name": "llama-1", "namespace": "ns", "uid": "uid-1", "annotations": annotations or {}},
        "spec": {"containers": containers or [
            {"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "ports": [{"containerPort": 8000}],
             "args": args or []}]},
    }


def test_parse_flags_forms():
    assert parse_flags(["--a=1", "--b", "x", "y", "--c", "M"]) == [
        ("a", ["1"], "--a=1"), ("b", ["x", "y"], "--b x y"), ("c", ["M"], "--c M")]
    assert parse_flags(["MODEL", "--x"]) == [("", ["MODEL"], "MODEL"), ("x", [], "--x")]


def test_the_charts_args_keep_what_the_simulator_knows_and_drop_the_rest():
    kept, dropped = translate_vllm_args(CHART_ARGS)
    assert kept == ["--model=meta-llama/Llama-2-7b-hf", "--served-model-name=llama-7b", "--max-model-len=4096"]
    assert dropped == ["--tensor-parallel-size=2", "--gpu-memory-utilization=0.9", "--dtype=auto",
                       "--download-dir=/models/hub", "--middleware=vllm_ready_middleware.ReadyEndpoint"]


def test_vllm_serve_positional_model_and_multi_value_served_names():
    kept, _ = translate_vllm_args(["org/model", "--served-model-name", "a", "b", "--enforce-eager"])
    assert kept == ["--model=org/model", "--served-model-name a b", "--enforce-eager"]


def test_plan_from_the_charts_pod():
    plan = plan_for(pod(CHART_ARGS), defaults=["--failure-injection-rate=100"])
    assert plan.key == "ns/llama-1" and plan.container == "vllm" and plan.served_model == "llama-7b"
    assert plan.sim_args == (*SIM_BASE_ARGS, "--failure-injection-rate=100", "--model=meta-llama/Llama-2-7b-hf",
                             "--served-model-name=llama-7b", "--max-model-len=4096")
    assert not plan.crash_at_start and "--tensor-parallel-size=2" in plan.dropped


def test_a_pod_without_args_serves_the_clusters_default_model():
    plan = plan_for(pod(), defaults=[], default_model="llama-7b")
    assert plan.served_model == "llama-7b" and plan.sim_args == (*SIM_BASE_ARGS, "--model=llama-7b")


def test_annotations_come_last_so_they_win():
    plan = plan_for(pod(CHART_ARGS, {"sim.vllm-deploy.dev/time-to-first-token": "3500ms",
                                     "sim.vllm-deploy.dev/args": "--max-num-seqs=2 --seed=7",
                                     "other.io/x": "ignored"}), defaults=["--time-to-first-token=1s"])
    assert plan.sim_args[-3:] == ("--max-num-seqs=2", "--seed=7", "--time-to-first-token=3500ms")
    assert plan.sim_args.index("--time-to-first-token=1s") < plan.sim_args.index("--time-to-first-token=3500ms")


def test_every_flag_annotation_maps_to_its_flag():
    args, crash = annotation_args({
        "sim.vllm-deploy.dev/inter-token-latency": "50ms", "sim.vllm-deploy.dev/failure-injection-rate": "100",
        "sim.vllm-deploy.dev/failure-types": "server_error", "sim.vllm-deploy.dev/startup-duration": "30s"})
    assert sorted(args) == ["--failure-injection-rate=100", "--failure-types=server_error",
                            "--inter-token-latency=50ms", "--startup-duration=30s"]
    assert crash is False


def test_crash_at_start():
    assert annotation_args({"sim.vllm-deploy.dev/crash-at-start": "true"}) == ([], True)
    with pytest.raises(PodConfigError, match="allowed values are 'true' and 'false'"):
        annotation_args({"sim.vllm-deploy.dev/crash-at-start": "yes"})


def test_an_unknown_annotation_names_the_allowed_ones():
    with pytest.raises(PodConfigError) as err:
        annotation_args({"sim.vllm-deploy.dev/ttft": "1s"})
    assert "unknown annotation sim.vllm-deploy.dev/ttft" in str(err.value)
    assert "sim.vllm-deploy.dev/time-to-first-token" in str(err.value)


def test_bad_shell_quoting_in_args_annotation():
    with pytest.raises(PodConfigError, match="not valid shell quoting"):
        annotation_args({"sim.vllm-deploy.dev/args": "--x='open"})


def test_served_container_is_the_one_with_port_8000():
    sidecar = {"name": "proxy", "image": "envoy", "ports": [{"containerPort": 9901}]}
    main = {"name": "server", "image": "vllm", "ports": [{"containerPort": 8000}]}
    assert serving_container(pod(containers=[sidecar, main]))["name"] == "server"
    assert serving_container(pod(containers=[sidecar]))["name"] == "proxy"


def test_shared_simulator_command():
    assert shared_sim_command("/b/sim", 28000, "llama-7b", ["--x=1"]) == [
        "/b/sim", "--port=28000", "--model=llama-7b", *SIM_BASE_ARGS, "--x=1"]


def test_sim_engine_launches_the_binary_on_the_given_port(tmp_path):
    plan = plan_for(pod(CHART_ARGS), defaults=[])
    launch = SimEngine(tmp_path / "sim").launch(plan, 41000)
    assert launch.argv == (str(tmp_path / "sim"), "--port=41000", *plan.sim_args)
    assert launch.ready_paths == ("/health",) and launch.loading_paths == ("/health/ready",)


def test_sim_engine_custom_command_gets_port_model_and_args_in_its_environment(tmp_path):
    plan = plan_for(pod(CHART_ARGS), defaults=[])
    launch = SimEngine(tmp_path / "sim", custom_cmd="fake --port $VLLM_SIM_PORT").launch(plan, 41000)
    assert launch.argv == ("/bin/sh", "-c", "fake --port $VLLM_SIM_PORT")
    assert launch.env["VLLM_SIM_PORT"] == "41000" and launch.env["VLLM_SIM_MODEL"] == "llama-7b"
    assert launch.env["VLLM_SIM_ARGS"] == " ".join(plan.sim_args)


def test_crash_at_start_launches_a_process_that_exits_1(tmp_path):
    import subprocess

    plan = plan_for(pod(annotations={"sim.vllm-deploy.dev/crash-at-start": "true"}), defaults=[])
    launch = SimEngine(tmp_path / "sim").launch(plan, 41000)
    result = subprocess.run(list(launch.argv), capture_output=True, text=True)
    assert result.returncode == 1 and "simulated crash at start" in result.stdout


def test_engine_choice_is_explicit(tmp_path):
    assert make_engine("sim", tmp_path, None).name == "sim"
    with pytest.raises(ClusterError, match="engine 'gpu' is not available; allowed: sim, vllm"):
        make_engine("gpu", tmp_path, None)
    with pytest.raises(ClusterError, match="engine vllm needs the API server"):
        make_engine("vllm", tmp_path, None)
