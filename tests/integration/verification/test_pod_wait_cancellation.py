"""KubeRollout.wait_for_change against the local control plane: cancellation wakes it at any moment of the watch.

A watch whose response has not started cannot be interrupted by ``Watch.stop``; the e2e Ctrl-C test once hit
exactly that moment and waited out the 10 s watch. Cancelling before, at, and during the watch must all return
at once; without cancellation the wait lasts until its timeout (nothing changes in the namespace).
"""

from __future__ import annotations

import threading
import time

import pytest

from components.cancellation import Cancellation
from components.kube import KubeAccess, api_client_for
from components.verification.pod_wait import KubeRollout
from tests.support.cluster import ensure_cluster, tools_available

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not tools_available(), reason="local cluster tools not built (tools/build)"),
]
WATCH_SECONDS = 30


@pytest.fixture(scope="module")
def api():
    cluster = ensure_cluster()
    api_client = api_client_for(KubeAccess(str(cluster.kubeconfig), cluster.context))
    yield api_client
    api_client.close()


class WatchedRollout(KubeRollout):
    """Records whether the end of its pod watch was what woke ``wait_for_change`` (nothing else had woken it: the
    cancellation did not), as opposed to a watch that ends after the wait already woke (e.g. closed on an error)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.woken_by_watch_end = threading.Event()

    def _watch_once(self, watcher, timeout, woke):
        super()._watch_once(watcher, timeout, threading.Event())  # returns when the watch ends
        if not woke.is_set():
            self.woken_by_watch_end.set()
        woke.set()


@pytest.mark.parametrize("cancel_after", [None, 0.0, 0.005, 0.5], ids=["before", "at-start", "opening", "open"])
def test_cancellation_wakes_the_pod_watch_at_any_moment(api, cancel_after):
    cancellation = Cancellation()
    rollout = WatchedRollout(api, "system", "no-such-release", cancellation=cancellation)
    rollout.snapshot()
    if cancel_after is None:
        cancellation.cancel()
    else:
        threading.Timer(cancel_after, cancellation.cancel).start()
    started = time.monotonic()
    rollout.wait_for_change(WATCH_SECONDS)
    print(f"\nmeasured: woke {time.monotonic() - started:.3f}s after the wait began (watch timeout {WATCH_SECONDS}s)")
    assert cancellation.cancelled
    assert not rollout.woken_by_watch_end.is_set(), "woke only when the watch ended, not on cancellation"
