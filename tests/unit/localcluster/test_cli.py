import pytest

from tools.localcluster.cli import parse
from tools.localcluster.layout import COMPONENTS


def test_up_takes_an_explicit_engine():
    assert parse(["up"]).engine == "sim"
    assert parse(["up", "--engine", "sim"]).engine == "sim"
    with pytest.raises(SystemExit):
        parse(["up", "--engine", "vllm"])  # issue 15


@pytest.mark.parametrize("argv,args", [
    (["sim", "--", "--failure-injection-rate=100", "--failure-types=server_error"],
     ["--failure-injection-rate=100", "--failure-types=server_error"]),
    (["sim", "--time-to-first-token=3500ms"], ["--time-to-first-token=3500ms"]),
    (["sim", "--"], []),
    (["sim"], []),
])
def test_sim_takes_simulator_flags_with_or_without_separator(argv, args):
    parsed = parse(argv)
    assert parsed.command == "sim" and parsed.args == args


def test_restart_one_component_or_all():
    assert parse(["restart"]).component is None
    for c in COMPONENTS:
        assert parse(["restart", c]).component == c
    with pytest.raises(SystemExit):
        parse(["restart", "kubelet"])


def test_env_json_and_plain_commands():
    assert parse(["env", "--json"]).json is True and parse(["env"]).json is False
    for cmd in ("down", "status", "check"):
        assert parse([cmd]).command == cmd
    assert parse([]).command is None


def test_unknown_arguments_are_refused():
    with pytest.raises(SystemExit):
        parse(["down", "--force"])
    with pytest.raises(SystemExit):
        parse(["bogus"])
