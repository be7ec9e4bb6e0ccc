"""The pod runner: one process of its own for every runner pod (label ``app.kubernetes.io/name=vllm``).

It watches the API server's pods and, for each runner pod that kwok has started (phase Running):

- runs the engine's process for it (``sim``: a simulator configured from the pod, see sim.py; ``vllm``: the
  real vLLM from the pod's own container spec, see engines.py) on a free
  127.0.0.1 port, with its output as the pod's log (a kwok ``Logs`` object: ``kubectl logs``, also
  ``--previous`` after a crash);
- creates a kwok ``PortForward`` named after the pod, so a port-forward to the pod's port 8000 (kubectl,
  the Python client, the verification) reaches this process and no other; it starts the process only once a
  port-forward through the API server shows that kwok has that PortForward (kwok reads them through an
  informer; before, the pod's port-forwards would reach the shared simulator), so a started or ready
  container is always reachable as itself (while it waits: ``waiting: ContainerCreating`` with the last answer);
- writes the container's status like a kubelet: running, ``started`` once the process answers ``/health``,
  ``ready`` once it is not loading either (``/health/ready`` not 503); when the process exits, ``terminated``
  in ``lastState`` and ``waiting: CrashLoopBackOff`` with a restart after a back-off (10 s, doubling, at most
  160 s);
  an invalid test annotation gives ``waiting: CreateContainerConfigError`` with the reason.
  kwok's stages then set the Ready condition (containers ready and every readiness gate True);
- stops the process when the pod is deleted (its PortForward and Logs go with it: owner references).

``tools/cluster sim -- ARGS`` sends SIGHUP after writing new default flags; the runner restarts every pod's
process whose configuration changed, and records the generation it applied in pod-runner.json.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .engines import Launch, SimEngine, VllmEngine
from .health import http_status
from .kubeapi import Api, ApiError, PortForwardError
from .kwok import RUNNER_LABEL
from .layout import HOST, ROUTE_PROBE_PORT, SIM_CONTAINER_PORT, Layout
from .manifests import KWOK_API, pod_logs, pod_port_forward, route_token
from .ports import any_free_port
from .processes import cri_line
from .sim import PodConfigError, PodPlan, plan_for

BACKOFF_START, BACKOFF_MAX = 10.0, 160.0
# Checks that kwok routes a new pod's port-forwards to its process: the first after ROUTE_FIRST seconds,
# doubling up to ROUTE_MAX; progress every ROUTE_SAY seconds while it does not.
ROUTE_FIRST, ROUTE_MAX, ROUTE_SAY = 0.05, 2.0, 10.0
STOP_GRACE = 5.0
# Env var on every pod process (`down` finds leftovers by it in /proc/<pid>/environ).
POD_ENV_MARKER = "VLLM_LOCALCLUSTER_POD"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backoff(restarts: int) -> float:
    """Seconds before restart number ``restarts + 1`` (the kubelet's crash-loop back-off)."""
    return min(BACKOFF_START * 2 ** max(restarts - 1, 0), BACKOFF_MAX)


def pod_key(pod: dict) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def is_runner_pod(pod: dict) -> bool:
    key, value = RUNNER_LABEL
    return (pod["metadata"].get("labels") or {}).get(key) == value


def container_status(plan: PodPlan, state: dict, ready: bool, restarts: int, last_state: dict | None,
                     started: bool = False) -> dict:
    """``started``: the process answers its health check (a kubelet's startupProbe passed); ``ready``: and it
    is not loading any more."""
    status = {"name": plan.container, "image": plan.image, "imageID": "", "ready": ready,
              "started": started, "restartCount": restarts, "state": state}
    if last_state:
        status["lastState"] = last_state
    return status


def merged_container_statuses(pod: dict, ours: dict) -> list[dict]:
    """The pod's containerStatuses with ours in place of the served container's (a strategic merge patch
    replaces the whole list, so the other containers keep what they have)."""
    current = {c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []}
    out = []
    for c in pod["spec"]["containers"]:
        if c["name"] == ours["name"]:
            out.append(ours)
        else:
            out.append(current.get(c["name"]) or {"name": c["name"], "image": c.get("image", ""), "imageID": "",
                                                   "ready": True, "started": True, "restartCount": 0,
                                                   "state": {"running": {"startedAt": now_rfc3339()}}})
    return out


def status_patch(pod: dict, ours: dict) -> dict:
    """containerStatuses plus the ContainersReady condition (Ready is kwok's stages' job)."""
    statuses = merged_container_statuses(pod, ours)
    all_ready = all(s.get("ready") for s in statuses)
    condition = {"type": "ContainersReady", "status": "True", "reason": "", "message": "",
                 "lastTransitionTime": now_rfc3339()}
    if not all_ready:
        condition["status"] = "False"
        condition["reason"] = "ContainersNotReady"
        condition["message"] = "containers with unready status: [" + " ".join(
            s["name"] for s in statuses if not s.get("ready")) + "]"
    return {"containerStatuses": statuses, "conditions": [condition]}


@dataclass
class PodProcess:
    """The runner's record of one pod: its plan, port and the current process."""

    plan: PodPlan
    port: int
    pod: dict
    launch: Launch | None = None
    proc: subprocess.Popen | None = None
    started_at: str = ""
    started: bool = False
    ready: bool = False
    restarts: int = 0
    last_state: dict | None = None
    restart_at: float | None = None
    config_error: str | None = None
    published: bool = False  # its PortForward and Logs exist
    routed: bool = False  # kwok routes its port-forwards to ``port`` (seen through the API server)
    route_checks: int = 0
    route_next: float = 0.0
    adopted_at: float = field(default_factory=time.monotonic)
    route_said: float = field(default_factory=time.monotonic)
    log_thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def awaiting_route(self) -> bool:
        """Its process waits for kwok to route its port-forwards (a pod whose configuration is invalid has no
        port and never starts)."""
        return bool(self.port) and not self.routed


class Runner:
    def __init__(self, layout: Layout, api: Api, engine: SimEngine | VllmEngine, default_model: str):
        self.layout, self.api, self.engine, self.default_model = layout, api, engine, default_model
        self.pods: dict[str, PodProcess] = {}
        self.events: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.reload = threading.Event()
        self.defaults, self.generation = self.read_defaults()
        self.logdir = layout.logs / "pods"
        self.logdir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ setup
    def read_defaults(self) -> tuple[list[str], int]:
        try:
            data = json.loads(self.layout.sim_defaults.read_text())
            return list(data.get("args", [])), int(data.get("generation", 0))
        except (OSError, ValueError):
            return [], 0

    def say(self, msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)

    # ------------------------------------------------------------------ watch (a thread)
    def watch_pods(self) -> None:
        selector = "=".join(RUNNER_LABEL)
        resource_version = None
        while not self.stopping.is_set():
            try:
                if resource_version is None:
                    listed = self.api.get("/api/v1/pods", labelSelector=selector)
                    self.events.put(("SYNC", listed["items"]))
                    resource_version = listed["metadata"]["resourceVersion"]
                for event in self.api.watch("/api/v1/pods", resource_version, labelSelector=selector):
                    if event["type"] == "ERROR":
                        resource_version = None  # e.g. 410 Gone: list again
                        break
                    resource_version = event["object"]["metadata"].get("resourceVersion", resource_version)
                    if event["type"] != "BOOKMARK":
                        self.events.put((event["type"], event["object"]))
            except ApiError as exc:
                if exc.status == 410:
                    resource_version = None
                else:
                    self.say(f"watch failed ({exc}); again in 2s")
                    self.stopping.wait(2)
            except OSError as exc:
                self.say(f"watch interrupted ({exc}); again in 1s")
                self.stopping.wait(1)

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())
        threading.Thread(target=self.watch_pods, daemon=True, name="watch").start()
        self.say(f"pod runner up: engine {self.engine.name}, pods labelled {'='.join(RUNNER_LABEL)}, "
                 f"default flags {self.defaults} (generation {self.generation})")
        self.write_state()
        try:
            while not self.stopping.is_set():
                try:
                    self.step()
                except Exception:  # one pod's trouble must not take every pod's process down
                    self.say(f"error (continuing):\n{traceback.format_exc()}")
        finally:
            for key in list(self.pods):
                self.forget(key, "runner stopping")
            self.write_state()
        return 0

    def step(self) -> None:
        """One event (if any arrives soon), a pending reload, then the processes' checks."""
        busy = any((p.proc and not p.ready) or p.awaiting_route for p in self.pods.values())
        try:
            kind, obj = self.events.get(timeout=0.25 if busy else 1.0)
            self.on_event(kind, obj)
        except queue.Empty:
            pass
        if self.reload.is_set():
            self.reload.clear()
            self.apply_defaults()
        self.tick()

    def on_event(self, kind: str, obj) -> None:
        if kind == "SYNC":
            seen = {pod_key(p) for p in obj}
            for key in [k for k in self.pods if k not in seen]:
                self.forget(key, "pod no longer exists")
            for pod in obj:
                self.on_pod(pod)
        elif kind == "DELETED":
            self.forget(pod_key(obj), "pod deleted")
        else:
            self.on_pod(obj)
        self.write_state()

    def on_pod(self, pod: dict) -> None:
        key, meta = pod_key(pod), pod["metadata"]
        known = self.pods.get(key)
        if meta.get("deletionTimestamp"):
            if known:
                self.forget(key, "pod deleting")
            return
        if known and known.plan.uid != meta.get("uid"):
            self.forget(key, "pod replaced")
            known = None
        if known:
            known.pod = pod
            return
        if (pod.get("status") or {}).get("phase") != "Running" or not pod["spec"].get("nodeName"):
            return  # kwok starts it first (pod-start-runner stage); then the container is ours
        self.adopt(pod)

    def adopt(self, pod: dict) -> None:
        key, meta = pod_key(pod), pod["metadata"]
        try:
            plan = plan_for(pod, self.defaults, self.default_model)
        except PodConfigError as exc:
            plan = PodPlan(meta["namespace"], meta["name"], meta.get("uid", ""),
                           pod["spec"]["containers"][0]["name"], pod["spec"]["containers"][0].get("image", ""),
                           self.default_model, ())
            record = PodProcess(plan, 0, pod, config_error=str(exc))
            self.pods[key] = record
            self.say(f"{key}: {exc}")
            self.patch(record, {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}})
            return
        record = PodProcess(plan, any_free_port(), pod)
        self.pods[key] = record
        if plan.dropped:
            self.say(f"{key}: vLLM flags the simulator does not take, dropped: {' '.join(plan.dropped)}")
        self.write_state()  # the record (no process yet) before its status says why it waits
        self.check_route(record)

    # ------------------------------------------------------------------ processes
    def log_paths(self, plan: PodPlan) -> tuple[Path, Path]:
        stem = f"{plan.namespace}_{plan.name}_{plan.uid[:8]}"
        return self.logdir / f"{stem}.log", self.logdir / f"{stem}.previous.log"

    def publish(self, record: PodProcess) -> str | None:
        """Create the pod's PortForward and Logs (kwok reads them through its CRD informers); why not, if not."""
        plan, pod = record.plan, record.pod
        current, previous = self.log_paths(plan)
        ports = sorted({p.get("containerPort") for c in pod["spec"]["containers"] for p in c.get("ports") or []
                        if p.get("containerPort")} | {SIM_CONTAINER_PORT})
        base = f"/apis/{KWOK_API}/namespaces/{plan.namespace}"
        try:
            self.api.apply(f"{base}/portforwards", plan.name, pod_port_forward(pod, ports, record.port))
            self.api.apply(f"{base}/logs", plan.name, pod_logs(pod, [plan.container], str(current), str(previous)))
        except (ApiError, OSError) as exc:
            return f"its PortForward/Logs could not be created: {exc}"
        record.published = True
        return None

    def check_route(self, record: PodProcess) -> None:
        """Start the pod's process once a port-forward to its ROUTE_PROBE_PORT answers its route token (kwok
        has its PortForward to ``record.port``); until then check again with a doubling delay."""
        plan, now = record.plan, time.monotonic()
        record.route_checks += 1
        answer = None if record.published else self.publish(record)
        if record.published:
            token = route_token(record.pod, record.port)
            try:
                raw = self.api.port_forward_read(plan.namespace, plan.name, ROUTE_PROBE_PORT)
                answer = raw.decode(errors="replace").strip() or "nothing"
            except (ApiError, PortForwardError, OSError) as exc:
                answer = str(exc).strip()
            if answer == token:
                record.routed = True
                if record.route_checks > 1:
                    self.say(f"{plan.key}: kwok routes its port-forwards to {HOST}:{record.port} "
                             f"(after {now - record.adopted_at:.1f}s, check {record.route_checks})")
                self.start(record)
                return
        delay = min(ROUTE_FIRST * 2 ** (record.route_checks - 1), ROUTE_MAX)
        record.route_next = now + delay
        waiting = (f"waiting for kwok to route the pod's port-forwards to {HOST}:{record.port} "
                   f"(check {record.route_checks}: {answer[:200]})")
        if record.route_checks == 1 or now - record.route_said >= ROUTE_SAY:
            record.route_said = now
            self.patch(record, {"waiting": {"reason": "ContainerCreating", "message": waiting}})
            self.say(f"{plan.key}: {waiting}, for {now - record.adopted_at:.1f}s; next check in {delay:.2f}s")

    def start(self, record: PodProcess) -> None:
        plan = record.plan
        current, previous = self.log_paths(plan)
        if current.exists():
            current.replace(previous)
        try:
            launch = self.engine.launch(plan, record.port, record.pod)
        except PodConfigError as exc:  # e.g. the pod's Secret does not exist (yet): retried like a kubelet
            record.config_error, record.restart_at = str(exc), time.monotonic() + BACKOFF_START
            self.say(f"{plan.key}: {exc}; again in {BACKOFF_START:.0f}s")
            self.patch(record, {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}})
            return
        record.config_error = None
        for note in launch.notes:
            self.say(f"{plan.key}: substituted {note}")
        record.launch, record.started, record.ready, record.restart_at = launch, False, False, None
        record.started_at = now_rfc3339()
        env = {**os.environ, **launch.env, POD_ENV_MARKER: str(self.layout.state)}
        record.proc = subprocess.Popen(list(launch.argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env, cwd=str(self.layout.root),
                                       process_group=0)
        record.log_thread = threading.Thread(target=copy_log, args=(record.proc, current), daemon=True)
        record.log_thread.start()
        self.say(f"{plan.key}: started pid {record.proc.pid} on {HOST}:{record.port}: {' '.join(launch.argv)}")
        self.patch(record, {"running": {"startedAt": record.started_at}})

    def stop_process(self, record: PodProcess) -> None:
        proc = record.proc
        record.proc = None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except OSError:
            pass

    def forget(self, key: str, why: str) -> None:
        record = self.pods.pop(key, None)
        if record is None:
            return
        self.stop_process(record)
        self.say(f"{key}: stopped ({why})")

    def apply_defaults(self) -> None:
        self.defaults, self.generation = self.read_defaults()
        self.say(f"default flags now {self.defaults} (generation {self.generation})")
        for key, record in list(self.pods.items()):
            try:
                plan = plan_for(record.pod, self.defaults, self.default_model)
            except PodConfigError:
                continue
            if plan.sim_args != record.plan.sim_args:
                self.say(f"{key}: restarting with the new default flags")
                self.stop_process(record)
                record.plan = plan  # a reconfiguration, not a crash: restartCount stays
                if record.routed:
                    self.start(record)
        self.write_state()

    def tick(self) -> None:
        changed = False
        for record in list(self.pods.values()):
            proc = record.proc
            if proc is not None and proc.poll() is not None:
                self.on_exit(record, proc.returncode)
                changed = True
            elif proc is not None and not record.ready:
                started, ready = self.probe(record)
                if (started, ready) != (record.started, record.ready):
                    record.started, record.ready = started, ready
                    self.say(f"{record.plan.key}: {'ready' if ready else 'started, not ready yet (loading)'}")
                    self.patch(record, {"running": {"startedAt": record.started_at}})
                    changed = True
            elif record.awaiting_route and time.monotonic() >= record.route_next:
                self.check_route(record)
                changed = record.routed
            elif record.restart_at is not None and time.monotonic() >= record.restart_at:
                if record.config_error is None:  # a config error never ran the container: no restart
                    record.restarts += 1
                self.start(record)
                changed = True
        if changed:
            self.write_state()

    def probe(self, record: PodProcess) -> tuple[bool, bool]:
        """(started: every ready path answers 2xx, ready: and no loading path answers 5xx or nothing)."""
        launch = record.launch
        base = f"http://{HOST}:{record.port}"
        for path in launch.ready_paths:
            status = http_status(base + path, timeout=2)
            if status is None or not 200 <= status < 300:
                return False, False
        for path in launch.loading_paths:
            status = http_status(base + path, timeout=2)
            if status is None or status >= 500:
                return True, False
        return True, True

    def on_exit(self, record: PodProcess, code: int) -> None:
        record.proc = None
        # Like a kubelet: the terminated instance's log is the "previous" one from now on (the verification's
        # diagnosis reads `logs --previous` of a crashed container); the current log stays until the restart.
        if record.log_thread is not None:
            record.log_thread.join(timeout=5)
        current, previous = self.log_paths(record.plan)
        if current.exists():
            shutil.copyfile(current, previous)
        record.started = record.ready = False
        finished = now_rfc3339()
        record.last_state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                            "startedAt": record.started_at, "finishedAt": finished}}
        delay = backoff(record.restarts + 1)
        record.restart_at = time.monotonic() + delay
        self.say(f"{record.plan.key}: exited with status {code}; restart in {delay:.0f}s")
        self.patch(record, {"waiting": {"reason": "CrashLoopBackOff", "message": (
            f"back-off {delay:.0f}s restarting failed container={record.plan.container} "
            f"pod={record.plan.name}_{record.plan.namespace}")}})

    def patch(self, record: PodProcess, state: dict) -> None:
        ours = container_status(record.plan, state, record.ready, record.restarts, record.last_state,
                                record.started)
        path = f"/api/v1/namespaces/{record.plan.namespace}/pods/{record.plan.name}"
        try:
            record.pod = self.api.patch_status(path, status_patch(record.pod, ours))
        except ApiError as exc:
            if exc.status != 404:
                self.say(f"{record.plan.key}: status patch failed: {exc}")

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(), "engine": self.engine.name, "generation": self.generation,
            "defaults": self.defaults,
            "pods": {key: {"port": r.port, "pid": r.proc.pid if r.proc else None, "ready": r.ready,
                           "started": r.started, "routed": r.routed,
                           "pod_ip": (r.pod.get("status") or {}).get("podIP"),
                           "restarts": r.restarts, "served_model": r.plan.served_model,
                           "args": list(r.plan.sim_args), "config_error": r.config_error}
                     for key, r in sorted(self.pods.items())},
        }
        tmp = self.layout.runner_state.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.layout.runner_state)


def copy_log(proc: subprocess.Popen, path: Path) -> None:
    """The process's output, as CRI log lines, to ``path`` (kwok's Logs reads it)."""
    with open(path, "ab", buffering=0) as out:
        for line in proc.stdout:
            out.write(cri_line(line, time.time()))
