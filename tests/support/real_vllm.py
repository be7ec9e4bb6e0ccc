"""The real vLLM (CPU build from tools/vllm-env) for tests: locate the cached environment, start a pod's
container spec as a process, wait for it with progress, read the metric names the chart uses."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tools.vllmenv.podspec import Local, VllmLaunch, materialize, vllm_launch

ROOT = Path(__file__).resolve().parents[2]
VLLM_ENV = ROOT / "tools" / "vllm-env"
CHART = ROOT / "charts" / "vllm-deployment"
METRIC = re.compile(r"\bvllm:[A-Za-z0-9_:]+")
STARTUP_TIMEOUT = 600.0  # a loaded 2-core machine: 40-90 s usual
# The project's virtualenv must not leak into vLLM's.
SCRUBBED_ENV = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")


@dataclass(frozen=True)
class VllmEnv:
    python: str
    model: str
    version: str


def require_vllm_env() -> VllmEnv:
    """The cached environment, or a skip saying why (it is built by `make test` / tools/vllm-env)."""
    values = {}
    for key in ("python", "model", "version"):
        out = subprocess.run([str(VLLM_ENV), "--print", key], capture_output=True, text=True)
        if out.returncode != 0:
            pytest.skip(f"the real vLLM environment is not built ({out.stderr.strip()}); "
                        "`make test` or tools/vllm-env builds it (the build failed or was not run)")
        values[key] = out.stdout.strip()
    return VllmEnv(**values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chart_metric_names() -> set[str]:
    """Every vllm:* metric the chart's dashboard and alerts query (read from the chart's files)."""
    names: set[str] = set()
    for path in [*CHART.joinpath("files").rglob("*"), *CHART.joinpath("templates").rglob("*")]:
        if path.is_file():
            names |= set(METRIC.findall(path.read_text()))
    return names


def exported_metric_names(exposition: str) -> set[str]:
    """vllm:* names in a Prometheus text scrape: the samples' (``x_bucket``, ``x_total``, ...) and the families'
    (``# TYPE x histogram``), so a query may use either."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("vllm:"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
        elif line.startswith(("# TYPE vllm:", "# HELP vllm:")):
            names.add(line.split()[2])
    return names


@dataclass
class RunningVllm:
    launch: VllmLaunch
    proc: subprocess.Popen
    log: Path
    base_url: str
    startup_seconds: float = 0.0

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def process_env(launch: VllmLaunch) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    return {**env, **launch.env}


def start(pod: dict, env: VllmEnv, pod_dir: Path, lookup: Callable) -> RunningVllm:
    port = free_port()
    launch = vllm_launch(pod, Local(env.python, env.model, port, pod_dir), lookup)
    materialize(launch)
    log = pod_dir / "vllm.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(launch.argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=process_env(launch), cwd=str(pod_dir), process_group=0)
    return RunningVllm(launch, proc, log, f"http://127.0.0.1:{port}")


def wait_ready(server: RunningVllm, timeout: float = STARTUP_TIMEOUT) -> float:
    """Seconds until the pod's readiness path answers 200; the process's exit is a failure with its log."""
    started = time.monotonic()
    next_report = started
    path = server.launch.ready_path
    while True:
        code = server.proc.poll()
        if code is not None:
            raise AssertionError(f"vLLM exited with status {code} before ready:\n{server.output()[-3000:]}")
        status = None
        with contextlib.suppress(httpx.HTTPError):
            status = httpx.get(server.base_url + path, timeout=2).status_code
        elapsed = time.monotonic() - started
        if status == 200:
            server.startup_seconds = elapsed
            print(f"vLLM ready at {server.base_url} after {elapsed:.1f}s", flush=True)
            return elapsed
        if elapsed > timeout:
            raise AssertionError(f"vLLM not ready after {timeout:.0f}s:\n{server.output()[-3000:]}")
        if time.monotonic() >= next_report:
            print(f"waiting for vLLM {path} at {server.base_url}: {elapsed:.0f}s, last answer {status}; "
                  "next check in 1s", flush=True)
            next_report += 15
        time.sleep(1)  # nothing to await: vLLM announces readiness only by answering


def wait_exit(server: RunningVllm, timeout: float = 300) -> int:
    return server.proc.wait(timeout)


def stop(server: RunningVllm) -> None:
    if server.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()


@contextlib.contextmanager
def running(pod: dict, env: VllmEnv, pod_dir: Path, lookup: Callable) -> Iterator[RunningVllm]:
    server = start(pod, env, pod_dir, lookup)
    try:
        yield server
    finally:
        stop(server)
