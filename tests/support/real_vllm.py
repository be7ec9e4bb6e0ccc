"""The real vLLM (CPU build from tools/vllm-env) for tests: locate the cached environment, read the metric names
the chart uses and the ones a scrape holds. The pod runner (tools/localcluster, engine vllm) starts the server."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VLLM_ENV = ROOT / "tools" / "vllm-env"
CHART = ROOT / "charts" / "vllm-deployment"
METRIC = re.compile(r"\bvllm:[A-Za-z0-9_:]+")


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
