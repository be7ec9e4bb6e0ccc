"""Where the local cluster keeps its files, and the constants every module shares (one home for each)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tools.vllmenv.podspec import SERVING_PORT

HOST = "127.0.0.1"
CONTEXT = "vllm-local"

# Pod IPs come from a range reserved for benchmarks (RFC 2544), not loopback: EndpointSlices refuse loopback
# addresses, and a Service needs endpoints. Nothing dials them: the API server's cluster traffic goes through
# egress.py, which maps a pod IP to the pod's process on 127.0.0.1 and refuses everything else.
POD_CIDR = "198.18.0.0/16"
# Service IPs: loopback (nothing dials them either; there is no kube-proxy).
SERVICE_CIDR = "127.2.0.0/16"
SERVICE_IP = "127.2.0.1"

# Where each component listens when the port is free (otherwise any free port is taken), shifted per worktree
# (ports.worktree_ports). Two of them differ by a non-multiple of 20 or by more than the largest shift, so the
# shifted sets of two worktrees never overlap.
PREFERRED_PORTS = {
    "etcd": 23790, "etcd_peer": 23800, "apiserver": 26443, "controller_manager": 26257,
    "scheduler": 26259, "kwok": 26250, "sim": 28000,
}
SIM_CONTAINER_PORT = SERVING_PORT  # the chart's vLLM container port (one home: tools/vllmenv/podspec.py)
# A port no pod declares. Each runner pod's PortForward answers a port-forward to it with the pod's route token
# (manifests.route_token: kwok runs `echo`), so the runner can see that kwok routes the pod's port-forwards to the
# pod's own process before it reports the container running (kwok reads PortForwards through an informer: until
# it has seen one, a port-forward to the pod reaches the shared simulator, or a previous process's port).
ROUTE_PROBE_PORT = 65535
# The served model name of the local stack (Pulumi.local.yaml: model.servedModelName).
DEFAULT_SIM_MODEL = "llama-7b"
GPU_NODES = ("gpu-node-0", "gpu-node-1")
CPU_NODES = ("cpu-node-0",)
GPUS_PER_NODE = 2
# Where a second cluster of the same worktree keeps its state (cluster/ and postgres/ under it): the parallel test
# run gives each pytest worker but the first a cluster of its own (tests/conftest.py). Unset: <root>/.state.
STATE_ENV = "VLLM_DEPLOY_STATE"
# Start order; down stops them in reverse.
COMPONENTS = ("etcd", "egress-proxy", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "vllm-sim",
              "pod-runner")
CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
SIM_BINARY = "llm-d-inference-sim"


@dataclass(frozen=True)
class Layout:
    """The paths of one cluster: binaries in <root>/.tools, state in <state_root>/cluster (<root>/.state/cluster
    unless another state root is given, see STATE_ENV)."""

    root: Path
    state_root: Path | None = None

    @classmethod
    def from_environment(cls, root: Path, environ: dict | None = None) -> Layout:
        """The layout of the cluster ``tools/cluster`` manages: STATE_ENV's state root when set."""
        state_root = (os.environ if environ is None else environ).get(STATE_ENV)
        return cls(root, Path(state_root).resolve() if state_root else None)

    @property
    def states(self) -> Path:
        """The directory holding this cluster's cluster/ and postgres/ state."""
        return self.state_root or self.root / ".state"

    @property
    def bin(self) -> Path:
        return self.root / ".tools" / "bin"

    @property
    def share(self) -> Path:
        return self.root / ".tools" / "share"

    @property
    def postgres(self) -> Path:
        """The model registry's PostgreSQL (postgres.py): data, password file, log."""
        return self.states / "postgres"

    @property
    def stages(self) -> Path:
        """kwok's upstream stage files, copied by tools/build (install_extras)."""
        return self.share / "kwok" / "stages"

    @property
    def crds(self) -> Path:
        """kwok's CRDs (PortForward, Logs), copied by tools/build (install_extras)."""
        return self.share / "kwok" / "crds"

    @property
    def state(self) -> Path:
        return self.states / "cluster"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def data(self) -> Path:
        return self.state / "data"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pids(self) -> Path:
        return self.state / "pids"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def info(self) -> Path:
        return self.state / "info.json"

    @property
    def sim_defaults(self) -> Path:
        """The simulator flags `tools/cluster sim -- ARGS` set: every pod's simulator starts with them."""
        return self.state / "sim-args.json"

    @property
    def runner_state(self) -> Path:
        """What the pod runner runs (pod -> port, pid, args), rewritten after every change."""
        return self.state / "pod-runner.json"

    @property
    def egress_socket(self) -> Path:
        """The unix socket of the API server's egress proxy (egress.py)."""
        return self.state / "egress.sock"

    def kubeconfig_of(self, component: str) -> Path:
        return self.state / f"{component}.kubeconfig"


def repo_root() -> Path:
    """The repository this package lives in (tools/localcluster/ -> repo)."""
    return Path(__file__).resolve().parents[2]
