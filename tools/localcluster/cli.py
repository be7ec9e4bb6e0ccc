"""``tools/cluster``'s command line: argparse subcommands, each a thin call into controlplane.Cluster."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .engines import DEFAULT_ENGINE, ENGINES
from .layout import COMPONENTS, DEFAULT_SIM_MODEL, HOST, Layout, repo_root
from .processes import ClusterError, crilog

DESCRIPTION = "Local Kubernetes control plane with simulated GPU nodes (kwok), bound to 127.0.0.1."
EPILOG = """\
Environment: VLLM_SIM_CMD (a shell command run instead of llm-d-inference-sim, with $VLLM_SIM_HOST,
$VLLM_SIM_PORT, $VLLM_SIM_MODEL and, per pod, $VLLM_SIM_ARGS set; it must answer GET /health with 2xx),
VLLM_SIM_MODEL (default served model name), VLLM_CLUSTER_TIMEOUT (seconds per wait, default 120).
State: <repo>/.state/cluster (pki/, data/, logs/, pids/, kubeconfig with context vllm-local, info.json).
See tools/localcluster/__init__.py for the pod runner and its annotations."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/cluster", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    up = sub.add_parser("up", help="start (idempotent: a healthy cluster is left as it is)")
    up.add_argument("--engine", choices=ENGINES, default=None,
                    help="what runs for each vLLM pod: sim (default), a simulator configured from the pod (fast, fault "
                         "injection); vllm, the real vLLM CPU build from the pod's own spec (tools/vllm-env). "
                         "On a running cluster, switches its pod runner to this engine; without --engine a running "
                         "cluster keeps its engine")
    sub.add_parser("down", help="stop everything and delete its data (PKI and logs are kept)")
    sub.add_parser("status", help="report processes, readiness, pod processes and nodes (exit 1 if not healthy)")
    sim = sub.add_parser("sim", help="new llm-d simulator flags for the shared simulator and every pod's "
                                     "(fault injection, latency); without ARGS back to the defaults",
                         usage="tools/cluster sim [-- ARGS...]")
    sim.add_argument("args", nargs=argparse.REMAINDER, help="simulator flags, after --")
    restart = sub.add_parser("restart", help="restart one component keeping its data and flags, or without "
                                             "COMPONENT the whole cluster (down + up)")
    restart.add_argument("component", nargs="?", choices=COMPONENTS, metavar="COMPONENT",
                         help="one of: " + ", ".join(COMPONENTS))
    env = sub.add_parser("env", help="print shell exports (KUBECONFIG, VLLM_SIM_URL, ...)")
    env.add_argument("--json", action="store_true", help="everything as JSON")
    sub.add_parser("check", help="prove port-forward to a vLLM pod reaches its own process "
                                 "(kubectl port-forward and the Python kubernetes client)")
    return p


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line; ``sim`` takes the simulator's flags with or without a ``--`` before them."""
    p = parser()
    args, extra = p.parse_known_args(argv)
    if args.command == "sim":
        args.args = [a for a in [*extra, *args.args] if a != "--"]
    elif extra:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def runner_main(argv: list[str], layout: Layout) -> int:
    from .engines import make_engine
    from .health import client_ssl
    from .kubeapi import Api
    from .runner import Runner

    p = argparse.ArgumentParser(prog="tools/cluster _runner")
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE)
    p.add_argument("--model", default=DEFAULT_SIM_MODEL)
    p.add_argument("logs", help="the cluster's log directory (marks the process as this cluster's)")
    args = p.parse_args(argv)
    info = json.loads(layout.info.read_text())
    api = Api(f"https://{HOST}:{info['ports']['apiserver']}", client_ssl(layout.pki))
    engine = make_engine(args.engine, layout.bin, os.environ.get("VLLM_SIM_CMD") or None, api,
                         layout.state / "pods")
    return Runner(layout, api, engine, args.model).run()


def main(argv: list[str] | None = None, layout: Layout | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    layout = layout or Layout.from_environment(repo_root())
    if argv[:1] == ["_crilog"]:  # internal: the shared simulator's log copier
        return crilog(argv[1])
    if argv[:1] == ["_egress"]:  # internal: the API server's egress proxy (a component started by up)
        from .egress import serve

        return serve(Path(argv[1]), Path(argv[2]))
    if argv[:1] == ["_runner"]:  # internal: the pod runner (a component started by up)
        return runner_main(argv[1:], layout)
    args = parse(argv)
    if args.command is None:
        parser().print_help()
        return 0
    from .controlplane import Cluster

    cluster = Cluster(layout)
    try:
        if args.command == "up":
            return cluster.locked(lambda: cluster.up(args.engine))
        if args.command == "down":
            return cluster.locked(cluster.down)
        if args.command == "check":
            return cluster.locked(cluster.check)
        if args.command == "restart":
            return cluster.locked(lambda: cluster.restart(args.component))
        if args.command == "sim":
            return cluster.locked(lambda: cluster.sim(args.args))
        if args.command == "status":
            return cluster.status()
        if args.command == "env":
            return cluster.env(args.json)
    except ClusterError as exc:
        print(f"[cluster] error: {exc}", file=sys.stderr, flush=True)
        return 1
    raise AssertionError(f"unhandled command {args.command}")
