"""components.verification.rollout.drive_rollout against a small Deployment controller simulation.

The simulation follows RollingUpdate with maxSurge 1 and maxUnavailable 0 and a readiness gate: a new pod is Ready
only once its gate is True; only then is an old pod removed and the next new pod created. The test records, after
every step, which pods would be in the Service's endpoints (Ready) and whether each was verified.
"""

from functools import partial

from components.verification.checks import FAILED, PASSED, CheckResult
from components.verification.http_checks import HttpPlan
from components.verification.pod_wait import wait_for_rollout
from components.verification.pods import RolloutSnapshot
from components.verification.rollout import GateNotSet, PodCheck, drive_rollout
from components.verification.stats import summarize

from .builders import deployment, replicaset, waiting_pod
from .test_pod_wait import Clock
from .test_readiness_gate import GATE, gated_pod

LOAD_SECONDS = 30


class SimulatedRollout:
    """Old pods (rs-1, verified earlier) and new pods (rs-2) that load for LOAD_SECONDS, then wait for their gate."""

    def __init__(self, clock, replicas, crash=False):
        self.clock, self.replicas, self.crash = clock, replicas, crash
        self.old = [f"old-{i}" for i in range(replicas)]
        self.new: dict[str, dict] = {}  # name -> {"born": t, "gate": None|"True"|"False"}
        self.endpoint_log: list[tuple[float, list[str], list[str]]] = []
        self._surge()

    def _surge(self):
        if len(self.new) < self.replicas:
            self.new[f"new-{len(self.new)}"] = {"born": self.clock.now, "gate": None}

    def set_gate(self, pod, passed, message):
        self.new[pod]["gate"] = "True" if passed else "False"
        if passed:  # the pod turns Ready: the controller removes an old pod and surges the next new one
            self.old.pop(0)
            self._surge()
        self._record()

    def _loaded(self, pod):
        return self.clock.now - self.new[pod]["born"] >= LOAD_SECONDS

    def pods(self):
        pods = [gated_pod(name, owner="rs-1", gate="True") for name in self.old]
        for name, state in self.new.items():
            if self.crash and self._loaded(name):
                last = {"terminated": {"reason": "Error", "exitCode": 1}}
                pods.append(waiting_pod(name, "CrashLoopBackOff", last=last))
                pods[-1]["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "uid": "rs-2"}]
            else:
                pods.append(gated_pod(name, containers=self._loaded(name), gate=state["gate"]))
        return pods

    def _record(self):
        ready = [p["metadata"]["name"] for p in self.pods()
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])]
        verified = [name for name in ready if name.startswith("old") or self.new[name]["gate"] == "True"]
        self.endpoint_log.append((self.clock.now, ready, verified))

    # RolloutSource
    def snapshot(self):
        self._record()
        return RolloutSnapshot([deployment(replicas=self.replicas)], [replicaset(1), replicaset(2)], self.pods())

    def wait_for_change(self, timeout):
        upcoming = [state["born"] + LOAD_SECONDS for state in self.new.values()
                    if state["born"] + LOAD_SECONDS > self.clock.now]
        self.clock.now = min([self.clock.now + timeout] + upcoming)

    def diagnose(self, name):
        return f"diagnosis of {name}"


def passing(pod):
    summary = summarize([0.1] * 20, 3.0, planned=20)
    return PodCheck([CheckResult("GET /health", PASSED, "HTTP 200", "HTTP 200"),
                     CheckResult("completion latency p95", PASSED, "p95 <= 3.00s", "p95 0.10s")], summary,
                    f"port-forward to pod {pod}")


def slow(pod):
    summary = summarize([4.0] * 20, 3.0, planned=20)
    return PodCheck([CheckResult("GET /health", PASSED, "HTTP 200", "HTTP 200"),
                     CheckResult("completion latency p95", FAILED, "p95 <= 3.00s", "p95 4.00s > 3.00s")], summary,
                    f"port-forward to pod {pod}")


def drive(cluster, clock, check, set_gate=None, lines=None):
    lines = [] if lines is None else lines
    return drive_rollout(cluster, GATE, 600, HttpPlan(), check, set_gate or cluster.set_gate, lines.append,
                         grace_seconds=20, wait=partial(wait_for_rollout, clock=clock))


def test_good_rollout_verifies_each_surge_pod_and_never_leaves_the_service_without_a_verified_pod():
    clock = Clock()
    cluster = SimulatedRollout(clock, replicas=2)
    checked = []
    run = drive(cluster, clock, lambda pod: checked.append(pod) or passing(pod))
    assert checked == ["new-0", "new-1"] and run.verified == ["new-0", "new-1"]
    assert run.rows[-1].name == "verified rollout" and run.rows[-1].status == PASSED
    assert [r.name for r in run.rows[:2]] == ["new-0: GET /health", "new-0: completion latency p95"]
    assert all(ready == verified and len(ready) >= 2 for _, ready, verified in cluster.endpoint_log)
    assert cluster.old == [] and clock.now == 2 * LOAD_SECONDS


def test_a_slow_new_pod_stays_out_of_the_service_and_stops_the_rollout():
    clock = Clock()
    cluster = SimulatedRollout(clock, replicas=1)
    lines = []
    run = drive(cluster, clock, slow, lines=lines)
    assert cluster.new["new-0"]["gate"] == "False" and cluster.old == ["old-0"]
    assert run.verified == [] and run.rows[-1].status == FAILED
    assert "new-0 failed the verification" in run.rows[-1].observed
    assert all(ready == ["old-0"] for _, ready, _ in cluster.endpoint_log)  # no traffic ever went to new-0
    assert any("previous revision keeps serving" in line for line in lines)
    assert run.worst_latency.p95 == 4.0


def test_crashing_new_pods_fail_with_the_diagnosis_and_the_old_pod_keeps_serving():
    clock = Clock()
    cluster = SimulatedRollout(clock, replicas=1, crash=True)
    run = drive(cluster, clock, passing)
    assert run.verified == [] and cluster.old == ["old-0"]
    rollout_row = next(r for r in run.rows if r.name == "verified rollout")
    assert rollout_row.status == FAILED and "CrashLoopBackOff" in rollout_row.observed
    assert "no new pod got traffic, 1 pod(s) of the previous revision keep serving" in rollout_row.observed
    assert run.diagnosis == "diagnosis of new-0"
    assert any(r.status == "skipped" for r in run.rows)


def test_a_refused_gate_patch_is_an_error_naming_the_permission():
    clock = Clock()
    cluster = SimulatedRollout(clock, replicas=1)

    def refuse(pod, passed, message):
        raise GateNotSet("HTTP 403 Forbidden (the verification needs patch on pods/status)")

    run = drive(cluster, clock, passing, set_gate=refuse)
    assert run.rows[-1].name == f"new-0: set {GATE}" and run.rows[-1].status == "error"
    assert "pods/status" in run.rows[-1].observed and run.verified == []


def test_each_pod_gets_the_whole_budget():
    clock = Clock()
    cluster = SimulatedRollout(clock, replicas=3)
    budgets = []

    def wait(source, budget, *args, **kwargs):
        budgets.append(budget)
        return wait_for_rollout(source, budget, *args, clock=clock, **kwargs)

    run = drive_rollout(cluster, GATE, 600, HttpPlan(), passing, cluster.set_gate, lambda _: None, 20, wait=wait)
    assert run.verified == ["new-0", "new-1", "new-2"] and budgets == [600] * 4
