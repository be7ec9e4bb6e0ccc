import pytest

from components.verification.checks import FAILED, PASSED
from components.verification.pods import (
    FATAL,
    IMAGE_PULL,
    READY,
    TERMINAL,
    WAITING,
    RolloutSnapshot,
    SignalTracker,
    assess,
    assess_pod,
    current_revision_pods,
    describe_pod,
    instance_selector,
    is_permanent_pull_error,
    log_requests,
    pod_checks,
    recent_events,
)

from .builders import RELEASE, container, deployment, pod, replicaset, unschedulable_pod, waiting_pod


def snapshot(*pods, deployments=None, replicasets=None):
    return RolloutSnapshot(
        deployments if deployments is not None else [deployment()],
        replicasets if replicasets is not None else [replicaset(1), replicaset(2)],
        list(pods),
    )


def test_selector_is_the_workflows_label():
    assert instance_selector(RELEASE) == "app.kubernetes.io/instance=llama-7b-development"


# --- current revision -----------------------------------------------------------------------------


def test_only_pods_of_the_newest_replicaset_count():
    old_ready = pod("old", owner="rs-1")
    new_pending = waiting_pod("new", "ContainerCreating")
    desired, pods, note = current_revision_pods(snapshot(old_ready, new_pending))
    assert desired == 1 and [p["metadata"]["name"] for p in pods] == ["new"] and note is None
    assert assess(snapshot(old_ready, new_pending)).state == WAITING


def test_newest_replicaset_is_chosen_by_revision_number_not_name_order():
    rs = [replicaset(10, uid="rs-10"), replicaset(9, uid="rs-9")]
    _, pods, _ = current_revision_pods(snapshot(pod("a", owner="rs-9"), pod("b", owner="rs-10"), replicasets=rs))
    assert [p["metadata"]["name"] for p in pods] == ["b"]


def test_replicasets_of_other_deployments_are_ignored():
    rs = [replicaset(1, uid="rs-mine"), replicaset(5, uid="rs-other", owner="dep-other")]
    _, pods, _ = current_revision_pods(snapshot(pod("a", owner="rs-mine"), pod("b", owner="rs-other"), replicasets=rs))
    assert [p["metadata"]["name"] for p in pods] == ["a"]


def test_missing_deployment_waits_out_the_grace_then_fails_with_the_refresh_hint():
    assessment = assess(snapshot(deployments=[]))
    assert (assessment.state, assessment.signal) == (FATAL, "NoDeployment")
    assert "run `pulumi up --refresh`" in assessment.message
    tracker = SignalTracker(grace_seconds=20)
    assert tracker.settle(assessment, now=0.0).state == WAITING  # Helm may still be creating it
    assert tracker.settle(assessment, now=20.0).state == FATAL


def test_generation_not_observed_yet_is_waiting_even_if_old_pods_are_ready():
    assessment = assess(snapshot(pod("old", owner="rs-2"), deployments=[deployment(generation=3, observed=2)]))
    assert assessment.state == WAITING and "not observed generation 3" in assessment.message


def test_zero_replicas_is_fatal():
    assert assess(snapshot(deployments=[deployment(replicas=0)])).state == FATAL


# --- single pods ----------------------------------------------------------------------------------


def test_running_and_ready():
    verdict = assess_pod(pod("a"))
    assert (verdict.state, verdict.running, verdict.ready) == (READY, True, True)


def test_running_not_ready_is_waiting_for_the_model():
    verdict = assess_pod(pod("a", ready=False))
    assert verdict.state == WAITING and verdict.running and not verdict.ready
    assert "not Ready yet" in verdict.summary


def test_terminating_pod_never_counts():
    verdict = assess_pod(pod("a", deleting=True))
    assert verdict.state == WAITING and not verdict.ready


def test_unschedulable_names_the_scheduler_message():
    verdict = assess_pod(unschedulable_pod())
    assert verdict.state == FATAL and verdict.signal == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in verdict.summary


@pytest.mark.parametrize("reason", ["InvalidImageName", "CreateContainerConfigError", "CrashLoopBackOff"])
def test_fatal_waiting_reasons(reason):
    verdict = assess_pod(waiting_pod("a", reason, message="details"))
    assert verdict.state == FATAL and verdict.signal == reason and not verdict.running
    assert reason in verdict.summary and "details" in verdict.summary


def test_container_creating_is_just_waiting():
    verdict = assess_pod(waiting_pod("a", "ContainerCreating"))
    assert verdict.state == WAITING and "ContainerCreating" in verdict.summary


def test_crashloop_after_oom_is_reported_as_oomkilled():
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    verdict = assess_pod(waiting_pod("a", "CrashLoopBackOff", last=last, restarts=3))
    assert verdict.signal == "OOMKilled" and "last terminated: OOMKilled, exit code 137" in verdict.summary


def test_old_oom_kill_of_a_ready_container_is_a_warning_not_a_failure():
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-11-28T11:00:00Z"}}
    c = container(state={"running": {}}, last=last, restarts=2, ready=True)
    verdict = assess_pod(pod("a", containers=[c]))
    assert verdict.state == READY and verdict.signal is None
    assert verdict.warning == ("container vllm restarted 2 time(s); last termination OOMKilled (exit code 137) "
                               "at 2026-11-28T11:00:00Z; running again now")
    assessment = assess(snapshot(pod("a", containers=[c])))
    assert assessment.state == READY and assessment.warnings == [f"a: {verdict.warning}"]


def test_old_oom_kill_while_running_again_but_not_ready_yet_waits_for_the_model():
    c = container(state={"running": {}}, last={"terminated": {"reason": "OOMKilled", "exitCode": 137}}, restarts=1)
    verdict = assess_pod(pod("a", ready=False, containers=[c]))
    assert verdict.state == WAITING and verdict.running and "OOMKilled" in verdict.summary


def test_oom_kill_is_fatal_while_the_container_is_not_running():
    terminated = container(state={"terminated": {"reason": "OOMKilled", "exitCode": 137}}, restarts=1)
    assert assess_pod(pod("a", ready=False, containers=[terminated])).signal == "OOMKilled"
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    restarting = assess_pod(waiting_pod("a", "CrashLoopBackOff", last=last, restarts=4))  # keeps restarting
    assert restarting.state == FATAL and restarting.signal == "OOMKilled"


@pytest.mark.parametrize(("reason", "message"), [
    ("Evicted", "The node was low on resource: memory."),
    ("UnexpectedAdmissionError", "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu"),
    ("Terminated", "Pod was terminated in response to imminent node shutdown."),
])
def test_terminal_pod_is_replaced_not_fatal(reason, message):
    verdict = assess_pod(pod("a", phase="Failed", ready=False, reason=reason, message=message))
    assert verdict.state == TERMINAL and verdict.signal == reason and message in verdict.summary


def test_leftover_terminal_pod_does_not_fail_a_ready_rollout_and_is_reported():
    rejected = pod("a-old", phase="Failed", ready=False, reason="UnexpectedAdmissionError", message="Allocate failed")
    assessment = assess(snapshot(rejected, pod("b")))
    assert assessment.state == READY and assessment.ready_pod_names == ["b"]
    assert "1 terminal pod(s) replaced" in assessment.message
    assert assessment.terminal_pods == ["a-old"]
    assert any("a-old: Failed: UnexpectedAdmissionError: Allocate failed" in w for w in assessment.warnings)


def test_terminal_pod_while_its_replacement_loads_is_waiting():
    evicted = pod("a", phase="Failed", ready=False, reason="Evicted", message="low on memory")
    assessment = assess(snapshot(evicted, waiting_pod("b", "ContainerCreating")))
    assert assessment.state == WAITING and "terminal pod(s) being replaced" in assessment.message


def test_pods_that_keep_failing_are_fatal():
    rejected = [pod(f"p{i}", phase="Failed", ready=False, reason="UnexpectedAdmissionError", message="x")
                for i in range(3)]
    assessment = assess(snapshot(*rejected, waiting_pod("p3", "ContainerCreating")))
    assert assessment.state == FATAL and assessment.signal == "PodsKeepFailing" and "keep failing" in assessment.message


def test_init_container_failures_count():
    p = pod("a", phase="Pending", ready=False, containers=[])
    p["status"]["initContainerStatuses"] = [container("init", state={"waiting": {"reason": "ImagePullBackOff"}})]
    assert assess_pod(p).signal == IMAGE_PULL


# --- rollout --------------------------------------------------------------------------------------


def test_all_desired_pods_ready():
    assessment = assess(snapshot(pod("a"), pod("b"), deployments=[deployment(replicas=2)]))
    assert assessment.state == READY and assessment.ready_pod_names == ["a", "b"]


def test_fewer_ready_than_desired_is_waiting():
    assessment = assess(snapshot(pod("a"), deployments=[deployment(replicas=2)]))
    assert assessment.state == WAITING and assessment.message.startswith("1/2 Ready")


def test_one_fatal_pod_makes_the_rollout_fatal():
    assessment = assess(snapshot(pod("a"), unschedulable_pod("b"), deployments=[deployment(replicas=2)]))
    assert assessment.state == FATAL and assessment.problem_pods == ("b",) and assessment.signal == "Unschedulable"


def test_progress_deadline_exceeded_is_fatal():
    conditions = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet has timed out progressing.",
        }
    ]
    assessment = assess(snapshot(pod("a", ready=False), deployments=[deployment(conditions=conditions)]))
    assert assessment.state == FATAL and assessment.signal == "ProgressDeadlineExceeded"
    assert "timed out progressing" in assessment.message and assessment.problem_pods == ("a",)


def test_replica_failure_is_a_transient_signal():
    conditions = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "exceeded quota"}]
    assessment = assess(snapshot(deployments=[deployment(conditions=conditions)]))
    assert (
        assessment.state == FATAL and assessment.signal == "ReplicaFailure" and "exceeded quota" in assessment.message
    )


def test_stale_progress_deadline_of_an_older_generation_is_not_fatal():
    conditions = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "old"}]
    stale = deployment(generation=3, observed=2, conditions=conditions)
    assessment = assess(snapshot(pod("a", ready=False), deployments=[stale]))
    assert assessment.state == WAITING and "not observed generation 3" in assessment.message
    failure = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "old quota"}]
    assert assess(snapshot(deployments=[deployment(generation=3, observed=2, conditions=failure)])).state == WAITING


# --- image pulls ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff"])
def test_pull_errors_without_proof_are_one_transient_signal(reason):
    verdict = assess_pod(waiting_pod("a", reason, message='Back-off pulling image "vllm/vllm-openai:v0.11.0"'))
    assert verdict.state == FATAL and verdict.signal == IMAGE_PULL and reason in verdict.summary


@pytest.mark.parametrize("message", [
    'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/vllm/vllm-openai:v9": not found',
    'failed to resolve reference "registry.example/vllm:v1": registry.example/vllm:v1: manifest unknown',
    'failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
    'pull access denied for vllm/private, repository does not exist or may require authorization',
])
def test_pull_errors_that_retrying_cannot_fix_are_fatal_at_once(message):
    assert is_permanent_pull_error(message)
    verdict = assess_pod(waiting_pod("a", "ErrImagePull", message=message))
    assert verdict.signal == "ErrImagePull"
    assessment = assess(snapshot(waiting_pod("a", "ErrImagePull", message=message)))
    assert SignalTracker(20, {IMAGE_PULL: 300}).settle(assessment, 0).state == FATAL


def test_alternating_pull_errors_share_one_configurable_grace_period():
    tracker = SignalTracker(grace_seconds=20, graces={IMAGE_PULL: 120})
    timeline = [(0, "ErrImagePull", "rpc error: i/o timeout"), (10, "ImagePullBackOff", 'Back-off pulling image "x"'),
                (30, "ErrImagePull", "dial tcp: connection reset by peer"), (50, "ImagePullBackOff", "Back-off"),
                (119, "ErrImagePull", "i/o timeout")]
    for at, reason, message in timeline:
        settled = tracker.settle(assess(snapshot(waiting_pod("p", reason, message=message))), now=at)
        assert settled.state == WAITING, (at, reason)  # the 20 s default grace does not apply, nor restart
    assert tracker.seconds_until_due(119) == pytest.approx(1)
    final = tracker.settle(assess(snapshot(waiting_pod("p", "ImagePullBackOff", message="Back-off"))), now=120)
    assert final.state == FATAL and final.signal == IMAGE_PULL


# --- transient signals ----------------------------------------------------------------------------


def test_transient_signal_turns_fatal_only_after_the_grace_period():
    tracker = SignalTracker(grace_seconds=20)
    fatal = assess(snapshot(unschedulable_pod()))
    first = tracker.settle(fatal, now=100.0)
    assert first.state == WAITING and "fatal if it persists 20s more" in first.message
    assert tracker.seconds_until_due(110.0) == pytest.approx(10.0)
    assert tracker.settle(fatal, now=119.0).state == WAITING
    assert tracker.settle(fatal, now=120.0).state == FATAL


def test_definitive_signal_is_fatal_at_once():
    tracker = SignalTracker(grace_seconds=20)
    assert tracker.settle(assess(snapshot(waiting_pod("p", "CrashLoopBackOff"))), now=0).state == FATAL


def test_signal_that_clears_restarts_the_grace_period():
    tracker = SignalTracker(grace_seconds=20)
    fatal = assess(snapshot(unschedulable_pod()))
    tracker.settle(fatal, now=0)
    tracker.settle(assess(snapshot(waiting_pod("p-pending", "ContainerCreating"))), now=10)
    assert tracker.seconds_until_due(10) is None
    assert tracker.settle(fatal, now=25).state == WAITING


# --- diagnosis ------------------------------------------------------------------------------------


def test_describe_pod_lists_states_last_termination_events_and_logs():
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-11-28T11:59:00Z"}}
    p = waiting_pod("p1", "CrashLoopBackOff", message="back-off 40s restarting failed container", last=last, restarts=4)
    events = [
        {
            "type": "Warning",
            "reason": "BackOff",
            "message": "Back-off restarting",
            "lastTimestamp": "2026-11-28T12:00:00Z",
            "count": 5,
        },
        {"type": "Normal", "reason": "Pulled", "message": "image pulled", "lastTimestamp": "2026-11-28T11:50:00Z"},
    ]
    previous_log = "\n".join(f"line {i}" for i in range(40)) + "\ntorch.OutOfMemoryError: CUDA out of memory"
    logs = {"(vllm, previous instance)": previous_log}
    text = describe_pod(p, events, logs)
    assert "pod p1 (phase Running, node gpu-node-0)" in text
    assert "container vllm: waiting CrashLoopBackOff: back-off 40s" in text and "restarts 4" in text
    assert "last termination: terminated OOMKilled exit code 137 at 2026-11-28T11:59:00Z" in text
    assert text.index("Pulled") < text.index("BackOff (x5)")
    assert "CUDA out of memory" in text and "line 39" in text and "line 20" not in text
    assert "condition Ready=False" in text


def test_describe_pod_tolerates_missing_events_and_logs():
    text = describe_pod(unschedulable_pod(), "HTTP 403 Forbidden", {"(vllm)": "unavailable (HTTP 400)"})
    assert "events: unavailable (HTTP 403 Forbidden)" in text
    assert "containers: none started" in text
    assert "Insufficient nvidia.com/gpu" in text


def test_recent_events_keeps_the_last_ten_oldest_first():
    events = [
        {"type": "Normal", "reason": f"R{i:02d}", "message": "m", "lastTimestamp": f"2026-11-28T12:00:{i:02d}Z"}
        for i in range(15)
    ]
    lines = recent_events(list(reversed(events)))
    assert len(lines) == 10 and "R05" in lines[0] and "R14" in lines[-1]


def test_log_requests_prefer_the_crashed_instance():
    crashed = container(
        "vllm", state={"waiting": {"reason": "CrashLoopBackOff"}}, last={"terminated": {"reason": "Error"}}
    )
    running = container("sidecar", state={"running": {}})
    never = container("init", state={"waiting": {"reason": "PodInitializing"}})
    p = pod("a", containers=[crashed, running, never])
    assert log_requests(p) == [("vllm", True), ("sidecar", False)]


# --- check rows -----------------------------------------------------------------------------------


def test_pod_checks_pass_when_ready():
    running, ready = pod_checks(assess(snapshot(pod("a"))), "ready after 3s")
    assert (running.status, ready.status) == (PASSED, PASSED)
    assert ready.observed == "1/1 Ready: a"


def test_pod_checks_fail_with_the_reason():
    running, ready = pod_checks(assess(snapshot(unschedulable_pod())), "failed after 20s")
    assert (running.status, ready.status) == (FAILED, FAILED)
    assert "0/1 Running (failed after 20s): p-pending: Pending: Unschedulable: 0/2 nodes" in running.observed


def test_pod_running_passes_while_ready_times_out():
    running, ready = pod_checks(assess(snapshot(pod("a", ready=False))), "timed out after 60s (budget 60s)")
    assert running.status == PASSED and ready.status == FAILED
    assert "timed out after 60s" in ready.observed
