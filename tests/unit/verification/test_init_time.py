"""components.verification.init_time: pod timestamps -> seconds to Ready, maxima, and the budget warning."""

import pytest

from components.verification.init_time import initialization_times, initialization_warning, pod_initialization


def timed_pod(name: str, created: str | None, scheduled: str | None, ready: str | None, ready_status="True") -> dict:
    conditions = []
    if scheduled:
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": scheduled})
    if ready:
        conditions.append({"type": "Ready", "status": ready_status, "lastTransitionTime": ready})
    metadata = {"name": name}
    if created:
        metadata["creationTimestamp"] = created
    return {"metadata": metadata, "status": {"conditions": conditions}}


def test_seconds_from_creation_and_from_scheduling_to_ready():
    times = pod_initialization(timed_pod("a", "2026-12-02T10:00:00Z", "2026-12-02T10:00:05Z", "2026-12-02T10:12:30Z"))
    assert times.pod == "a"
    assert times.from_created_seconds == 750.0
    assert times.from_scheduled_seconds == 745.0


def test_offset_timestamps_are_compared_as_instants():
    times = pod_initialization(timed_pod("a", "2026-12-02T10:00:00+00:00", None, "2026-12-02T11:00:10+01:00"))
    assert times.from_created_seconds == 10.0
    assert times.from_scheduled_seconds is None


@pytest.mark.parametrize("ready,status", [(None, None), ("2026-12-02T10:01:00Z", "False")])
def test_a_pod_that_is_not_ready_has_no_initialization_time(ready, status):
    assert pod_initialization(timed_pod("a", "2026-12-02T10:00:00Z", "2026-12-02T10:00:01Z", ready, status)) is None


@pytest.mark.parametrize("created", [None, "not a time", "2026-12-02T10:05:00Z"])  # missing, garbage, after Ready
def test_unusable_creation_timestamps_give_none_not_an_error(created):
    times = pod_initialization(timed_pod("a", created, "2026-12-02T10:00:00Z", "2026-12-02T10:01:00Z"))
    assert times.from_created_seconds is None
    assert times.from_scheduled_seconds == 60.0


def test_maximum_over_the_verified_pods_only():
    pods = [
        timed_pod("fast", "2026-12-02T10:00:00Z", "2026-12-02T10:00:01Z", "2026-12-02T10:02:00Z"),
        timed_pod("slow", "2026-12-02T10:00:00Z", "2026-12-02T10:03:00Z", "2026-12-02T10:10:00Z"),
        timed_pod("old-revision", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z"),
        timed_pod("loading", "2026-12-02T10:00:00Z", "2026-12-02T10:00:01Z", None),
    ]
    times = initialization_times(pods, names=["fast", "slow", "loading"])
    assert [p.pod for p in times.pods] == ["fast", "slow"]
    assert times.max_seconds == 600.0
    assert times.max_from_scheduled_seconds == 420.0
    assert times.as_output() == {
        "max_seconds": 600.0, "max_from_scheduled_seconds": 420.0,
        "pods": [{"pod": "fast", "from_created_seconds": 120.0, "from_scheduled_seconds": 119.0},
                 {"pod": "slow", "from_created_seconds": 600.0, "from_scheduled_seconds": 420.0}],
    }


def test_no_ready_pods_gives_no_maximum():
    times = initialization_times([timed_pod("a", "2026-12-02T10:00:00Z", None, None)])
    assert times.pods == () and times.max_seconds is None and times.max_from_scheduled_seconds is None


@pytest.mark.parametrize("seconds,warns", [(None, False), (900, False), (960, False), (961, True), (1300, True)])
def test_warning_above_the_share_of_the_budget(seconds, warns):
    message = initialization_warning(seconds, 1200, 0.8)
    assert (message is not None) == warns
    if warns:
        assert f"took {seconds}s" in message and "1200s startup budget" in message and "above 80%" in message
        assert "model.startupBudgetSeconds" in message


def test_the_provider_outputs_carry_the_initialization_times():
    import dataclasses

    from components.verification.resource import DeploymentVerificationProvider
    from tests.unit.verification.test_resource import checked, fake_report, provider_outs

    props = checked()
    measured = initialization_times([timed_pod("p", "2026-12-02T10:00:00Z", "2026-12-02T10:00:02Z",
                                               "2026-12-02T10:00:42Z")])
    report = dataclasses.replace(fake_report(props, passed=True), initialization=measured)
    outs = provider_outs(DeploymentVerificationProvider(), props, report)
    assert outs["initialization"]["max_seconds"] == 42.0
    assert outs["initialization"]["max_from_scheduled_seconds"] == 40.0
    assert provider_outs(DeploymentVerificationProvider(), props)["initialization"] is None


def test_the_component_warns_through_pulumi_log_only_above_the_share(monkeypatch):
    import pulumi

    from components.vllm_model import VllmModel

    warned: list[tuple[str, object]] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None: warned.append((message, resource)))
    model = VllmModel.__new__(VllmModel)  # only the warning hook, without registering a component
    model._warn_slow_start(900.0, 1200, 0.8)
    model._warn_slow_start(None, 1200, 0.8)
    assert warned == []
    model._warn_slow_start(1100.0, 1200, 0.8)
    assert len(warned) == 1 and warned[0][1] is model and "took 1100s, 92% of the 1200s startup budget" in warned[0][0]
