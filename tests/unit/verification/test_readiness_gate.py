"""components.verification.readiness_gate: the verified rollout's view of one snapshot (pure)."""

from components.verification.pods import FATAL, READY, WAITING, RolloutSnapshot
from components.verification.readiness_gate import (
    assess_verified_rollout,
    containers_ready,
    gate_condition_patch,
    gate_status,
    old_revision_pods,
)

from .builders import container, deployment, pod, replicaset, unschedulable_pod, waiting_pod

GATE = "vllm.deploy/verified"


def gated_pod(name, owner="rs-2", containers=True, gate=None, deleting=False):
    """A pod of the verified rollout: Ready only when its containers are ready and the gate is True."""
    ready = containers and gate == "True"
    conditions = [
        {"type": "PodScheduled", "status": "True"},
        {"type": "ContainersReady", "status": "True" if containers else "False"},
        {"type": "Ready", "status": "True" if ready else "False"},
    ]
    if gate is not None:
        conditions.append({"type": GATE, "status": gate})
    return pod(name, owner=owner, ready=ready, conditions=conditions, deleting=deleting,
               containers=[container(state={"running": {}}, ready=containers)])


def snapshot(pods, replicas=1):
    return RolloutSnapshot([deployment(replicas=replicas)], [replicaset(1), replicaset(2)], pods)


def test_new_pod_with_ready_containers_is_to_verify_while_the_old_pod_serves():
    view = assess_verified_rollout(snapshot([gated_pod("old", owner="rs-1", gate="True"), gated_pod("new")]), GATE)
    assert view.state == READY and view.to_verify == ("new",) and not view.complete


def test_a_loading_new_pod_is_waited_for():
    view = assess_verified_rollout(snapshot([gated_pod("old", owner="rs-1", gate="True"),
                                             gated_pod("new", containers=False)]), GATE)
    assert view.state == WAITING and view.to_verify == ()
    assert "0/1 new pods verified and Ready" in view.message and "1 old pod(s) still running: old" in view.message


def test_a_checked_pod_waits_for_its_ready_condition_then_for_the_old_pods_to_go():
    old = gated_pod("old", owner="rs-1", gate="True")
    waiting = assess_verified_rollout(snapshot([old, gated_pod("new", gate="True")]), GATE, checked=["new"])
    assert waiting.state == WAITING and "old pod(s) still running" in waiting.message
    not_ready = assess_verified_rollout(snapshot([old, gated_pod("new")]), GATE, checked=["new"])
    assert "new: verified, waiting for Ready (vllm.deploy/verified absent)" in not_ready.message
    terminating = gated_pod("old", owner="rs-1", gate="True", deleting=True)
    draining = assess_verified_rollout(snapshot([terminating, gated_pod("new", gate="True")]), GATE, checked=["new"])
    assert draining.state == WAITING and "old (terminating)" in draining.message


def test_complete_when_every_new_pod_is_checked_and_ready_and_no_old_pod_is_left():
    view = assess_verified_rollout(snapshot([gated_pod("a", gate="True"), gated_pod("b", gate="True")], replicas=2),
                                   GATE, checked=["a", "b"])
    assert view.state == READY and view.complete and view.to_verify == ()
    assert view.message == "rollout complete: 2/2 new pods verified and Ready, no old pods left"


def test_a_pod_verified_by_an_earlier_run_is_checked_again_by_this_one():
    # the next `pulumi up` re-checks pods whose gate is already True (e.g. after returning to the old revision)
    view = assess_verified_rollout(snapshot([gated_pod("a", gate="True")]), GATE, checked=[])
    assert view.to_verify == ("a",)


def test_a_crashing_new_pod_is_fatal():
    crashing = waiting_pod("new", "CrashLoopBackOff", last={"terminated": {"reason": "Error", "exitCode": 1}})
    view = assess_verified_rollout(snapshot([gated_pod("old", owner="rs-1", gate="True"), crashing]), GATE)
    assert view.state == FATAL and view.problem_pods == ("new",) and "CrashLoopBackOff" in view.message
    assert view.old_serving == 1


def test_no_deployment_is_reported_as_assess_does():
    view = assess_verified_rollout(RolloutSnapshot([], [], []), GATE)
    assert view.state == FATAL and view.signal == "NoDeployment"


def test_containers_ready_reads_the_condition_or_the_container_statuses():
    assert containers_ready(gated_pod("a"))
    assert not containers_ready(gated_pod("a", containers=False))
    assert not containers_ready(gated_pod("a", deleting=True))
    without_condition = pod("b", ready=False, conditions=[{"type": "Ready", "status": "False"}],
                            containers=[container(state={"running": {}}, ready=True)])
    assert containers_ready(without_condition)
    assert not containers_ready(pod("c", phase="Pending", ready=False))


def test_gate_status_and_old_pods():
    assert gate_status(gated_pod("a"), GATE) == "absent"
    assert gate_status(gated_pod("a", gate="False"), GATE) == "False"
    finished = pod("done", owner="rs-1", phase="Succeeded", ready=False)
    pods = [gated_pod("old", owner="rs-1"), finished, gated_pod("new")]
    assert [p["metadata"]["name"] for p in old_revision_pods(snapshot(pods), {"new"})] == ["old"]


def test_gate_patch_sets_the_condition_by_type_with_reason_and_message():
    patch = gate_condition_patch(GATE, True, "p95 0.1s <= 3s", "2026-12-02T12:00:00+00:00")
    assert patch == {"status": {"conditions": [{
        "type": GATE, "status": "True", "reason": "VerificationPassed", "message": "p95 0.1s <= 3s",
        "lastTransitionTime": "2026-12-02T12:00:00+00:00"}]}}
    failed = gate_condition_patch(GATE, False, "x" * 5000, "t")["status"]["conditions"][0]
    assert failed["status"] == "False" and failed["reason"] == "VerificationFailed" and len(failed["message"]) == 1000


def test_an_unschedulable_surge_pod_waits_while_an_old_pod_drains_and_is_fatal_otherwise():
    pending = unschedulable_pod("new-1")
    pending["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "uid": "rs-2"}]
    verified_new = gated_pod("new-0", gate="True")
    draining = gated_pod("old-0", owner="rs-1", gate="True", deleting=True)
    view = assess_verified_rollout(snapshot([draining, verified_new, pending], replicas=2), GATE, checked=["new-0"])
    assert view.state == WAITING and "waiting for the GPUs of terminating old pod(s) old-0" in view.message
    stuck = assess_verified_rollout(snapshot([verified_new, pending], replicas=2), GATE, checked=["new-0"])
    assert stuck.state == FATAL and stuck.signal == "Unschedulable"
