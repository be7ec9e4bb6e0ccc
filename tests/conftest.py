"""Suite-wide setup for parallel runs: each pytest-xdist worker gets a local cluster of its own.

`make test` runs pytest with two workers (``-n 2 --dist loadfile``: a test module runs whole on one worker, in
order). The local cluster is shared state: tests restart its simulator, switch its pod engine, fill its four GPUs
with blocker pods, add and remove nodes and restart its API server. So no two workers share one: the first worker
(gw0), and a run without xdist, use the worktree's cluster (<repo>/.state/cluster, the one `make demo` and
`tools/cluster` use); every other worker uses a cluster of its own under <repo>/.state/workers/<worker id>
(tools/localcluster/layout.py: STATE_ENV), started by the first test that needs it (tests/support/cluster.py:
ensure_cluster). At the end of the run each worker stops the cluster it started itself; a cluster that was already
running (`make demo`'s, or one started with `tools/cluster up` to be kept between runs) is left running.
`make cluster-down` stops them all.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cluster import REPO_ROOT, stop_cluster_if_started_here
from tools.localcluster.layout import STATE_ENV

WORKER_STATES = REPO_ROOT / ".state" / "workers"
FIRST_WORKER = "gw0"


def worker_state(worker: str | None) -> Path | None:
    """The state root of ``worker``'s own cluster; None for the worktree's cluster (no xdist, or the first worker)."""
    return None if worker in (None, FIRST_WORKER) else WORKER_STATES / worker


def pytest_configure(config: pytest.Config) -> None:
    state = worker_state(os.environ.get("PYTEST_XDIST_WORKER"))
    if state is not None:
        os.environ[STATE_ENV] = str(state)  # read by tests/support/cluster.py and every tools/cluster it runs


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_cluster_if_started_here()  # a clean clone's `make test` leaves no cluster process behind
