"""The cluster's lifecycle: up, down, status, restart, env, sim, check (what tools/cluster's commands do)."""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from . import kwok, manifests, postgres
from .egress import egress_config
from .engines import DEFAULT_ENGINE, require_vllm_env
from .health import client_ssl, http_ok, insecure_ssl, wait_for
from .kubeapi import Api, kubectl
from .layout import (
    COMPONENTS,
    CONTEXT,
    CONTROL_PLANE_BINARIES,
    CPU_NODES,
    DEFAULT_SIM_MODEL,
    GPU_NODES,
    HOST,
    POD_CIDR,
    PREFERRED_PORTS,
    SERVICE_CIDR,
    SIM_BINARY,
    SIM_CONTAINER_PORT,
    Layout,
)
from .pki import ensure_pki, render_kubeconfig
from .ports import choose_ports, worktree_ports
from .processes import ClusterError, Processes, kill_orphan, log, orphans
from .runner import POD_ENV_MARKER
from .sim import shared_sim_command

ENTRY_POINT = "tools/cluster"


def timeout() -> float:
    return float(os.environ.get("VLLM_CLUSTER_TIMEOUT", "120"))


class Cluster:
    """One worktree's local cluster."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.procs = Processes(layout.pids, layout.logs)

    # ------------------------------------------------------------------ helpers
    def load_info(self) -> dict:
        try:
            return json.loads(self.layout.info.read_text())
        except (OSError, ValueError):
            return {}

    def kubectl(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return kubectl(self.layout.bin / "kubectl", self.layout.kubeconfig, *args, **kw)

    def api(self, info: dict) -> Api:
        return Api(self.apiserver_url(info), client_ssl(self.layout.pki))

    @staticmethod
    def apiserver_url(info: dict) -> str:
        return f"https://{HOST}:{info['ports']['apiserver']}"

    def wait_for(self, what: str, check: Callable[[], bool], name: str | None = None) -> None:
        wait_for(what, check, timeout(),
                 alive=(lambda: self.procs.pid_of(name) is not None) if name else None,
                 last_words=(lambda: self.procs.tail(name)) if name else None, who=name or "the process")

    def health(self, info: dict, only: str | None = None) -> dict[str, bool]:
        """Component -> running and answering its health check."""
        names = [only] if only else list(COMPONENTS)
        if not info.get("ports"):
            return {c: False for c in names}
        p, pki = info["ports"], self.layout.pki
        checks = {
            "etcd": lambda: http_ok(f"http://{HOST}:{p['etcd']}/health"),
            "kube-apiserver": lambda: (pki / "admin.crt").exists()
            and http_ok(f"{self.apiserver_url(info)}/readyz", client_ssl(pki)),
            "kube-controller-manager": lambda: http_ok(f"https://{HOST}:{p['controller_manager']}/healthz",
                                                       insecure_ssl()),
            "kube-scheduler": lambda: http_ok(f"https://{HOST}:{p['scheduler']}/healthz", insecure_ssl()),
            "kwok": lambda: http_ok(f"https://{HOST}:{p['kwok']}/healthz", insecure_ssl()),
            "vllm-sim": lambda: http_ok(f"http://{HOST}:{p['sim']}/health"),
            "pod-runner": lambda: self.runner_state().get("pid") == self.procs.pid_of("pod-runner"),
            "egress-proxy": lambda: self.layout.egress_socket.exists(),
        }
        return {c: self.procs.pid_of(c) is not None and checks[c]() for c in names}

    def runner_state(self) -> dict:
        try:
            return json.loads(self.layout.runner_state.read_text())
        except (OSError, ValueError):
            return {}

    def nodes_ready(self) -> bool:
        r = self.kubectl("get", "nodes", "-o", "json", check=False)
        if r.returncode != 0:
            return False
        ready = {
            n["metadata"]["name"] for n in json.loads(r.stdout).get("items", [])
            for c in n.get("status", {}).get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"
        }
        return set(GPU_NODES + CPU_NODES) <= ready

    def require_binaries(self, sim_cmd: str | None) -> None:
        need = list(CONTROL_PLANE_BINARIES) + ([] if sim_cmd else [SIM_BINARY])
        missing = [b for b in need if not (self.layout.bin / b).exists()]
        if missing:
            raise ClusterError(f"missing binaries in {self.layout.bin}: {', '.join(missing)} (run tools/build)")

    # ------------------------------------------------------------------ up
    def up(self, engine: str | None = None) -> int:
        """Start the cluster with ``engine`` (default sim); a healthy one is kept, switched to ``engine`` if given."""
        t0 = time.monotonic()
        layout, procs = self.layout, self.procs
        info = self.load_info()
        if info and all(self.health(info).values()) and self.nodes_ready():
            self.start_postgres()
            log(f"already up and healthy (kubeconfig {layout.kubeconfig}, context {CONTEXT})")
            wanted = "custom" if os.environ.get("VLLM_SIM_CMD") else "llm-d-inference-sim"
            if info["sim"]["kind"] != wanted:
                log(f"note: the running simulator is {info['sim']['kind']}, not {wanted}: "
                    f"{ENTRY_POINT} down first to switch")
            if engine is not None and info.get("engine", DEFAULT_ENGINE) != engine:
                self.switch_engine(info, engine)
            return 0
        engine = engine or DEFAULT_ENGINE
        if any(procs.pid_of(c) is not None for c in COMPONENTS):
            log("cluster partially running or unhealthy: restarting it from scratch")
        self.down(quiet=True)
        if engine == "vllm":
            require_vllm_env()  # before starting anything: a clear error, not a runner that cannot start

        sim_cmd = os.environ.get("VLLM_SIM_CMD") or None
        sim_model = os.environ.get("VLLM_SIM_MODEL", DEFAULT_SIM_MODEL)
        self.require_binaries(sim_cmd)
        upstream_stages = kwok.read_upstream_stages(layout)
        crds = kwok.crd_paths(layout)
        for d in (layout.state, layout.data, layout.logs, layout.pids):
            d.mkdir(parents=True, exist_ok=True)
        ensure_pki(layout.pki)
        ports = choose_ports(worktree_ports(PREFERRED_PORTS, str(layout.state)))
        info = {"ports": ports, "context": CONTEXT, "kubeconfig": str(layout.kubeconfig), "engine": engine,
                "sim": {"url": f"http://{HOST}:{ports['sim']}", "port": ports["sim"], "model": sim_model,
                        "kind": "custom" if sim_cmd else "llm-d-inference-sim",
                        "container_port": SIM_CONTAINER_PORT},
                "gpu_nodes": list(GPU_NODES), "cpu_nodes": list(CPU_NODES), "pod_cidr": POD_CIDR,
                "service_cidr": SERVICE_CIDR}
        layout.info.write_text(json.dumps(info, indent=2) + "\n")
        layout.sim_defaults.write_text(json.dumps({"args": [], "generation": 0}) + "\n")
        server = self.apiserver_url(info)
        layout.kubeconfig.write_text(render_kubeconfig(layout.pki, server, "admin", "admin"))
        for component, cert in (("controller-manager", "controller-manager"), ("scheduler", "scheduler"),
                                ("kwok", "kwok-client")):
            layout.kubeconfig_of(component).write_text(render_kubeconfig(layout.pki, server, component, cert))

        etcd_url = f"http://{HOST}:{ports['etcd']}"
        procs.start("egress-proxy", [sys.executable, str(layout.root / ENTRY_POINT), "_egress",
                                     str(layout.egress_socket), str(layout.runner_state), str(layout.logs)],
                    cwd=layout.root, marker="_egress")
        (layout.state / "egress.yaml").write_text(egress_config(layout.egress_socket))
        procs.start("etcd", etcd_argv(layout, ports), cwd=layout.state)
        self.wait_for("etcd /health", lambda: http_ok(f"{etcd_url}/health"), "etcd")
        procs.start("kube-apiserver", apiserver_argv(layout, ports), cwd=layout.state)
        self.wait_for("kube-apiserver /readyz", lambda: http_ok(f"{server}/readyz", client_ssl(layout.pki)),
                      "kube-apiserver")

        # The controller manager is the slowest to be useful (the default service account): start it first,
        # then do what needs only the API server while the other components start.
        procs.start("kube-controller-manager", controller_manager_argv(layout, ports), cwd=layout.state)
        procs.start("kube-scheduler", scheduler_argv(layout, ports), cwd=layout.state)
        api = self.api(info)
        self.kubectl("apply", *(f"--filename={c}" for c in crds))
        objects = manifests.cluster_objects()
        for obj in objects:
            path = "/api/v1/nodes" if obj["kind"] == "Node" else "/api/v1/namespaces"
            api.apply(path, obj["metadata"]["name"], obj)
            if obj["kind"] == "Node":  # status is not always taken on create: set it explicitly
                api.patch_status(f"{path}/{obj['metadata']['name']}", obj["status"])
        self.start_simulator(info, sim_cmd)
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     *(f"crd/{n}" for n in kwok.CRD_NAMES))
        (layout.state / "kwok.yaml").write_text(kwok.render_config(
            upstream_stages, ports["sim"], layout.logs / "vllm-sim.cri.log", layout.state))
        procs.start("kwok", kwok.kwok_argv(layout, ports["kwok"]), cwd=layout.state)
        self.start_runner(engine, sim_model)

        for name, port in (("kube-controller-manager", "controller_manager"), ("kube-scheduler", "scheduler"),
                           ("kwok", "kwok")):
            self.wait_for(f"{name} /healthz",
                          lambda port=port: http_ok(f"https://{HOST}:{ports[port]}/healthz", insecure_ssl()), name)
        self.wait_for("simulator /health", lambda: http_ok(f"http://{HOST}:{ports['sim']}/health"), "vllm-sim")
        self.wait_for("egress proxy socket", self.layout.egress_socket.exists, "egress-proxy")
        self.wait_for("pod runner", lambda: self.health(info, "pod-runner")["pod-runner"], "pod-runner")
        self.wait_for("nodes Ready", self.nodes_ready, "kwok")
        self.wait_for("default service account", lambda: self.kubectl(
            "get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
            "kube-controller-manager")

        self.start_postgres()
        log(f"up in {time.monotonic() - t0:.1f}s: apiserver {server}, simulator {info['sim']['url']} "
            f"({info['sim']['kind']}, model {sim_model}), engine {engine} for each vLLM pod")
        log(f"export KUBECONFIG={layout.kubeconfig}   # context {CONTEXT}")
        return 0

    def start_postgres(self) -> None:
        """The model registry's PostgreSQL on 127.0.0.1 (postgres.py), data in .state/postgres."""
        try:
            server = postgres.start(self.layout.postgres)
        except postgres.PostgresError as exc:
            raise ClusterError(str(exc)) from None
        log(f"postgres {postgres.database_url(server)} (password in {server.pgpass}; "
            "`source tools/env.sh` exports PG*)")

    def start_simulator(self, info: dict, sim_cmd: str | None, extra_args: list[str] | tuple[str, ...] = ()) -> None:
        """The shared simulator: $VLLM_SIM_CMD, or llm-d-inference-sim with ``extra_args``.

        Its output goes to logs/vllm-sim.log and, in CRI format, to logs/vllm-sim.cri.log, which kwok
        serves as the log of every pod the runner does not run.
        """
        layout = self.layout
        port, model = info["sim"]["port"], info["sim"]["model"]
        sim_env = {"VLLM_SIM_HOST": HOST, "VLLM_SIM_PORT": str(port), "VLLM_SIM_MODEL": model}
        (layout.logs / "vllm-sim.cri.log").unlink(missing_ok=True)
        if not sim_cmd:
            sim_cmd = shell_join(shared_sim_command(str(layout.bin / SIM_BINARY), port, model, extra_args))
        crilog = shell_join([sys.executable, str(layout.root / ENTRY_POINT), "_crilog",
                             str(layout.logs / "vllm-sim.cri.log")])
        self.procs.start("vllm-sim", [f"exec 2>&1; ( {sim_cmd} ) 2>&1 | {crilog}"], env=sim_env, shell=True,
                         marker="_crilog", cwd=layout.root)

    def switch_engine(self, info: dict, engine: str) -> None:
        """A running cluster's pod runner restarted with another engine: every pod's process is replaced."""
        if engine == "vllm":
            require_vllm_env()
        log(f"switching the pod runner from engine {info.get('engine', DEFAULT_ENGINE)} to {engine}")
        self.procs.stop("pod-runner")
        info["engine"] = engine
        self.layout.info.write_text(json.dumps(info, indent=2) + "\n")
        self.start_runner(engine, info["sim"]["model"])
        self.wait_for("pod runner", lambda: self.health(info, "pod-runner")["pod-runner"], "pod-runner")
        log(f"engine {engine} for each vLLM pod")

    def start_runner(self, engine: str, model: str) -> None:
        self.layout.runner_state.unlink(missing_ok=True)
        self.procs.start("pod-runner", [sys.executable, str(self.layout.root / ENTRY_POINT), "_runner",
                                        f"--engine={engine}", f"--model={model}", str(self.layout.logs)],
                         cwd=self.layout.root, marker="_runner")

    # ------------------------------------------------------------------ down
    def down(self, quiet: bool = False) -> int:
        layout = self.layout
        for c in reversed(COMPONENTS):
            if self.procs.pid_of(c) is not None and not quiet:
                log(f"stopping {c}")
            self.procs.stop(c)
        ours = {str(layout.bin / b) for b in CONTROL_PLANE_BINARIES}
        for pid in orphans(ours, str(layout.state), str(layout.logs)) + pod_process_orphans(str(layout.state)):
            log(f"stopping untracked process {pid}")
            kill_orphan(pid)
        if layout.data.exists():
            shutil.rmtree(layout.data, ignore_errors=True)
        for f in (layout.info, layout.state / "kwok.yaml", layout.runner_state, layout.sim_defaults,
                  layout.egress_socket):
            f.unlink(missing_ok=True)
        if postgres.status(layout.postgres) is not None and not quiet:
            log("stopping postgres")
        postgres.stop(layout.postgres, remove=True)
        if not quiet:
            log("down (data removed; PKI and logs kept in .state/cluster)")
        return 0

    # ------------------------------------------------------------------ sim
    def sim(self, extra_args: list[str]) -> int:
        """New simulator flags (none: back to the defaults) for the shared simulator and every pod's."""
        info = self.require_info()
        if info["sim"]["kind"] != "llm-d-inference-sim":
            raise ClusterError(f"{ENTRY_POINT} sim only drives llm-d-inference-sim (this cluster runs $VLLM_SIM_CMD)")
        t0 = time.monotonic()
        self.procs.stop("vllm-sim")
        self.start_simulator(info, None, extra_args)
        generation = self.runner_state().get("generation", 0) + 1
        self.layout.sim_defaults.write_text(json.dumps({"args": extra_args, "generation": generation}) + "\n")
        runner = self.procs.pid_of("pod-runner")
        if runner is None:
            raise ClusterError(f"the pod runner is not running ({ENTRY_POINT} restart pod-runner)")
        os.kill(runner, signal.SIGHUP)
        self.wait_for("vllm-sim health", lambda: self.health(info, "vllm-sim")["vllm-sim"], "vllm-sim")
        self.wait_for(f"the pod runner to apply generation {generation} and its pods' processes to start",
                      lambda: runner_settled(self.runner_state(), generation), "pod-runner")
        log(f"vllm-sim and {len(self.runner_state().get('pods', {}))} pod process(es) restarted with "
            f"{' '.join(extra_args) or 'the defaults'} in {time.monotonic() - t0:.1f}s")
        return 0

    def require_info(self) -> dict:
        info = self.load_info()
        if not info:
            raise ClusterError(f"cluster is not up ({ENTRY_POINT} up)")
        return info

    # ------------------------------------------------------------------ restart
    def restart(self, component: str | None) -> int:
        """Restart one component with the flags it was started with (data kept), or the whole cluster."""
        if component is None:
            info = self.load_info()
            self.down()
            return self.up(info.get("engine", DEFAULT_ENGINE))
        info = self.load_info()
        spec = self.procs.saved(component)
        if spec is None:
            raise ClusterError(f"{component} was not started by {ENTRY_POINT} up (no saved command line)")
        t0 = time.monotonic()
        log(f"restarting {component}")
        self.procs.stop(component)
        self.procs.start(component, spec["argv"], env=spec["env"], shell=spec["shell"], marker=spec["marker"],
                         cwd=Path(spec.get("cwd", self.layout.state)))
        self.wait_for(f"{component} health", lambda: self.health(info, component)[component], component)
        log(f"{component} restarted in {time.monotonic() - t0:.1f}s")
        return 0

    # ------------------------------------------------------------------ status, env
    def status(self) -> int:
        info = self.load_info()
        h = self.health(info)
        for c in COMPONENTS:
            pid = self.procs.pid_of(c)
            print(f"{c:26s} {'ok' if h[c] else 'DOWN':5s} pid={pid or '-'}")
        ok = all(h.values())
        if info.get("ports"):
            print(f"apiserver   {self.apiserver_url(info)}   kubeconfig {self.layout.kubeconfig} (context {CONTEXT})")
            print(f"simulator   {info['sim']['url']} ({info['sim']['kind']}, model {info['sim']['model']})")
            pods = self.runner_state().get("pods", {})
            print(f"pod runner  engine {info.get('engine', DEFAULT_ENGINE)}, {len(pods)} pod process(es)")
            for key, p in pods.items():
                state = "config error" if p["config_error"] else "ready" if p["ready"] else \
                    "running" if p["pid"] else "crashed"
                print(f"  {key:50s} {HOST}:{p['port']:<6} {state} (restarts {p['restarts']})")
        database = postgres.status(self.layout.postgres)
        print(f"{'postgres':26s} {'ok' if database else 'DOWN':5s} pid={database.pid if database else '-'}"
              + (f"   {postgres.database_url(database)}" if database else ""))
        ok = ok and database is not None
        if h["kube-apiserver"]:
            print(self.kubectl("get", "nodes", "-o", "wide", check=False).stdout.rstrip())
            ok = ok and self.nodes_ready()
        print("healthy" if ok else "NOT healthy")
        return 0 if ok else 1

    def env(self, as_json: bool) -> int:
        info = self.require_info()
        vals = {
            "KUBECONFIG": str(self.layout.kubeconfig), "KUBE_CONTEXT": CONTEXT,
            "VLLM_SIM_URL": info["sim"]["url"], "VLLM_SIM_PORT": str(info["sim"]["port"]),
            "VLLM_SIM_MODEL": info["sim"]["model"], "VLLM_GPU_NODES": ",".join(info["gpu_nodes"]),
            **postgres.env(self.layout.postgres),
        }
        if as_json:
            print(json.dumps({**info, "env": vals}, indent=2))
        else:
            for k, v in vals.items():
                print(f"export {k}='{v}'")
        return 0

    # ------------------------------------------------------------------ check
    def check(self) -> int:
        """Prove that port-forward to a vLLM pod reaches that pod's own process (kubectl and the Python client)."""
        if self.up(self.load_info().get("engine", DEFAULT_ENGINE)) != 0:
            return 1
        ns, name = "system", "vllm-portforward-check"
        self.kubectl("delete", "pod", name, "-n", ns, "--ignore-not-found", "--wait=true")
        self.kubectl("apply", "-f", "-", input=json.dumps(manifests.check_pod(name, ns)))
        self.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", ns, "--timeout=60s")
        node = self.kubectl("get", "pod", name, "-n", ns, "-o", "jsonpath={.spec.nodeName}").stdout
        log(f"pod {ns}/{name} Ready on {node}")
        failures = 0 if self.check_kubectl_port_forward(ns, name) else 1
        logs = self.kubectl("logs", name, "-n", ns, "--tail=3", check=False)
        log(f"kubectl logs (exit {logs.returncode}): {(logs.stdout or logs.stderr).strip()[:300]}")

        venv_py = self.layout.root / ".venv" / "bin" / "python"
        if venv_py.exists():
            r = subprocess.run([str(venv_py), "-m", "tools.localcluster.pfcheck", str(self.layout.kubeconfig),
                                CONTEXT, name, ns, str(SIM_CONTAINER_PORT)],
                               capture_output=True, text=True, timeout=60, cwd=str(self.layout.root))
            log(f"python kubernetes.stream.portforward -> {(r.stdout + r.stderr).strip()[-600:]}")
            failures += r.returncode != 0
        else:
            log(f"skipping Python client check: {venv_py} missing")

        self.kubectl("delete", "pod", name, "-n", ns, "--ignore-not-found", "--wait=false")
        log("check " + ("PASSED" if not failures else f"FAILED ({failures})"))
        return 1 if failures else 0

    def check_kubectl_port_forward(self, ns: str, name: str) -> bool:
        with socket.socket() as s:
            s.bind((HOST, 0))
            local = s.getsockname()[1]
        pf = subprocess.Popen([str(self.layout.bin / "kubectl"), f"--kubeconfig={self.layout.kubeconfig}",
                               "port-forward", "-n", ns, f"--address={HOST}", f"pod/{name}",
                               f"{local}:{SIM_CONTAINER_PORT}"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        body = None
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and body is None:
                try:
                    with urllib.request.urlopen(f"http://{HOST}:{local}/health", timeout=5) as r:
                        body = f"HTTP {r.status} {r.read()[:200]!r}"
                except (urllib.error.URLError, OSError):
                    if pf.poll() is not None:
                        break
                    time.sleep(0.5)
        finally:
            os.killpg(pf.pid, signal.SIGTERM)
            out = pf.communicate(timeout=10)[0]
        if body:
            log(f"kubectl port-forward pod/{name} {local}:{SIM_CONTAINER_PORT} -> /health: {body}")
            return True
        log(f"kubectl port-forward FAILED:\n{out}")
        return False

    # ------------------------------------------------------------------ lock
    def locked(self, fn: Callable[[], int]) -> int:
        """Run fn holding .state/cluster/lock, so concurrent up/down/check/sim calls do not race."""
        self.layout.state.mkdir(parents=True, exist_ok=True)
        with open(self.layout.state / "lock", "w") as lk:
            try:
                fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                log(f"another {ENTRY_POINT} command is running: waiting for it")
                fcntl.flock(lk, fcntl.LOCK_EX)
            return fn()


def runner_settled(state: dict, generation: int) -> bool:
    """Whether the runner applied ``generation`` and every pod process it runs has started (answers /health;
    not "ready": a pod may be loading on purpose, e.g. annotation startup-duration)."""
    return state.get("generation") == generation and all(
        p["started"] for p in state.get("pods", {}).values() if p["pid"] and not p["config_error"])


def pod_process_orphans(state: str) -> list[int]:
    """Pod processes of this cluster's runner (marked in their environment) still alive without it."""
    found = []
    marker = f"{POD_ENV_MARKER}={state}".encode()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if marker in (d / "environ").read_bytes().split(b"\0"):
                found.append(int(d.name))
        except OSError:
            continue
    return found


def shell_join(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


# ---------------------------------------------------------------------- command lines
def etcd_argv(layout: Layout, ports: dict) -> list[str]:
    etcd_url, peer_url = f"http://{HOST}:{ports['etcd']}", f"http://{HOST}:{ports['etcd_peer']}"
    return [str(layout.bin / "etcd"), "--name=vllm-local", f"--data-dir={layout.data / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=vllm-local={peer_url}", "--initial-cluster-state=new",
            "--unsafe-no-fsync=true", "--quota-backend-bytes=4294967296", "--log-level=warn"]


def apiserver_argv(layout: Layout, ports: dict) -> list[str]:
    pki = layout.pki
    return [
        str(layout.bin / "kube-apiserver"), f"--etcd-servers=http://{HOST}:{ports['etcd']}",
        f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={ports['apiserver']}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC", "--endpoint-reconciler-type=none",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true", "--profiling=false", "--v=1",
        f"--egress-selector-config-file={layout.state / 'egress.yaml'}",
    ]


def _component_common(layout: Layout) -> list[str]:
    return [f"--bind-address={HOST}", "--leader-elect=false", "--profiling=false",
            f"--tls-cert-file={layout.pki / 'component-serving.crt'}",
            f"--tls-private-key-file={layout.pki / 'component-serving.key'}", "--v=1"]


def controller_manager_argv(layout: Layout, ports: dict) -> list[str]:
    kc, pki = layout.kubeconfig_of("controller-manager"), layout.pki
    return [
        str(layout.bin / "kube-controller-manager"), f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
        f"--secure-port={ports['controller_manager']}", *_component_common(layout),
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--controllers=*,-nodeipam",
    ]


def scheduler_argv(layout: Layout, ports: dict) -> list[str]:
    kc = layout.kubeconfig_of("scheduler")
    return [str(layout.bin / "kube-scheduler"), f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}", f"--secure-port={ports['scheduler']}", *_component_common(layout)]

