#!/usr/bin/env python3
"""Pulumi overhead of our program versus a bare program with one helm.v3.Release, measured in the same run.

Against the local cluster (tools/cluster up), with the real pulumi CLI and a private file backend
(tests/support/pulumi_project.py). Two projects in temporary directories:

* ours: a copy of this project, stack config = Pulumi.development.yaml with the ``kubernetes`` section pointed
  at the local cluster's kubeconfig (context vllm-local) and ``release.namespace`` replaced by a namespace of
  this run (so cleanup can remove it without touching anyone else's);
* bare: a program with only a kubernetes Provider and one ``pulumi_kubernetes.helm.v3.Release`` of the same
  chart with the same values (``chart_values`` of the same validated config) and the same release options.

(a) ``pulumi preview`` of each on its empty stack, N trials interleaved (ours, bare, ours, bare, ...) after one
untimed warm-up preview of each; (b) one real ``pulumi up`` of each, then N no-op ``pulumi up`` trials of each,
interleaved. Both stacks are destroyed and both namespaces deleted at the end. Times are the CLI's wall time.

    python bench/pulumi_overhead.py [--trials 9] [--no-bytecode-cache]

Writes bench/results/pulumi.md and prints the same table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from kubernetes import client  # noqa: E402
from kubernetes import config as kube_config  # noqa: E402

from components.chart_values import chart_values  # noqa: E402
from components.config import validate_config  # noqa: E402
from components.vllm_model import DEFAULT_CHART_PATH  # noqa: E402
from tests.support.cluster import ensure_cluster  # noqa: E402
from tests.support.pulumi_project import PulumiProject, Result, pulumi_environment  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pulumi.md"
STACK = "bench"

BARE_PROJECT = """\
name: vllm-bench-bare
description: A kubernetes Provider and one helm.v3.Release (pulumi overhead baseline).
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: .venv
"""

BARE_PROGRAM = '''\
"""A kubernetes Provider and one helm.v3.Release with the chart and values of our program (bench baseline)."""

import json

import pulumi
import pulumi_kubernetes as k8s

with open("release.json") as source:
    spec = json.load(source)

provider = k8s.Provider("bare-k8s", kubeconfig=spec["kubeconfig"], context=spec["context"],
                        cluster_identifier=spec["context"])
release = k8s.helm.v3.Release("bare-release", k8s.helm.v3.ReleaseArgs(**spec["release"]),
                              opts=pulumi.ResourceOptions(provider=provider))
pulumi.export("revision", release.status.apply(lambda status: status.revision))
'''


class BareProject(PulumiProject):
    """The baseline program in ``directory``; same CLI wrapper (run/preview/up/destroy) as the e2e project copy."""

    def __init__(self, directory: Path, env: dict[str, str], stack: str, spec: dict):
        self.directory, self.env, self.stack = directory, env, stack
        (directory / "Pulumi.yaml").write_text(BARE_PROJECT)
        (directory / "__main__.py").write_text(BARE_PROGRAM)
        (directory / "release.json").write_text(json.dumps(spec, indent=2))
        shutil.copytree(ROOT / "charts", directory / "charts", ignore=shutil.ignore_patterns("__pycache__"))
        (directory / ".venv").symlink_to(ROOT / ".venv")
        created = self.run("stack", "init", stack)
        assert created.ok, created.output


def development_config(kubeconfig: Path, context: str, namespace: str) -> dict:
    """Pulumi.development.yaml's config, its kubernetes section pointed at the local cluster, namespace replaced."""
    raw = yaml.safe_load((ROOT / "Pulumi.development.yaml").read_text())["config"]
    config = {key.split(":", 1)[1]: value for key, value in raw.items()}
    config["kubernetes"] = {"kubeconfig": str(kubeconfig), "context": context}
    config["release"] = {**config["release"], "namespace": namespace}
    return config


def bare_spec(config: dict) -> dict:
    """The Release arguments VllmModel passes, from the same validated config."""
    deployment = validate_config(config)
    release = deployment.release
    return {
        "kubeconfig": deployment.kubernetes.kubeconfig,
        "context": deployment.kubernetes.context,
        "release": {
            "name": release.name,
            "chart": DEFAULT_CHART_PATH,
            "namespace": release.namespace,
            "create_namespace": release.create_namespace,
            "atomic": release.atomic,
            "cleanup_on_fail": release.atomic,
            "skip_await": not release.helm_wait,
            "timeout": release.timeout_seconds,
            "max_history": release.max_history,
            "values": chart_values(deployment),
        },
    }


SUMMARY = re.compile(r"^Resources:\s*$(?P<body>(?:\n\s+.*)+)", re.MULTILINE)


def resource_summary(result: Result) -> str:
    """Pulumi's 'Resources:' block on one line, e.g. '+ 6 to create' or '5 unchanged'."""
    match = SUMMARY.search(result.output)
    if not match:
        return "?"
    lines = (line.strip() for line in match.group("body").splitlines())
    return "; ".join(line for line in lines if line and not line.startswith("Duration"))


def checked(what: str, result: Result) -> Result:
    if not result.ok:
        raise RuntimeError(f"{what} failed (exit {result.returncode}):\n{result.output}")
    return result


def expect_noop(what: str, result: Result) -> Result:
    checked(what, result)
    summary = resource_summary(result)
    if re.search(r"create|update|replace|delete", summary) or "unchanged" not in summary:
        raise RuntimeError(f"{what} was not a no-op ({summary}):\n{result.output}")
    return result


def interleaved(label: str, trials: int, steps: dict) -> dict[str, list[float]]:
    """Run each step once per trial, in the order given (ours, bare, ours, bare, ...); wall seconds per step."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for trial in range(trials):
        for name, step in steps.items():
            result = step()
            times[name].append(result.seconds)
            print(f"{label} trial {trial + 1}/{trials} {name:4s} {result.seconds:6.2f}s  {resource_summary(result)}",
                  flush=True)
    return times


# Where the time goes: one extra run per program and command with the engine's verbose log (-v=9 --logflow),
# whose JSON lines carry timestamps for the language host, plugin launches and every provider RPC.
VERBOSE = ("-v=9", "--logtostderr", "--logflow")
LAUNCH = re.compile(r"newPlugin\(\): Launching plugin '([^']+) \(resource\)'")
RPC = re.compile(r"^Provider\[(0x[0-9a-f]+)\]\.(\w+)\((.*?)\):? (executing|success|failed)")
RPC_METHODS = {"Check", "Diff", "Create", "Update", "Read", "Delete"}
TOTAL = "total (first to last log line)"
PLUGIN_NAMES = {"kubernetes": "kubernetes provider", "pulumi-python": "dynamic provider (pulumi-python)"}


def _log_events(output: str) -> list[tuple[float, str]]:
    events = []
    for line in output.splitlines():
        start = line.find('{"time"')  # stdout's progress dots can precede a log line on the same line
        if start < 0:
            continue
        try:
            entry = json.loads(line[start:])
            at = datetime.fromisoformat(entry["time"][:26].rstrip("Z")).timestamp()
        except (ValueError, KeyError):
            continue
        events.append((at, entry.get("msg", "")))
    return events


def _resource_type(urn: str) -> str:
    """The resource's own type: 'urn:pulumi:s::p::vllm:index:VllmModel$kubernetes:helm.sh/v3:Release::name'
    -> 'kubernetes:helm.sh/v3:Release'."""
    parts = urn.split("::")
    return parts[2].split("$")[-1] if len(parts) >= 4 else urn


def phases(output: str) -> list[tuple[str, float, float]]:
    """(step, start, duration) from a verbose pulumi log; start is seconds since the first log line."""
    events = _log_events(output)
    if not events:
        return []
    t0, end = events[0][0], events[-1][0]
    marks: dict[str, float] = {}
    launches: dict[str, float] = {}
    pending: dict[tuple, float] = {}
    plugin_of: dict[str, str] = {}
    ready: dict[str, float] = {}
    rpcs: list[tuple[str, str, str, float, float]] = []
    for at, msg in events:
        if msg.startswith("langhost[python].Run(") and msg.endswith("executing"):
            marks.setdefault("run", at)
        elif msg.startswith("langhost[python].Run(") and " success" in msg:
            marks["exited"] = at
        elif msg.startswith("ResourceMonitor.RegisterResource received"):
            marks.setdefault("first_registration", at)
            marks["last_registration"] = at
        elif msg.startswith("ResourceMonitor.RegisterResourceOutputs received"):
            marks["last_registration"] = at
        elif "step executor has completed" in msg:
            marks["steps_done"] = at
        elif found := LAUNCH.search(msg):
            launches.setdefault(found.group(1), at)
        elif found := RPC.match(msg):
            address, method, argument, state = found.groups()
            key = (address, method, argument)
            if method == "GetPluginInfo" and state == "success":
                ready.setdefault(address, at)
            if argument.startswith("urn:") and method in RPC_METHODS:
                plugin_of.setdefault(address, _resource_type(argument).split(":")[0])
            if method not in RPC_METHODS:
                continue
            if state == "executing":
                pending[key] = at
            elif key in pending:
                rpcs.append((address, method, _resource_type(argument).split(":")[-1], pending.pop(key), at))

    rows: list[tuple[str, float, float]] = []

    def add(step: str, start: float | None, stop: float | None) -> None:
        if start is not None and stop is not None:
            rows.append((step, start - t0, stop - start))

    add("CLI start-up until the program is launched", t0, marks.get("run"))
    add("program start-up (interpreter, imports, config) until its first registration", marks.get("run"),
        marks.get("first_registration"))
    add("program: first to last registration", marks.get("first_registration"), marks.get("last_registration"))
    for address, plugin in plugin_of.items():
        add(f"{PLUGIN_NAMES.get(plugin, plugin)}: launch until ready", launches.get(plugin), ready.get(address))
    for address, method, kind, start, stop in rpcs:
        add(f"{PLUGIN_NAMES.get(plugin_of.get(address, ''), address)} {method}({kind})", start, stop)
    add("last step until the program has exited", marks.get("steps_done"), marks.get("exited"))
    add("program exited until the CLI is done (plugins shut down)", marks.get("exited"), end)
    rows.sort(key=lambda row: row[1])
    add(TOTAL, t0, end)
    return rows


def breakdown_table(ours: list, bare: list) -> list[str]:
    """One table: each step's start offset and duration for ours and bare (in ours' order, bare-only steps after)."""
    ours_by, bare_by = {s: (a, d) for s, a, d in ours}, {s: (a, d) for s, a, d in bare}
    order = [s for s, _, _ in ours[:-1]] + [s for s, _, _ in bare[:-1] if s not in ours_by] + [TOTAL]
    lines = ["| step | ours at (s) | ours took (s) | bare at (s) | bare took (s) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for step in order:
        cells = []
        for table in (ours_by, bare_by):
            at, took = table.get(step, (None, None))
            cells += [f"{at:.2f}", f"{took:.2f}"] if at is not None else ["-", "-"]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return lines


def explain(ours: list, bare: list) -> str:
    """The difference of the totals, split into the steps that account for it (from the same verbose runs)."""
    o, b = {s: d for s, _, d in ours}, {s: d for s, _, d in bare}
    dynamic = [(s, d) for s, _, d in ours if s.startswith(PLUGIN_NAMES["pulumi-python"])]
    if TOTAL not in o or TOTAL not in b:
        return ""
    parts = []
    startup = "program start-up (interpreter, imports, config) until its first registration"
    if startup in o and startup in b:
        parts.append(f"program start-up {o[startup] - b[startup]:+.2f} s")
    launch = f"{PLUGIN_NAMES['pulumi-python']}: launch until ready"
    if launch in o:
        parts.append(f"dynamic provider launch {o[launch]:.2f} s")
    calls = [(s, d) for s, d in dynamic if s != launch]
    if calls:
        first, took = calls[0]
        parts.append(f"its first call, {first[len(PLUGIN_NAMES['pulumi-python']) + 1:]}, {took:.2f} s "
                     "(the Release depends on the gate, so it waits for this)")
    shutdown = "program exited until the CLI is done (plugins shut down)"
    if shutdown in o and shutdown in b:
        parts.append(f"shutdown {o[shutdown] - b[shutdown]:+.2f} s")
    return (f"Ours - bare: {o[TOTAL] - b[TOTAL]:+.2f} s in total; " + "; ".join(parts) + ".") if parts else ""


REMAINDER = (
    "What stays between ours and bare, from the tables above: the dynamic-provider host is a separate Python",
    "process (`python -m pulumi.dynamic`, SDK code: its imports of pulumi, grpc and dill take about 0.2 s here) that",
    "the engine starts only when the first dynamic resource (the gate) registers, which is after the program's body",
    "has run, and the engine starts provider plugins one at a time while it processes registrations (the kubernetes",
    "provider's, then this one). The Helm release depends on the gate, so its Check waits for that launch and the",
    "gate's Check; the verification and the drift check follow the release; at the end the engine stops the host.",
    "The bare program has no dynamic resource and pays none of it. The program's own share is its imports and the",
    "five more resources it registers.",
)


def tool_versions(api) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    pulumi = subprocess.run(["pulumi", "version"], capture_output=True, text=True, timeout=60)
    versions["pulumi CLI"] = pulumi.stdout.strip() or "?"
    try:
        from importlib.metadata import version
        versions["pulumi SDK (python)"] = version("pulumi")
        versions["pulumi_kubernetes SDK (python)"] = version("pulumi_kubernetes")
    except Exception:  # noqa: BLE001 - versions are informational
        pass
    plugins = sorted((ROOT / ".tools" / "pulumi-plugins").glob("resource-kubernetes-v*/pulumi-resource-kubernetes"))
    provider = plugins[-1] if plugins else None
    if provider and shutil.which("go"):
        build = subprocess.run(["go", "version", "-m", provider], capture_output=True, text=True, timeout=60).stdout
        for module, name in (("github.com/pulumi/pulumi-kubernetes/provider/v4", "kubernetes provider"),
                             ("helm.sh/helm/v3", "helm (in the provider)")):
            found = re.search(rf"\s{re.escape(module)}\s+(\S+)", build)
            if found:
                versions[name] = found.group(1)
    try:
        versions["kube-apiserver"] = client.VersionApi(api).get_code().git_version
    except Exception:  # noqa: BLE001
        pass
    return versions


def stats(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), min(values)


def report(preview: dict, noop: dict, first_up: dict, summaries: dict, breakdown: dict, args, versions: dict,
           started: str, namespaces: dict) -> str:
    rows, ratios = [], {}
    for label, times in (("`pulumi preview` (empty stack)", preview), ("no-op `pulumi up`", noop)):
        ours_med, ours_min = stats(times["ours"])
        bare_med, bare_min = stats(times["bare"])
        ratios[label] = (ours_med / bare_med, ours_min / bare_min)
        rows.append(f"| {label} | {len(times['ours'])} | {ours_med:.2f} | {ours_min:.2f} | {bare_med:.2f} | "
                    f"{bare_min:.2f} | **{ours_med / bare_med:.2f}x** | {ours_min / bare_min:.2f}x |")
    (p_med, p_min), (n_med, n_min) = ratios.values()
    lines = [
        "# Pulumi overhead: our program vs a bare helm.v3.Release",
        "",
        "Wall time of the pulumi CLI for our program (VllmModel: kubernetes Provider, GpuCapacityGate dynamic",
        "resource, helm.v3.Release, DeploymentVerification and ReleaseDrift dynamic resources; the development",
        "stack does not enable the model registry) versus a bare program with only a",
        "kubernetes Provider and one `pulumi_kubernetes.helm.v3.Release` of the same chart, values and release",
        "options, measured in the same run against the local cluster (real control plane, kwok GPU nodes, vLLM",
        "simulator), interleaved ours, bare, ours, bare, ... Each project is a temporary copy with a private file",
        "backend (tests/support/pulumi_project.py).",
        "",
        "Stack config: **Pulumi.development.yaml with the `kubernetes` section replaced** by the local cluster's",
        f"kubeconfig (context `vllm-local`) and `release.namespace` replaced by a namespace of this run "
        f"(`{namespaces['ours']}`, bare: `{namespaces['bare']}`); everything else as in the development stack.",
        "",
        "| command | trials | ours median (s) | ours min (s) | bare median (s) | bare min (s) "
        "| ratio ours/bare (median) | ratio (min) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"**Ratio ours/bare: preview {p_med:.2f}x (min {p_min:.2f}x), no-op up {n_med:.2f}x (min {n_min:.2f}x).**",
        "",
        "- preview: each stack empty (the preview of a first deployment), after one untimed warm-up preview of each;",
        f"  ours `{summaries['preview']['ours']}`, bare `{summaries['preview']['bare']}`.",
        f"- preview trials (s): ours {', '.join(f'{v:.2f}' for v in preview['ours'])}; "
        f"bare {', '.join(f'{v:.2f}' for v in preview['bare'])}",
        "- first real `pulumi up` (once each, not a ratio: ours also waits for GPU capacity and verifies serving):",
        f"  ours {first_up['ours']:.2f} s (`{summaries['up']['ours']}`), "
        f"bare {first_up['bare']:.2f} s (`{summaries['up']['bare']}`).",
        f"- no-op up: ours `{summaries['noop']['ours']}`, bare `{summaries['noop']['bare']}`.",
        f"- no-op up trials (s): ours {', '.join(f'{v:.2f}' for v in noop['ours'])}; "
        f"bare {', '.join(f'{v:.2f}' for v in noop['bare'])}",
        "",
        "## Where the time goes",
        "",
        "From one extra run of each command with the engine's verbose log (`-v=9 --logtostderr --logflow`, after the",
        "timed trials; logging makes it a little slower than they are). `at` is seconds since the CLI's first log",
        "line; steps overlap (plugins start while the program runs), so durations do not add up to the total.",
        "",
        "### `pulumi preview` (empty stack)",
        "",
        *breakdown_table(breakdown["preview"]["ours"], breakdown["preview"]["bare"]),
        "",
        explain(breakdown["preview"]["ours"], breakdown["preview"]["bare"]),
        "",
        "### no-op `pulumi up`",
        "",
        *breakdown_table(breakdown["noop"]["ours"], breakdown["noop"]["bare"]),
        "",
        explain(breakdown["noop"]["ours"], breakdown["noop"]["bare"]),
        "",
        *REMAINDER,
        "",
        f"Run {started} on {platform.node()} (nproc {os.cpu_count()}, {platform.machine()}, "
        f"local cluster shared with other work). Versions: "
        + ", ".join(f"{name} {value}" for name, value in versions.items()) + ".",
        "",
        "Python bytecode: " + ("not cached (`PYTHONDONTWRITEBYTECODE=1` for both programs: every run compiles the "
                               "project's modules from source)." if args.no_bytecode_cache else
                               "cached as by default (`__pycache__` written by the warm-up run; "
                               "`PYTHONDONTWRITEBYTECODE` removed from both programs' environment)."),
        "",
        f"Command: `python bench/pulumi_overhead.py --trials {args.trials}"
        + (" --no-bytecode-cache" if args.no_bytecode_cache else "")
        + "` (inside `source tools/env.sh`; also run by `make bench`)",
        "",
    ]
    return "\n".join(lines)


def delete_namespace(api, name: str) -> None:
    try:
        client.CoreV1Api(api).delete_namespace(name, grace_period_seconds=0)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=9, help="timed trials per program and command (default 9)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (stacks are destroyed)")
    parser.add_argument("--logs", type=Path, help="also write the verbose runs' output to this directory")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run both programs with PYTHONDONTWRITEBYTECODE=1 (every run compiles the project's "
                             "modules from source); default: Python's default, bytecode cached by the warm-up run")
    args = parser.parse_args(argv)

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cluster = ensure_cluster()
    api = kube_config.new_client_from_config(config_file=str(cluster.kubeconfig), context=cluster.context)
    suffix = uuid.uuid4().hex[:6]
    namespaces = {"ours": f"bench-pulumi-{suffix}", "bare": f"bench-pulumi-{suffix}-bare"}
    workdir = Path(tempfile.mkdtemp(prefix="pulumi-overhead-"))
    projects: dict[str, PulumiProject] = {}
    try:
        versions = tool_versions(api)
        env = pulumi_environment(workdir / "backend", workdir / "home")
        # The same Python for both programs whatever the calling shell sets (some sandboxes and CI images export
        # PYTHONDONTWRITEBYTECODE=1, which makes every run compile the project's modules again).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        config = development_config(cluster.kubeconfig, cluster.context, namespaces["ours"])
        spec = bare_spec(development_config(cluster.kubeconfig, cluster.context, namespaces["bare"]))
        (workdir / "ours").mkdir()
        (workdir / "bare").mkdir()
        projects["ours"] = PulumiProject(workdir / "ours", env, STACK, config)
        projects["bare"] = BareProject(workdir / "bare", env, STACK, spec)

        for name, project in projects.items():  # warm-up: bytecode caches, plugin discovery, first connection
            checked(f"warm-up preview ({name})", project.preview())
        summaries: dict[str, dict[str, str]] = {"preview": {}, "up": {}, "noop": {}}

        def previewer(name: str, project: PulumiProject):
            def step() -> Result:
                result = checked(f"preview ({name})", project.preview())
                summaries["preview"][name] = resource_summary(result)
                return result
            return step

        preview = interleaved("preview", args.trials, {name: previewer(name, p) for name, p in projects.items()})
        def verbose(command: str, name: str, result: Result) -> list:
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                (args.logs / f"{command}-{name}.log").write_text(result.output)
            return phases(result.output)

        breakdown = {"preview": {name: verbose("preview", name, checked(f"verbose preview ({name})",
                                                                         p.preview(*VERBOSE)))
                                 for name, p in projects.items()}}

        first_up = {}
        for name, project in projects.items():
            result = checked(f"first up ({name})", project.up())
            first_up[name] = result.seconds
            summaries["up"][name] = resource_summary(result)
            print(f"first up {name:4s} {result.seconds:6.2f}s  {summaries['up'][name]}", flush=True)

        def noop_upper(name: str, project: PulumiProject):
            def step() -> Result:
                result = expect_noop(f"no-op up ({name})", project.up())
                summaries["noop"][name] = resource_summary(result)
                return result
            return step

        noop = interleaved("no-op up", args.trials, {name: noop_upper(name, p) for name, p in projects.items()})
        breakdown["noop"] = {name: verbose("noop-up", name, expect_noop(f"verbose no-op up ({name})", p.up(*VERBOSE)))
                             for name, p in projects.items()}
    finally:
        for name, project in projects.items():
            destroyed = project.destroy()
            if not destroyed.ok:
                print(f"destroy ({name}) failed:\n{destroyed.output}", file=sys.stderr)
        for namespace in namespaces.values():
            delete_namespace(api, namespace)
        api.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    text = report(preview, noop, first_up, summaries, breakdown, args, versions, started, namespaces)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
