from pathlib import Path

from tools.localcluster.layout import STATE_ENV, Layout
from tools.localcluster.processes import is_orphan_of


def test_the_worktrees_cluster_lives_under_dot_state_unless_the_environment_names_another_state_root():
    default = Layout.from_environment(Path("/r"), environ={})
    assert default == Layout(Path("/r"))
    assert (default.state, default.postgres, default.kubeconfig) == (
        Path("/r/.state/cluster"), Path("/r/.state/postgres"), Path("/r/.state/cluster/kubeconfig"))

    worker = Layout.from_environment(Path("/r"), environ={STATE_ENV: "/r/.state/workers/gw1"})
    assert worker.bin == default.bin  # the same built tools
    assert (worker.state, worker.postgres, worker.egress_socket) == (
        Path("/r/.state/workers/gw1/cluster"), Path("/r/.state/workers/gw1/postgres"),
        Path("/r/.state/workers/gw1/cluster/egress.sock"))


def test_stopping_one_cluster_never_takes_the_processes_of_another_for_its_orphans():
    # `down` kills processes whose arguments contain its state path: one state path must not contain the other
    default, worker = Layout(Path("/r")), Layout(Path("/r"), Path("/r/.state/workers/gw1"))
    for mine, other in ((default, worker), (worker, default)):
        argv = ["kwok", f"--kubeconfig={other.state}/kwok.kubeconfig"]
        helper = ["python3", "tools/cluster", "_runner", str(other.logs)]
        for process in (argv, helper):
            assert not is_orphan_of(process, {"kwok"}, str(mine.state), str(mine.logs))
        assert is_orphan_of(argv, {"kwok"}, str(other.state), str(other.logs))
