"""tests.support.endpoint_watch: the gap arithmetic of a recorded EndpointSlice timeline (pure)."""

from tests.support.endpoint_watch import EndpointRecord


def record(*entries, stopped_at):
    return EndpointRecord(timeline=[(at, frozenset(ready), frozenset(verified)) for at, ready, verified in entries],
                          stopped_at=stopped_at)


def test_no_gap_when_a_verified_pod_is_always_there():
    r = record((0, {"old"}, {"old"}), (5, {"old", "new"}, {"old", "new"}), (6, {"new"}, {"new"}), stopped_at=9)
    assert r.seconds_without_verified == 0.0 and r.seconds_without_ready == 0.0


def test_gaps_are_summed_between_the_events_that_bound_them_and_until_stop():
    r = record((0, {"old"}, {"old"}), (2, set(), set()), (5, {"new"}, {"new"}), (7, {"x"}, set()), stopped_at=10)
    assert r.seconds_without_verified == 3 + 3
    assert r.seconds_without_ready == 3


def test_time_before_anything_served_is_not_a_gap():
    r = record((0, set(), set()), (4, {"new"}, {"new"}), stopped_at=6)
    assert r.seconds_without_verified == 0.0
