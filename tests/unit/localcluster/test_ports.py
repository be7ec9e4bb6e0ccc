from tools.localcluster.layout import PREFERRED_PORTS
from tools.localcluster.ports import choose_ports, port_free, worktree_ports


def test_preferred_ports_when_free():
    assert choose_ports(PREFERRED_PORTS, is_free=lambda p: True, fallback=lambda: 1) == dict(PREFERRED_PORTS)


def test_a_taken_port_falls_back_and_keeps_the_others():
    fallbacks = iter([40001])
    ports = choose_ports({"a": 100, "b": 200}, is_free=lambda p: p != 200, fallback=lambda: next(fallbacks))
    assert ports == {"a": 100, "b": 40001}


def test_the_same_preferred_port_is_never_given_twice():
    fallbacks = iter([300])
    assert choose_ports({"a": 100, "b": 100}, is_free=lambda p: True, fallback=lambda: next(fallbacks)) == \
        {"a": 100, "b": 300}


def test_a_fallback_already_given_is_asked_again():
    fallbacks = iter([100, 100, 500])
    ports = choose_ports({"a": 100, "b": 200}, is_free=lambda p: p == 100, fallback=lambda: next(fallbacks))
    assert ports == {"a": 100, "b": 500}


def test_port_free_sees_a_bound_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not port_free(s.getsockname()[1])


def test_worktree_ports_are_stable_per_worktree_and_shift_all_ports_alike():
    a = worktree_ports(PREFERRED_PORTS, "/work/wt/a")
    assert a == worktree_ports(PREFERRED_PORTS, "/work/wt/a")
    shifts = {a[name] - port for name, port in PREFERRED_PORTS.items()}
    assert len(shifts) == 1 and shifts.pop() % 20 == 0 and max(a.values()) < 65536


def test_two_worktrees_ports_never_coincide():
    """Two preferred ports differ by an amount that is not a multiple of the step (20), or by more than the
    largest offset (96 x 20)."""
    values = list(PREFERRED_PORTS.values())
    assert all((p - q) % 20 or abs(p - q) > 96 * 20 for i, p in enumerate(values) for q in values[i + 1:])
    roots = [f"/work/wt/{n}" for n in ("main", "rollout", "registry", "monitoring", "localcluster", "realvllm")]
    sets = [set(worktree_ports(PREFERRED_PORTS, r).values()) for r in roots]
    offsets = [min(s) for s in sets]
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            assert offsets[i] == offsets[j] or not sets[i] & sets[j]
