"""Test helpers for the local kwok cluster started by ``tools/cluster``.

``ensure_cluster()`` starts the cluster when it is not healthy and describes it;
``tools_available()`` tells whether the locally built binaries exist (tests that need
the cluster should skip when it returns False); ``pod_process()`` tells which process the
pod runner runs for a pod (port, pid, simulator flags); ``layout()`` tells which cluster this process uses.
Standard library, PyYAML and tools/localcluster's layout only.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.localcluster.layout import Layout

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
CLUSTER_SCRIPT = REPO_ROOT / "tools" / "cluster"
# Held while a test process checks or starts its cluster: two pytest workers starting their clusters at once
# would race for the same free ports (the second cluster's PostgreSQL, for one, prefers the first one's port).
START_LOCK = REPO_ROOT / ".state" / "cluster-start.lock"
# Whether ensure_cluster() started this process's cluster (stop_cluster_if_started_here() stops it again).
_started_here = False

REQUIRED_BINARIES = (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok",
)


@dataclass(frozen=True)
class ClusterInfo:
    """What a test needs to talk to the local cluster and its vLLM simulator."""

    kubeconfig: Path
    context: str
    api_server: str
    sim_url: str
    sim_port: int
    sim_model: str
    gpu_nodes: list[str] = field(default_factory=list)
    cpu_nodes: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """Environment for subprocesses (kubectl, pulumi, helm) that should use this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def layout() -> Layout:
    """The cluster this process uses: <repo>/.state/cluster, or its own under layout.STATE_ENV (the parallel
    test run gives each pytest worker but the first a cluster of its own: tests/conftest.py)."""
    return Layout.from_environment(REPO_ROOT)


def tools_available() -> bool:
    """True if the cluster binaries from ``tools/build`` are present and a simulator is available."""
    if not all((TOOLS_BIN / b).is_file() for b in REQUIRED_BINARIES):
        return False
    return bool(os.environ.get("VLLM_SIM_CMD")) or (TOOLS_BIN / "llm-d-inference-sim").is_file()


def _run_cluster(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLUSTER_SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def ensure_cluster(timeout: float = 300) -> ClusterInfo:
    """Start the local cluster unless it is already healthy, and describe it.

    Raises RuntimeError with the script's output if it cannot be started.
    """
    global _started_here
    START_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(START_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = _run_cluster("status", timeout=60)
        if status.returncode != 0:
            _started_here = True  # also when up fails half-way: what it started is stopped at the end
            up = _run_cluster("up", timeout=timeout)
            if up.returncode != 0:
                raise RuntimeError(f"tools/cluster up failed (exit {up.returncode}):\n{up.stdout}\n{up.stderr}")
    info = json.loads(layout().info.read_text())
    kubeconfig = Path(info["kubeconfig"])
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    return ClusterInfo(
        kubeconfig=kubeconfig,
        context=info["context"],
        api_server=server,
        sim_url=info["sim"]["url"],
        sim_port=int(info["sim"]["port"]),
        sim_model=info["sim"]["model"],
        gpu_nodes=list(info["gpu_nodes"]),
        cpu_nodes=list(info["cpu_nodes"]),
    )


def stop_cluster_if_started_here(timeout: float = 120) -> None:
    """Stop the cluster ensure_cluster() started in this process (a test run leaves running only the cluster that
    was already running before it, e.g. `make demo`'s); a cluster that was already running is left alone."""
    global _started_here
    if _started_here:
        _started_here = False
        down = _run_cluster("down", timeout=timeout)
        if down.returncode != 0:
            raise RuntimeError(f"tools/cluster down failed (exit {down.returncode}):\n{down.stdout}\n{down.stderr}")


def restart_simulator(extra_args: list[str], timeout: float = 120) -> None:
    """Restart the cluster's llm-d simulator with ``extra_args`` (fault injection, latency); [] restores it."""
    result = _run_cluster("sim", "--", *extra_args, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"tools/cluster sim failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def pod_process(namespace: str, name: str) -> dict | None:
    """The pod runner's record of ``namespace/name`` (port, pid, ready, restarts, served_model, args,
    config_error), or None when it runs nothing for that pod."""
    try:
        state = json.loads(layout().runner_state.read_text())
    except (OSError, ValueError):
        return None
    return state.get("pods", {}).get(f"{namespace}/{name}")
