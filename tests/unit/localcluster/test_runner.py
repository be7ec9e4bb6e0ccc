import time

from tools.localcluster.controlplane import runner_settled
from tools.localcluster.kubeapi import ApiError, PortForwardError
from tools.localcluster.layout import ROUTE_PROBE_PORT, Layout
from tools.localcluster.processes import cri_line, is_orphan_of
from tools.localcluster.runner import (
    PodProcess,
    Runner,
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


def test_runner_settled_needs_the_generation_and_every_running_process_started():
    pods = {"a": {"pid": 1, "started": True, "ready": True, "config_error": None},
            "loading": {"pid": 2, "started": True, "ready": False, "config_error": None},  # on purpose
            "b": {"pid": None, "started": False, "ready": False, "config_error": None},  # crashed, restarts later
            "c": {"pid": None, "started": False, "ready": False, "config_error": "bad annotation"}}
    assert runner_settled({"generation": 2, "pods": pods}, 2)
    assert not runner_settled({"generation": 1, "pods": pods}, 2)
    starting = {"pid": 5, "started": False, "ready": False, "config_error": None}
    assert not runner_settled({"generation": 2, "pods": {**pods, "d": starting}}, 2)


def test_cri_log_line():
    assert cri_line(b"hello\n", 0.5) == b"1970-01-01T00:00:00.500000000Z stdout F hello\n"


def test_orphans_are_our_binaries_with_our_state_or_our_helpers_with_our_logs():
    bins, state, logs = {"/r/.tools/bin/etcd"}, "/r/.state/cluster", "/r/.state/cluster/logs"
    assert is_orphan_of(["/r/.tools/bin/etcd", "--data-dir=/r/.state/cluster/data"], bins, state, logs)
    assert not is_orphan_of(["/r/.tools/bin/etcd", "--data-dir=/other/.state/cluster/data"], bins, state, logs)
    assert is_orphan_of(["python3", "tools/cluster", "_runner", "--engine=sim", logs], bins, state, logs)
    assert not is_orphan_of(["python3", "tools/cluster", "_runner", "/other/logs"], bins, state, logs)


class RouteApi:
    """The runner's API for check_route: PortForward/Logs creation, and the answers of successive port-forwards
    to the route probe port (a str is the data read, an exception is raised)."""

    def __init__(self, answers, apply_failures=0):
        self.answers, self.apply_failures, self.applied, self.reads = list(answers), apply_failures, [], 0
        self.statuses = []

    def patch_status(self, path, status):
        self.statuses.append(status["containerStatuses"][0])
        return {**self.pod, "status": status}

    def apply(self, path, name, body):
        if self.apply_failures:
            self.apply_failures -= 1
            raise ApiError(500, "etcdserver: request timed out")
        self.applied.append(body["kind"])
        return body

    def port_forward_read(self, namespace, pod, port, until=b"\n", timeout=3):
        assert (namespace, pod, port) == ("ns", "llama-1", ROUTE_PROBE_PORT)
        self.reads += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer.encode()


def route_runner(tmp_path, api):
    runner = Runner(Layout(tmp_path), api, engine=None, default_model="llama-7b")
    started = []
    runner.start = started.append
    runner.say = lambda msg: None
    record = PodProcess(PLAN, 41234, {**pod("vllm"), "metadata": {**pod("vllm")["metadata"], "uid": "uid-1"}})
    api.pod = record.pod
    return runner, record, started


def test_the_process_starts_only_once_kwok_routes_the_pods_port_forwards_to_its_port(tmp_path):
    api = RouteApi([PortForwardError('no forward found for port 65535 in pod "ns/llama-1"'),
                    "uid-0 41234\n",  # a previous pod of the same name
                    "uid-1 40000\n",  # an earlier version of this pod's PortForward
                    "uid-1 41234\n"])
    runner, record, started = route_runner(tmp_path, api)
    for _ in range(3):
        runner.check_route(record)
        assert not started and record.awaiting_route
    runner.check_route(record)
    assert started == [record] and record.routed and not record.awaiting_route
    assert api.applied == ["PortForward", "Logs"] and api.reads == 4
    # the first failed check shows in the container's status, like a kubelet's ContainerCreating
    [status] = api.statuses
    assert status["state"]["waiting"]["reason"] == "ContainerCreating" and not status["ready"]
    assert "127.0.0.1:41234 (check 1: no forward found" in status["state"]["waiting"]["message"]


def test_waits_between_route_checks_double_up_to_a_bound(tmp_path):
    api = RouteApi([OSError("timed out")] * 12)
    runner, record, _ = route_runner(tmp_path, api)
    record.published = True
    gaps = []
    for _ in range(12):
        before = time.monotonic()
        runner.check_route(record)
        gaps.append(round(record.route_next - before, 2))
    assert gaps[:3] == [0.05, 0.1, 0.2] and max(gaps) == 2.0 and gaps == sorted(gaps)


def test_a_portforward_that_could_not_be_created_is_created_again_before_the_next_check(tmp_path):
    api = RouteApi(["uid-1 41234\n"], apply_failures=1)
    runner, record, started = route_runner(tmp_path, api)
    runner.check_route(record)
    assert not record.published and api.reads == 0 and not started
    assert "could not be created: HTTP 500: etcdserver" in api.statuses[0]["state"]["waiting"]["message"]
    runner.check_route(record)  # creates it, then checks
    assert record.published and started == [record] and api.reads == 1


def test_a_pod_with_an_invalid_configuration_never_waits_for_a_route():
    assert not PodProcess(PLAN, 0, pod("vllm"), config_error="bad annotation").awaiting_route
