from tools.localcluster.layout import PREFERRED_PORTS
from tools.localcluster.ports import choose_ports, port_free


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
