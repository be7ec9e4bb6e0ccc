"""The chart's alert rules and dashboard queries, and a real Prometheus server for tests.

- ``render_rules``: the PrometheusRule of charts/vllm-deployment rendered by helm, as a Prometheus rule file;
- ``dashboard_queries``: every panel query of the Grafana dashboard, with its template variables filled in;
- ``metric_names``: the metric names a PromQL expression reads;
- ``PrometheusServer``: prometheus from tools/build on 127.0.0.1 with a given scrape and rule configuration,
  and a small client of its HTTP API.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "vllm-deployment"
DASHBOARD = CHART / "files" / "grafana-dashboard.json"
RULE_TESTS = ROOT / "tests" / "prometheus" / "alerts_test.yaml"

# PromQL words that look like metric names but are not (functions, aggregations, keywords).
_PROMQL_WORDS = frozenset("""
    abs absent absent_over_time and avg avg_over_time bool by ceil changes clamp count count_over_time delta deriv
    group group_left group_right histogram_quantile idelta ignoring increase irate label_replace label_values
    max max_over_time min min_over_time offset on or quantile rate resets round scalar sort stddev sum sum_over_time
    time timestamp topk unless vector without le inf nan
""".split())


def helm(*args: str) -> str:
    result = subprocess.run(
        [str(require_tool("helm")), *args], capture_output=True, text=True, check=False,
        env={"HOME": "/tmp", "HELM_CACHE_HOME": "/tmp/helm-cache", "HELM_CONFIG_HOME": "/tmp/helm-config",
             "HELM_DATA_HOME": "/tmp/helm-data", "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def render_rules(release: str, namespace: str, values: dict[str, Any] | None = None,
                 values_dir: Path = Path("/tmp")) -> dict[str, Any]:
    """The chart's PrometheusRule ``spec`` ({"groups": [...]}, a valid Prometheus rule file) for these values."""
    merged = {"serviceMonitor": {"enabled": True}, **(values or {})}
    merged["prometheusRule"] = {"enabled": True, **merged.get("prometheusRule", {})}
    path = values_dir / f"vllm-rule-values-{release}.json"
    path.write_text(json.dumps(merged))
    out = helm("template", release, str(CHART), "--namespace", namespace, "-f", str(path),
               "--show-only", "templates/prometheusrule.yaml")
    (document,) = [d for d in yaml.safe_load_all(out) if d]
    assert document["kind"] == "PrometheusRule"
    return document["spec"]


def alerting_rules(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in spec["groups"] for rule in group["rules"] if "alert" in rule]


def dashboard_queries(substitutions: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(panel title, query) of every dashboard target, with Grafana variables replaced (defaults: match all)."""
    values = {"$__rate_interval": "5m", "$namespace": ".*", "$model_name": ".*", **(substitutions or {})}
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable in sorted(values, key=len, reverse=True):
                expr = expr.replace(variable, values[variable])
            queries.append((panel["title"], expr))
    return queries


def metric_names(expr: str) -> set[str]:
    """Metric names read by a PromQL expression (selectors such as ``vllm:x_bucket{...}`` or bare ``up``)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values and strings never name metrics
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)  # nor do label names inside matchers
    stripped = re.sub(r"\[[^\]]*\]", "[]", stripped)  # nor range durations
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", stripped)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped):
        if match.start() and (stripped[match.start() - 1].isdigit() or stripped[match.start() - 1] == "."):
            continue  # part of a number such as 1e3
        if stripped[match.end():].lstrip().startswith("("):
            continue  # a function or aggregation
        if match.group() not in _PROMQL_WORDS:
            names.add(match.group())
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    """A real prometheus on 127.0.0.1:<free port>; ``stop()`` (or the context manager) ends it."""

    def __init__(self, directory: Path, scrape_configs: list[dict[str, Any]], rules: dict[str, Any] | None = None,
                 scrape_interval: str = "1s", evaluation_interval: str = "1s"):
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config: dict[str, Any] = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval,
                       "scrape_timeout": scrape_interval},
            "scrape_configs": scrape_configs,
        }
        if rules is not None:
            (directory / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
            config["rule_files"] = [str(directory / "rules.yaml")]
        self.config_path = directory / "prometheus.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = directory / "prometheus.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0, progress: Callable[[str], None] = print) -> PrometheusServer:
        binary = require_tool("prometheus")
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(binary), f"--config.file={self.config_path}", f"--storage.tsdb.path={self.directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
        )
        self.wait_until(lambda: self._ready(), "prometheus /-/ready", timeout, progress)
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited ({self.process.returncode}):\n{self.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns ``data``; raises with Prometheus' error text on an error status."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PromQLError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def wait_until(self, condition: Callable[[], Any], what: str, timeout: float,
                   progress: Callable[[str], None] = print, interval: float = 1.0) -> Any:
        """Poll ``condition`` (Prometheus has no change feed for these) until truthy; progress every 10 s."""
        started = time.monotonic()
        last_report = started
        while True:
            value = condition()
            if value:
                return value
            now = time.monotonic()
            if now - started > timeout:
                raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")
            if now - last_report >= 10:
                progress(f"waiting for {what}: not yet after {now - started:.0f}s; next check in {interval:g}s")
                last_report = now
            time.sleep(interval)


class PromQLError(RuntimeError):
    """Prometheus answered a query or API call with an error."""
