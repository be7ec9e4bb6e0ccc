#!/usr/bin/env python3
"""The time the model registry adds to `pulumi up`, against baselines measured in the same run.

(a) In process, on a real PostgreSQL server this script starts (tools/localcluster/postgres.py, temp dir):
    the provider's registration (``ModelRegistryEntryProvider.create``: connect, schema check, upsert in one
    transaction) vs the bare minimum any registration needs: one new connection, ``SELECT 1``, close. The first
    registration into an empty database (migrations applied) is reported separately. Interleaved repeats.
(b) With ``--cluster``: the real pulumi CLI against the local cluster (tools/cluster up) and its PostgreSQL.
    Per trial two fresh stacks of this program are created with `pulumi up`, identical except
    ``registry.enabled`` (off = baseline, on = registers into a database of this run), in alternating order, then
    destroyed. Reported: median wall time of each, the difference and the ratio, and the registration step's own
    time as the provider logs it during the up ("registered ... in X s").

    python bench/registry_overhead.py [--repeats 30] [--cluster --trials 3]

Writes bench/results/registry.md and prints the same table. Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from components.registry.resource import ModelRegistryEntryProvider  # noqa: E402
from tests.support.postgres import drop_database, fresh_database, started_server  # noqa: E402
from tests.unit.registry.builders import entry_inputs  # noqa: E402
from tools.localcluster import postgres as pg  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "registry.md"
_REGISTERED = re.compile(r"ModelRegistryEntry: registered .* in ([\d.]+) s")
_ENGINE_STEP = r"dynamic/vllm:{kind} \S+ created \(([\d.]+)s\)"  # the engine's own per-resource time


def engine_step(output: str, kind: str) -> float | None:
    found = re.search(_ENGINE_STEP.format(kind=kind), output)
    return float(found.group(1)) if found else None


def bare_round_trip(url: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1").fetchone()
    return time.perf_counter() - started


def registration(provider: ModelRegistryEntryProvider, inputs: dict) -> float:
    started = time.perf_counter()
    provider.create(inputs)
    return time.perf_counter() - started


def in_process(repeats: int) -> list[dict]:
    server, state = started_server("vllm-registry-bench-")
    try:
        name, url = fresh_database(server)
        provider = ModelRegistryEntryProvider()
        inputs = entry_inputs(database_url=url)
        first = registration(provider, inputs)  # empty database: applies the migrations
        bare, register = [], []
        for i in range(repeats):
            inputs = entry_inputs(database_url=url, helm_revision=float(i + 2))
            bare.append(bare_round_trip(url))
            register.append(registration(provider, inputs))
        drop_database(server, name)
    finally:
        pg.stop(state, remove=True)
    base = statistics.median(bare)
    return [
        {"name": "baseline: new connection + SELECT 1", "median": base, "max": max(bare), "n": repeats},
        {"name": "registration (upsert, schema current)", "median": statistics.median(register),
         "max": max(register), "n": repeats},
        {"name": "first registration (empty database: migrations)", "median": first, "max": first, "n": 1},
    ]


def with_cluster(trials: int) -> dict:
    from tests.support.cluster import ensure_cluster
    from tests.support.pulumi_project import PulumiProject, local_stack_config, pulumi_environment

    info = ensure_cluster()
    server = pg.status()
    if server is None:
        raise SystemExit("tools/cluster up did not start PostgreSQL")
    db_name, url = fresh_database(server)
    walls: dict[str, list[float]] = {"off": [], "on": []}
    steps: list[float] = []
    engine: dict[str, list[float]] = {"registry": [], "verification": [], "up": []}
    work = Path(tempfile.mkdtemp(prefix="vllm-registry-bench-"))
    try:
        for trial in range(trials):
            order = ("off", "on") if trial % 2 == 0 else ("on", "off")
            for variant in order:
                suffix = uuid.uuid4().hex[:6]
                release = f"bench-{suffix}"
                env = pulumi_environment(work / f"backend-{suffix}", work / f"home-{suffix}")
                directory = work / f"project-{suffix}"
                directory.mkdir()
                config = local_stack_config(info.kubeconfig, release, release, registry={"enabled": variant == "on"})
                project = PulumiProject(directory, env, "bench", config)
                if variant == "on":
                    assert project.run("config", "set", "--secret", "--path",
                                       "vllm-deploy:registry.databaseUrl", url).ok
                try:
                    result = project.up()
                    if not result.ok:
                        raise SystemExit(f"pulumi up ({variant}) failed:\n{result.output[-3000:]}")
                    walls[variant].append(result.seconds)
                    if variant == "on":
                        found = _REGISTERED.search(result.output)
                        registry_step = engine_step(result.output, "ModelRegistryEntry")
                        verification_step = engine_step(result.output, "DeploymentVerification")
                        if not found or registry_step is None or verification_step is None:
                            raise SystemExit(f"no step times in the output of pulumi up:\n{result.output[-3000:]}")
                        steps.append(float(found.group(1)))
                        engine["registry"].append(registry_step)
                        engine["verification"].append(verification_step)
                        engine["up"].append(result.seconds)
                    print(f"trial {trial + 1}/{trials} registry {variant}: pulumi up {result.seconds:.2f} s",
                          flush=True)
                finally:
                    project.destroy()
                    _delete_namespace(info, release)
    finally:
        drop_database(server, db_name)
        shutil.rmtree(work, ignore_errors=True)
    return {"walls": walls, "steps": steps, "engine": engine, "trials": trials}


def _delete_namespace(info, namespace: str) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(info.kubeconfig), context=info.context)
    try:
        client.CoreV1Api(api).delete_namespace(namespace, grace_period_seconds=0)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    finally:
        api.close()


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def render(rows: list[dict], cluster: dict | None, args: argparse.Namespace) -> str:
    base = rows[0]["median"]
    lines = [
        "# Model registry: time added to `pulumi up`",
        "",
        f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} on {platform.node()} "
        f"(Python {platform.python_version()}, PostgreSQL on 127.0.0.1).",
        "",
    ]
    if cluster:
        off, on = statistics.median(cluster["walls"]["off"]), statistics.median(cluster["walls"]["on"])
        engine = cluster["engine"]
        step = statistics.median(engine["registry"])
        share = statistics.median(r / u for r, u in zip(engine["registry"], engine["up"], strict=True))
        versus = statistics.median(r / v for r, v in zip(engine["registry"], engine["verification"], strict=True))
        lines += [
            f"**registration adds {step:.2f} s to pulumi up (ModelRegistryEntry create, median of "
            f"{cluster['trials']}): "
            f"{share:.3f} of the whole up, {versus:.2f}x the verification step**",
            "",
            "(b) `pulumi up` of a new stack of this program on the local cluster with the registry on (a database of "
            "this run on the cluster's PostgreSQL). The registration runs after the verification, on the critical "
            "path, so its step time is what it adds. Per up, from the engine's own per-resource times "
            "(`created (X s)`) and the provider's log line:",
            "",
            "| up | pulumi up wall (s) | verification step (s) | registration step, engine (s) | provider's "
            "registration (s) | registration / up |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for i, (up, verification, registry, provider) in enumerate(zip(
                engine["up"], engine["verification"], engine["registry"], cluster["steps"], strict=True), start=1):
            lines.append(f"| {i} | {up:.2f} | {verification:.2f} | {registry:.2f} | {provider:.3f} | "
                         f"{registry / up:.3f} |")
        lines += [
            "",
            f"Same run, registry on vs off (alternating order, new stack each time): median `pulumi up` "
            f"{on:.2f} s vs {off:.2f} s (ratio {on / off:.3f}; on: {_runs(cluster['walls']['on'])}; off: "
            f"{_runs(cluster['walls']['off'])}). On this shared 2-core machine the run-to-run spread of a whole up is "
            "many times the registration step, so this difference is noise; the step times above are the figure.",
            "",
        ]
    else:
        lines += [f"**registration {rows[1]['median'] * 1000:.1f} ms = {rows[1]['median'] / base:.2f}x a bare "
                  "connection round trip**", ""]
    lines += [
        f"(a) In process, median of {args.repeats} interleaved repeats:",
        "",
        "| step | median (ms) | worst (ms) | n | ratio to baseline |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(f"| {row['name']} | {row['median'] * 1000:.1f} | {row['max'] * 1000:.1f} | {row['n']} | "
                     f"{row['median'] / base:.2f} |")
    command = f".venv/bin/python bench/registry_overhead.py --repeats {args.repeats}"
    if args.cluster:
        command += f" --cluster --trials {args.trials}"
    lines += ["", f"Command: `source tools/env.sh && {command}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--cluster", action="store_true", help="also measure pulumi up on the local cluster")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args(argv)
    rows = in_process(args.repeats)
    cluster = with_cluster(args.trials) if args.cluster else None
    text = render(rows, cluster, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
