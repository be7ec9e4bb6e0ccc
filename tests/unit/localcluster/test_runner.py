from tools.localcluster.controlplane import runner_settled
from tools.localcluster.processes import cri_line, is_orphan_of
from tools.localcluster.runner import (
    backoff,
    container_status,
    is_runner_pod,
    merged_container_statuses,
    status_patch,
)
from tools.localcluster.sim import PodPlan

PLAN = PodPlan("ns", "llama-1", "uid-1", "vllm", "vllm/vllm-openai:v0.11.0", "llama-7b", ())


def pod(*containers, statuses=()):
    return {"metadata": {"name": "llama-1", "namespace": "ns", "labels": {"app.kubernetes.io/name": "vllm"}},
            "spec": {"containers": [{"name": c, "image": f"{c}:1"} for c in containers]},
            "status": {"containerStatuses": list(statuses)}}


def test_backoff_doubles_from_10s_to_at_most_160s():
    assert [backoff(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 160, 160]


def test_runner_pods_are_the_vllm_labelled_ones():
    assert is_runner_pod(pod("vllm"))
    assert not is_runner_pod({"metadata": {"name": "blocker"}})


def test_container_status_of_a_crash_keeps_the_last_termination():
    last = {"terminated": {"exitCode": 1, "reason": "Error"}}
    status = container_status(PLAN, {"waiting": {"reason": "CrashLoopBackOff"}}, False, 2, last, started=False)
    assert status == {"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "imageID": "", "ready": False,
                      "started": False, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                      "lastState": last}


def test_other_containers_keep_their_status():
    sidecar = {"name": "proxy", "ready": True, "state": {"running": {}}}
    ours = container_status(PLAN, {"running": {"startedAt": "t"}}, True, 0, None)
    merged = merged_container_statuses(pod("proxy", "vllm", statuses=[sidecar]), ours)
    assert merged == [sidecar, ours]


def test_status_patch_sets_containers_ready_from_every_container():
    ours = container_status(PLAN, {"running": {"startedAt": "t"}}, False, 0, None)
    patch = status_patch(pod("vllm"), ours)
    assert patch["containerStatuses"] == [ours]
    condition = patch["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == \
        ("ContainersReady", "False", "ContainersNotReady")
    assert condition["message"] == "containers with unready status: [vllm]"
    ready = status_patch(pod("vllm"), {**ours, "ready": True})["conditions"][0]
    assert ready["status"] == "True" and ready["reason"] == ready["message"] == ""  # clears the last reason


def test_the_ready_condition_is_left_to_kwoks_stages():
    ours = container_status(PLAN, {"running": {"startedAt": "t"}}, True, 0, None)
    assert [c["type"] for c in status_patch(pod("vllm"), ours)["conditions"]] == ["ContainersReady"]


def test_runner_settled_needs_the_generation_and_every_running_process_ready():
    pods = {"a": {"pid": 1, "ready": True, "config_error": None},
            "b": {"pid": None, "ready": False, "config_error": None},  # crashed, waiting for its restart
            "c": {"pid": None, "ready": False, "config_error": "bad annotation"}}
    assert runner_settled({"generation": 2, "pods": pods}, 2)
    assert not runner_settled({"generation": 1, "pods": pods}, 2)
    assert not runner_settled({"generation": 2, "pods": {**pods, "d": {"pid": 5, "ready": False,
                                                                        "config_error": None}}}, 2)


def test_cri_log_line():
    assert cri_line(b"hello\n", 0.5) == b"1970-01-01T00:00:00.500000000Z stdout F hello\n"


def test_orphans_are_our_binaries_with_our_state_or_our_helpers_with_our_logs():
    bins, state, logs = {"/r/.tools/bin/etcd"}, "/r/.state/cluster", "/r/.state/cluster/logs"
    assert is_orphan_of(["/r/.tools/bin/etcd", "--data-dir=/r/.state/cluster/data"], bins, state, logs)
    assert not is_orphan_of(["/r/.tools/bin/etcd", "--data-dir=/other/.state/cluster/data"], bins, state, logs)
    assert is_orphan_of(["python3", "tools/cluster", "_runner", "--engine=sim", logs], bins, state, logs)
    assert not is_orphan_of(["python3", "tools/cluster", "_runner", "/other/logs"], bins, state, logs)
