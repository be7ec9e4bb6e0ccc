"""Run every benchmark, then summarise bench/results/ in bench/results/README.md.

    python -m bench [--quick] [--only NAME ...]      (`make bench` runs it inside `source tools/env.sh`)

Each benchmark runs as a subprocess with its own command line and writes its own results file; a failing
benchmark does not stop the others (the exit status is non-zero and the summary says so). ``--quick`` uses
fewer trials (a smoke run; the results files say how many trials they come from).
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    results: str
    what: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]


BENCHMARKS = (
    Benchmark("pulumi_overhead", "bench/pulumi_overhead.py", "pulumi.md",
              "pulumi preview / no-op up of our program vs a bare helm.v3.Release",
              ("--trials", "9"), ("--trials", "2")),
    Benchmark("gpu_gate_reaction", "bench/gpu_gate_reaction.py", "gpu_gate.md",
              "GPU gate reaction to freed GPUs vs a backoff polling loop",
              ("--trials", "20", "--initial", "5", "--cap", "60", "--max-delay", "5"),
              ("--trials", "5", "--initial", "5", "--cap", "60", "--max-delay", "5")),
    Benchmark("verification_overhead", "bench/verification_overhead.py", "verification.md",
              "post-deploy verification vs the bare requests it makes",
              ("--latency", "0.1", "--samples", "20", "--warmup", "2", "--repeats", "5", "--cluster"),
              ("--latency", "0.1", "--samples", "20", "--warmup", "2", "--repeats", "2", "--cluster")),
    Benchmark("registry_overhead", "bench/registry_overhead.py", "registry.md",
              "time the model registry adds to pulumi up (registry on vs off) and registration vs a bare round trip",
              ("--repeats", "30", "--cluster", "--trials", "3"), ("--repeats", "10", "--cluster", "--trials", "1")),
)


def key_figure(benchmark: Benchmark, text: str) -> str:
    """The headline ratio of a results file (its first bold line, or for verification the wall/baseline)."""
    if benchmark.name == "verification_overhead":
        ratios = re.findall(r"^\| (verify_deployment, direct|run_http_checks, direct) \|.*\| ([\d.]+) \|$", text,
                            re.MULTILINE)
        verdict = re.search(r"under the ([\d.]+ s) target: (\w+)", text)
        if ratios:
            figures = ", ".join(f"{name} {float(ratio):.2f}x" for name, ratio in ratios)
            target = f"; every run under the {verdict.group(1)} overhead target: {verdict.group(2)}" if verdict else ""
            return f"wall / bare requests: {figures}{target}"
    bold = re.search(r"^\*\*(.+?)\*\*$", text, re.MULTILINE)
    return bold.group(1).rstrip(".") if bold else "(no headline figure found; see the file)"


def run_date(text: str) -> str:
    found = re.search(r"(?:Run|Measured) (\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2})", text)
    return found.group(1).replace("T", " ") if found else "?"


def summary(outcomes: dict[str, tuple[int, float]], quick: bool) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (`make bench`); each benchmark's file has its table, method, command, date",
        "and machine. One line per benchmark: the headline ratio, measured within one run of that benchmark.",
        "",
        "| benchmark | what | key figure | measured | file |",
        "| --- | --- | --- | --- | --- |",
    ]
    for benchmark in BENCHMARKS:
        path = RESULTS / benchmark.results
        text = path.read_text() if path.exists() else ""
        figure = key_figure(benchmark, text) if text else "(no results yet)"
        status = ""
        code = outcomes.get(benchmark.name, (0, 0.0))[0]
        if code != 0:
            status = f" **failed in the last `python -m bench` (exit {code}); figures from an earlier run**"
        lines.append(f"| `{benchmark.script}` | {benchmark.what} | {figure}{status} | {run_date(text)} | "
                     f"[{benchmark.results}]({benchmark.results}) |")
    if outcomes:
        took = ", ".join(f"{name} {seconds:.0f} s" for name, (_, seconds) in outcomes.items())
        lines += ["", f"Last run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.node()}"
                      f"{' (--quick)' if quick else ''}: {took}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials (smoke run)")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS], help="run only these")
    args = parser.parse_args(argv)

    outcomes: dict[str, tuple[int, float]] = {}
    for benchmark in BENCHMARKS:
        if args.only and benchmark.name not in args.only:
            continue
        command = [sys.executable, str(ROOT / benchmark.script),
                   *(benchmark.quick_args if args.quick else benchmark.args)]
        print(f"=== {benchmark.name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        returncode = subprocess.run(command, cwd=ROOT).returncode
        outcomes[benchmark.name] = (returncode, time.monotonic() - started)
        print(f"=== {benchmark.name}: exit {returncode} after {outcomes[benchmark.name][1]:.0f} s", flush=True)

    text = summary(outcomes, args.quick)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "README.md").write_text(text)
    print(text)
    return 0 if all(code == 0 for code, _ in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
