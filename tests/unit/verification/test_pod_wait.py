from kubernetes.client.exceptions import ApiException

from components.verification.pod_wait import wait_for_rollout
from components.verification.pods import READY_ENDPOINT_FAILING, ReadinessProbe, RolloutSnapshot

from .builders import deployment, pod, replicaset, unschedulable_pod, waiting_pod


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ScriptedCluster:
    """Snapshots that change at given (fake) times; wait_for_change wakes at the next change like a watch."""

    def __init__(self, clock, timeline, errors=None):
        self.clock = clock
        self.timeline = sorted(timeline, key=lambda entry: entry[0])  # (at, pods)
        self.errors = errors or {}  # list index of snapshot call -> exception
        self.calls = 0
        self.waits = []
        self.diagnosed = []

    def snapshot(self):
        self.calls += 1
        if self.calls in self.errors:
            raise self.errors[self.calls]
        pods = [p for at, p in self.timeline if at <= self.clock.now][-1]
        return RolloutSnapshot([deployment()], [replicaset(1), replicaset(2)], pods)

    def wait_for_change(self, timeout):
        self.waits.append(timeout)
        upcoming = [at for at, _ in self.timeline if at > self.clock.now]
        self.clock.now = min([self.clock.now + timeout] + upcoming)

    def diagnose(self, name):
        self.diagnosed.append(name)
        return f"diagnosis of {name}"


def run(cluster, clock, budget=600, **kwargs):
    lines = []
    result = wait_for_rollout(cluster, budget, lines.append, clock=clock, **kwargs)
    return result, lines


def test_becomes_ready_as_soon_as_the_pod_is_ready():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, []), (5, [waiting_pod("p", "ContainerCreating")]), (42, [pod("p")])])
    result, lines = run(cluster, clock)
    assert result.ready and result.outcome == "ready after 42s" and clock.now == 42
    assert any("ContainerCreating" in line for line in lines)
    assert all(wait <= 10 for wait in cluster.waits)  # bounded re-list at least every tick


def test_definitive_failure_stops_at_once_with_a_diagnosis():
    clock = Clock()
    timeline = [(0, [waiting_pod("p", "ContainerCreating")]), (3, [waiting_pod("p", "CrashLoopBackOff")])]
    cluster = ScriptedCluster(clock, timeline)
    result, _ = run(cluster, clock)
    assert result.assessment.state == "fatal" and clock.now == 3
    assert result.diagnosis == "diagnosis of p" and result.outcome == "failed after 3s"


def test_unschedulable_fails_once_it_persisted_for_the_grace_period():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [unschedulable_pod("p")])])
    result, lines = run(cluster, clock, grace_seconds=20)
    assert result.assessment.signal == "Unschedulable" and result.assessment.state == "fatal"
    assert 20 <= clock.now < 60  # within a minute of the signal
    assert "fatal if it persists" in lines[0]


def test_unschedulable_that_resolves_is_not_fatal():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [unschedulable_pod("p")]), (8, [pod("p")])])
    result, _ = run(cluster, clock, grace_seconds=20)
    assert result.ready


def test_budget_runs_out_with_the_stuck_pods_diagnosed():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [pod("p", ready=False)])])
    result, lines = run(cluster, clock, budget=95, progress_interval_seconds=30)
    assert not result.ready and result.outcome == "timed out after 95s (budget 95s)"
    assert clock.now == 95 and cluster.diagnosed == ["p"]
    assert 3 <= len(lines) <= 5  # a line on change and every 30 s, not every tick


def test_forbidden_stops_immediately():
    clock = Clock()
    forbidden = ApiException(status=403, reason="Forbidden")
    cluster = ScriptedCluster(clock, [(0, [pod("p")])], errors={1: forbidden})
    result, _ = run(cluster, clock)
    assert not result.ready and "HTTP 403 Forbidden" in result.outcome and result.api_error


def test_transient_api_errors_are_waited_out(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("components.verification.pod_wait.time.sleep", lambda s: setattr(clock, "now", clock.now + s))
    cluster = ScriptedCluster(
        clock, [(0, [pod("p")])], errors={1: ConnectionRefusedError("refused"), 2: ApiException(status=500)}
    )
    result, lines = run(cluster, clock)
    assert result.ready and cluster.calls == 3
    assert any("cluster API error" in line for line in lines)


def test_api_unreachable_until_the_budget_ends_is_reported_as_api_error(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("components.verification.pod_wait.time.sleep", lambda s: setattr(clock, "now", clock.now + s))
    cluster = ScriptedCluster(
        clock, [(0, [pod("p")])], errors={i: ConnectionRefusedError("refused") for i in range(1, 1000)}
    )
    result, _ = run(cluster, clock, budget=30)
    assert not result.ready and result.api_error and "timed out" in result.outcome


# --- /health 200 but /ready not 200 (a Running pod that never gets Ready) ------------------------------------


def not_ready_pod(name="p"):
    return pod(name, ready=False)


READY_BODY = '{"status": "not ready", "reason": "/v1/models lists no model"}'


def test_health_ok_but_ready_503_fails_after_the_ready_grace_with_the_ready_body():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [waiting_pod("p", "ContainerCreating")]), (5, [not_ready_pod()])])
    probed = []

    def prober(name):
        probed.append((clock.now, name))
        return ReadinessProbe(200, 503, READY_BODY)

    result, lines = run(cluster, clock, budget=1200, prober=prober, graces={READY_ENDPOINT_FAILING: 60})
    assert result.assessment.state == "fatal" and result.assessment.signal == READY_ENDPOINT_FAILING
    assert 65 <= clock.now <= 75  # the 60 s grace after the first such answer, not the 1200 s budget
    assert result.assessment.message == f"p: GET /health 200 but GET /ready 503: {READY_BODY}"
    assert result.diagnosis == "diagnosis of p"
    assert all(b - a >= 10 for (a, _), (b, _) in zip(probed, probed[1:], strict=False))  # at most every tick
    assert any("fatal if it persists" in line for line in lines)


def test_a_pod_that_is_still_loading_is_not_failed_by_the_probe():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [not_ready_pod()]), (300, [pod("p")])])

    def prober(_name):  # vLLM refuses connections while it loads the weights
        return ReadinessProbe(None, None, error="ConnectError: connection refused")

    result, _ = run(cluster, clock, budget=1200, prober=prober, graces={READY_ENDPOINT_FAILING: 60})
    assert result.ready and clock.now == 300


def test_ready_503_that_clears_within_the_grace_is_not_fatal():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [not_ready_pod()]), (50, [pod("p")])])
    result, _ = run(cluster, clock, prober=lambda _n: ReadinessProbe(200, 503, READY_BODY),
                    graces={READY_ENDPOINT_FAILING: 60})
    assert result.ready and clock.now == 50


def test_a_ready_rollout_reports_replaced_terminal_pods_in_its_diagnosis():
    clock = Clock()
    rejected = pod("old", phase="Failed", ready=False, reason="UnexpectedAdmissionError", message="Allocate failed")
    cluster = ScriptedCluster(clock, [(0, [rejected, pod("new")])])
    result, _ = run(cluster, clock)
    assert result.ready and "old: Failed: UnexpectedAdmissionError: Allocate failed" in result.diagnosis


def test_cancellation_during_the_pod_wait_raises_at_once_not_at_the_budget():
    from components.cancellation import Cancellation, OperationCancelled

    clock, cancellation = Clock(), Cancellation()
    cluster = ScriptedCluster(clock, [(0, [waiting_pod("p", "ContainerCreating")])])
    real_wait = cluster.wait_for_change

    def wait_then_cancel(timeout):
        real_wait(timeout)
        if clock.now >= 30:
            cancellation.cancel("cancelled by the user")

    cluster.wait_for_change = wait_then_cancel
    try:
        run(cluster, clock, budget=3600, cancellation=cancellation)
    except OperationCancelled as exc:
        assert "cancelled by the user while waiting for the release's pods" in str(exc)
        assert "ContainerCreating" in str(exc)
    else:
        raise AssertionError("the wait did not end on cancellation")
    assert 30 <= clock.now < 3600


def test_unschedulable_gets_its_own_grace_so_a_node_autoscaler_can_add_a_node():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [unschedulable_pod("p")]), (240, [pod("p")])])  # a node joined at 4 min
    result, lines = run(cluster, clock, budget=3600, grace_seconds=20, graces={"Unschedulable": 600})
    assert result.ready and result.outcome == "ready after 240s"
    assert any("fatal if it persists 600s more" in line for line in lines)


def test_unschedulable_beyond_its_own_grace_is_fatal_with_the_scheduler_message():
    clock = Clock()
    cluster = ScriptedCluster(clock, [(0, [unschedulable_pod("p")])])
    result, _ = run(cluster, clock, budget=3600, grace_seconds=20, graces={"Unschedulable": 600})
    assert result.assessment.state == "fatal" and result.assessment.signal == "Unschedulable"
    assert 600 <= clock.now < 3600
