import pytest

from tools.localcluster.health import wait_for
from tools.localcluster.processes import ClusterError, Processes


def test_start_find_and_stop_a_process(tmp_path):
    procs = Processes(tmp_path / "pids", tmp_path / "logs")
    pid = procs.start("sleeper", ["sleep", "30"], cwd=tmp_path)
    assert procs.pid_of("sleeper") == pid
    assert procs.saved("sleeper")["argv"] == ["sleep", "30"]
    procs.stop("sleeper", grace=5)
    assert procs.pid_of("sleeper") is None and procs.saved("sleeper") is None
    assert "starting sleeper: sleep 30" in procs.tail("sleeper")


def test_a_pid_whose_command_line_lacks_the_marker_is_not_ours(tmp_path):
    procs = Processes(tmp_path / "pids", tmp_path / "logs")
    pid = procs.start("sleeper", ["sleep", "30"], cwd=tmp_path, marker="not-in-the-command-line")
    wait_for("sleep's command line", lambda: open(f"/proc/{pid}/cmdline", "rb").read() != b"", timeout=10)
    try:
        assert procs.pid_of("sleeper") is None  # e.g. a recycled pid: never signalled
    finally:
        (tmp_path / "pids" / "sleeper.cmd").write_text("sleep\n")
        procs.stop("sleeper", grace=5)


def test_wait_for_fails_at_once_when_the_process_exited():
    with pytest.raises(ClusterError, match="etcd exited while waiting for etcd /health; last log lines:\nboom"):
        wait_for("etcd /health", lambda: False, timeout=30, alive=lambda: False, last_words=lambda: "boom",
                 who="etcd")


def test_wait_for_returns_when_the_check_holds():
    answers = iter([False, True])
    wait_for("x", lambda: next(answers), timeout=30)
