"""Engines: what the pod runner runs for a pod. The choice is explicit (``tools/cluster up --engine``).

- ``sim``: llm-d-inference-sim (or ``$VLLM_SIM_CMD``) configured from the pod (see sim.py).

- ``vllm``: the real vLLM server (CPU build from tools/vllm-env, with its generated tiny model) started from
  the pod's own container spec: command, args, env and ConfigMap mounts, with only the substitutions of
  tools/vllmenv/podspec.py (model, host/port, download dir, accelerator-only settings).

An engine only maps a ``PodPlan`` and a loopback port to a ``Launch``; the runner does the rest
(process, logs, readiness, pod status, port-forward), so a new engine is one class here.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tools.vllmenv import build as vllm_env
from tools.vllmenv.podspec import Local, Lookup, PodSpecError, materialize, vllm_launch

from .kubeapi import Api, ApiError
from .layout import HOST
from .processes import ClusterError
from .sim import ANNOTATION_PREFIX, CRASH_ANNOTATION, PodConfigError, PodPlan

ENGINES = ("sim", "vllm")
DEFAULT_ENGINE = "sim"


@dataclass(frozen=True)
class Launch:
    """A process for one pod: argv, extra environment, and the HTTP paths that tell it is ready
    (``ready_paths`` must answer 2xx; ``loading_paths`` must answer, and not 5xx)."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    ready_paths: tuple[str, ...] = ("/health",)
    loading_paths: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the engine changed in the pod's spec, for the runner's log


def crash_launch(plan: PodPlan) -> Launch:
    """A container that exits with status 1 at once (annotation crash-at-start)."""
    message = f"simulated crash at start ({ANNOTATION_PREFIX}{CRASH_ANNOTATION}=true) of {plan.key}"
    return Launch((sys.executable, "-c", f"import sys; print({message!r}, flush=True); sys.exit(1)"))


class SimEngine:
    """llm-d-inference-sim with the pod's flags, or a custom command ($VLLM_SIM_CMD) that gets
    $VLLM_SIM_HOST, $VLLM_SIM_PORT, $VLLM_SIM_MODEL and $VLLM_SIM_ARGS."""

    name = "sim"

    def __init__(self, binary: Path, custom_cmd: str | None = None):
        self.binary, self.custom_cmd = binary, custom_cmd

    def launch(self, plan: PodPlan, port: int, pod: dict | None = None) -> Launch:
        if plan.crash_at_start:
            return crash_launch(plan)
        if self.custom_cmd:
            env = {"VLLM_SIM_HOST": HOST, "VLLM_SIM_PORT": str(port), "VLLM_SIM_MODEL": plan.served_model,
                   "VLLM_SIM_ARGS": " ".join(plan.sim_args)}
            return Launch(("/bin/sh", "-c", self.custom_cmd), env, ("/health",), ("/health/ready",))
        return Launch((str(self.binary), f"--port={port}", *plan.sim_args), {}, ("/health",), ("/health/ready",))


class VllmEngine:
    """The real vLLM from the pod's own container spec (see tools/vllmenv/podspec.py): env from the API
    server's Secrets and ConfigMaps, mounted ConfigMaps written under ``pods_dir``. A wrong argument makes
    vLLM exit, so the runner shows the pod crashed as a kubelet on a GPU node would."""

    name = "vllm"

    def __init__(self, python: str, model: str, pods_dir: Path, lookup: Lookup):
        self.python, self.model, self.pods_dir, self.lookup = python, model, pods_dir, lookup

    def launch(self, plan: PodPlan, port: int, pod: dict | None = None) -> Launch:
        if plan.crash_at_start:
            return crash_launch(plan)
        if pod is None:
            raise PodConfigError(f"{plan.key}: the vllm engine needs the pod's spec")
        pod_dir = self.pods_dir / f"{plan.namespace}_{plan.name}_{plan.uid[:8]}"
        try:
            real = vllm_launch(pod, Local(self.python, self.model, port, pod_dir), self.lookup)
        except PodSpecError as exc:
            raise PodConfigError(str(exc)) from None
        materialize(real)
        # The runner's own Python environment must not reach the pod's (the pod's PYTHONPATH wins).
        env = {"PYTHONPATH": "", "VIRTUAL_ENV": "", **real.env}
        return Launch(real.argv, env, (real.startup_path,), (real.ready_path,), notes=real.substituted)


def api_lookup(api: Api) -> Lookup:
    """Secrets and ConfigMaps from the API server (a Secret's data decoded); None when there is none."""

    def lookup(kind: str, namespace: str, name: str) -> dict[str, str] | None:
        path = f"/api/v1/namespaces/{namespace}/{'secrets' if kind == 'secret' else 'configmaps'}/{name}"
        try:
            obj = api.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise PodConfigError(f"reading {kind} {namespace}/{name}: {exc}") from None
        data = obj.get("data") or {}
        if kind == "secret":
            return {k: base64.b64decode(v).decode() for k, v in data.items()}
        return dict(data)

    return lookup


def require_vllm_env() -> vllm_env.Plan:
    """The cached vLLM environment, or a clear error saying how to build it."""
    plan = vllm_env.plan()
    if not plan.built():
        raise ClusterError(f"engine vllm needs the real vLLM {plan.version} environment, not built yet: run "
                           f"tools/vllm-env (once per machine: ~15 min and 6.5 GB in {plan.env_dir.parent})")
    return plan


def make_engine(name: str, bin_dir: Path, custom_cmd: str | None, api: Api | None = None,
                pods_dir: Path | None = None) -> SimEngine | VllmEngine:
    if name == "vllm":
        if api is None or pods_dir is None:
            raise ClusterError("engine vllm needs the API server and a directory for the pods' files")
        env = require_vllm_env()
        return VllmEngine(str(env.python), str(env.model_dir), pods_dir, api_lookup(api))
    if name == "sim":
        return SimEngine(bin_dir / "llm-d-inference-sim", custom_cmd)
    raise ClusterError(f"engine {name!r} is not available; allowed: {', '.join(ENGINES)}")
