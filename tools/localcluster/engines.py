"""Engines: what the pod runner runs for a pod. The choice is explicit (``tools/cluster up --engine``).

- ``sim``: llm-d-inference-sim (or ``$VLLM_SIM_CMD``) configured from the pod (see sim.py).

Issue 15 adds ``vllm``: the real vLLM server started from the pod's own container spec (command, args,
env). An engine only maps a ``PodPlan`` and a loopback port to a ``Launch``; the runner does the rest
(process, logs, readiness, pod status, port-forward), so a new engine is one class here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from .layout import HOST
from .processes import ClusterError
from .sim import ANNOTATION_PREFIX, CRASH_ANNOTATION, PodPlan

ENGINES = ("sim",)
DEFAULT_ENGINE = "sim"


@dataclass(frozen=True)
class Launch:
    """A process for one pod: argv, extra environment, and the HTTP paths that tell it is ready
    (``ready_paths`` must answer 2xx; ``loading_paths`` must answer, and not 5xx)."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    ready_paths: tuple[str, ...] = ("/health",)
    loading_paths: tuple[str, ...] = ()


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

    def launch(self, plan: PodPlan, port: int) -> Launch:
        if plan.crash_at_start:
            return crash_launch(plan)
        if self.custom_cmd:
            env = {"VLLM_SIM_HOST": HOST, "VLLM_SIM_PORT": str(port), "VLLM_SIM_MODEL": plan.served_model,
                   "VLLM_SIM_ARGS": " ".join(plan.sim_args)}
            return Launch(("/bin/sh", "-c", self.custom_cmd), env, ("/health",), ("/health/ready",))
        return Launch((str(self.binary), f"--port={port}", *plan.sim_args), {}, ("/health",), ("/health/ready",))


def make_engine(name: str, bin_dir: Path, custom_cmd: str | None) -> SimEngine:
    if name == "sim":
        return SimEngine(bin_dir / "llm-d-inference-sim", custom_cmd)
    raise ClusterError(f"engine {name!r} is not available; allowed: {', '.join(ENGINES)}")
