#!/usr/bin/env python3
"""Reaction latency of the GPU gate versus a plain backoff-polling loop, measured in the same run.

Against the local cluster (tools/cluster up): one temporary kwok node with 2 GPUs under a label of its
own. Each trial occupies both GPUs with a pod, starts a waiter (the gate, or a loop that lists nodes and
pods and computes the same capacity report under ``backoff.on_predicate(backoff.expo, ...)`` with the same
backoff settings), waits a random moment so the deletion lands anywhere in the poll schedule, deletes the
pod, and measures the time from the delete call to the waiter returning. Methods alternate per trial.

    .venv/bin/python bench/gpu_gate_reaction.py [--trials 20] [--initial 5] [--cap 60] [--max-delay 5]

Writes bench/results/gpu_gate.md and prints the same table.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import backoff  # noqa: E402
from kubernetes import client  # noqa: E402

from components.gpu_gate.capacity import GpuNeed, assess_capacity  # noqa: E402
from components.gpu_gate.cluster_feed import BOUND_LIVE_PODS  # noqa: E402
from components.gpu_gate.waiter import wait_for_gpu_capacity  # noqa: E402
from components.kube import KubeAccess, api_client_for  # noqa: E402
from tests.integration.gpu_gate import kube_helpers as kube  # noqa: E402
from tests.support.cluster import ensure_cluster  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "gpu_gate.md"
TIMEOUT_SECONDS = 600


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def gate_waiter(api, need: GpuNeed, initial: float, cap: float, armed: threading.Event) -> None:
    def on_progress(line: str) -> None:
        if "placeable 0/" in line:
            armed.set()

    wait_for_gpu_capacity(api, need, timeout_seconds=TIMEOUT_SECONDS, backoff_initial_seconds=initial,
                          backoff_max_seconds=cap, on_progress=on_progress)


def polling_waiter(api, need: GpuNeed, initial: float, cap: float, armed: threading.Event) -> None:
    """The workflow script's approach done properly: list, compute, back off exponentially with full jitter."""
    core = client.CoreV1Api(api)

    @backoff.on_predicate(backoff.expo, max_time=TIMEOUT_SECONDS, jitter=backoff.full_jitter, factor=initial,
                          max_value=cap, on_backoff=lambda details: armed.set(), logger=None)
    def capacity_is_there() -> bool:
        nodes = json.loads(core.list_node(_preload_content=False).data)["items"]
        pods = json.loads(core.list_pod_for_all_namespaces(field_selector=BOUND_LIVE_PODS,
                                                            _preload_content=False).data)["items"]
        return assess_capacity(nodes, pods, need).satisfied

    if not capacity_is_there():
        raise RuntimeError("polling gave up")


def one_trial(method, api, core, namespace: str, node: str, need: GpuNeed, args, rng: random.Random) -> float:
    pod = kube.hold_gpus(core, namespace, node, 2)
    armed, ended = threading.Event(), {}

    def run() -> None:
        try:
            method(api, need, args.initial, args.cap, armed)
            ended["at"] = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - reported below
            ended["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not armed.wait(60):
        raise RuntimeError(f"{method.__name__} never saw the GPUs taken")
    threading.Event().wait(rng.uniform(0, args.max_delay))  # land the deletion anywhere in the schedule
    freed_at = time.perf_counter()
    kube.release_gpus(core, namespace, pod)
    thread.join(TIMEOUT_SECONDS)
    if "error" in ended or "at" not in ended:
        raise RuntimeError(f"{method.__name__} did not pass: {ended.get('error')}")
    return ended["at"] - freed_at


def report(results: dict[str, list[float]], args, server_version: str) -> str:
    gate, poll = results["gate"], results["polling"]
    rows = []
    for name, values, how in (
        ("GPU gate (watch + backoff re-list)", gate, "components.gpu_gate.waiter.wait_for_gpu_capacity"),
        ("backoff polling loop (baseline)", poll, "backoff.on_predicate(expo, full_jitter) over list + compute"),
    ):
        rows.append(f"| {name} | {len(values)} | {nearest_rank(values, 0.5):.3f} | {nearest_rank(values, 0.95):.3f} "
                    f"| {max(values):.3f} | {how} |")
    p50_ratio = nearest_rank(poll, 0.5) / nearest_rank(gate, 0.5)
    p95_ratio = nearest_rank(poll, 0.95) / nearest_rank(gate, 0.95)
    return "\n".join([
        "# GPU gate reaction latency",
        "",
        "Time from the DELETE of the pod holding the GPUs to the waiter returning, per trial, both methods in the",
        "same run against the same temporary kwok node (2 x nvidia.com/gpu), alternating per trial. The deletion",
        f"happens a random 0-{args.max_delay:g} s after the waiter has seen the GPUs taken. Percentiles: nearest rank.",
        "",
        f"Backoff for both: initial {args.initial:g} s, cap {args.cap:g} s, full jitter. "
        f"Trials: {args.trials} per method.",
        "",
        "| method | n | p50 (s) | p95 (s) | max (s) | how |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"**Ratio polling / gate: p50 {p50_ratio:.0f}x, p95 {p95_ratio:.0f}x.**",
        "",
        f"- gate trials (s): {', '.join(f'{v:.3f}' for v in gate)}",
        f"- polling trials (s): {', '.join(f'{v:.3f}' for v in poll)}",
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.node()} "
        f"(Python {platform.python_version()}, kube-apiserver {server_version}, kwok nodes).",
        f"Command: `.venv/bin/python bench/gpu_gate_reaction.py --trials {args.trials} --initial {args.initial:g} "
        f"--cap {args.cap:g} --max-delay {args.max_delay:g}`",
        "",
    ])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--initial", type=float, default=5.0, help="backoff initial seconds (stack default 5)")
    parser.add_argument("--cap", type=float, default=60.0, help="backoff cap seconds (stack default 60)")
    parser.add_argument("--max-delay", type=float, default=5.0, help="random wait before freeing the GPUs")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    cluster = ensure_cluster()
    rng = random.Random(args.seed)
    results: dict[str, list[float]] = {"gate": [], "polling": []}
    with api_client_for(KubeAccess(str(cluster.kubeconfig), cluster.context)) as api:
        core = client.CoreV1Api(api)
        server_version = client.VersionApi(api).get_code().git_version
        label = {"gpu-gate-bench": kube.unique("run")}
        namespace, node = kube.unique("gpu-gate-bench"), kube.unique("gpu-gate-bench-node")
        kube.create_namespace(core, namespace)
        try:
            kube.create_gpu_node(core, node, {**label, "node-type": "gpu-gate-bench"})
            kube.wait_for_nodes_ready(core, [node])
            need = GpuNeed(replicas=1, gpus_per_pod=2, node_selector=label, tolerations=(kube.TOLERATION,),
                           namespace=namespace, release_name="gpu-gate-bench")
            for trial in range(args.trials):
                for name, method in (("gate", gate_waiter), ("polling", polling_waiter))[:: 1 if trial % 2 else -1]:
                    latency = one_trial(method, api, core, namespace, node, need, args, rng)
                    results[name].append(latency)
                    print(f"trial {trial + 1:2d} {name:8s} {latency:.3f}s", flush=True)
        finally:
            kube.delete_namespace(core, namespace)
            kube.delete_node(core, node)

    text = report(results, args, server_version)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
