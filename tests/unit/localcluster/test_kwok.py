import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tools.localcluster.kwok import (
    CRD_KINDS,
    JQ_READY_NOW,
    JQ_READY_WANTED,
    RUNNER_LABEL,
    kwok_argv,
    our_stages,
    pod_start_stage,
    render_config,
)
from tools.localcluster.layout import Layout

UPSTREAM = ["apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: node-initialize\n"]


def docs(text):
    return list(yaml.safe_load_all(text))


def test_config_has_upstream_and_our_stages_and_the_fallback_forward_and_logs(tmp_path):
    config = docs(render_config(UPSTREAM, 28000, tmp_path / "sim.cri.log", tmp_path))
    names = [(d["kind"], d["metadata"]["name"]) for d in config]
    assert names == [("Stage", "node-initialize"), ("Stage", "pod-start"), ("Stage", "pod-start-runner"),
                     ("Stage", "pod-ready"), ("Stage", "pod-unready"), ("ClusterPortForward", "vllm-sim"),
                     ("ClusterLogs", "vllm-sim"), ("ClusterExec", "local")]
    forward = config[5]["spec"]["forwards"][0]
    assert forward == {"ports": [8000], "target": {"address": "127.0.0.1", "port": 28000}}
    assert config[6]["spec"]["logs"][0]["logsFile"] == str(tmp_path / "sim.cri.log")


def test_upstream_pod_ready_is_not_used(tmp_path):
    """Upstream's pod-ready sets every readiness gate True: ours must be the only pod-ready."""
    config = docs(render_config(UPSTREAM, 1, tmp_path / "x", tmp_path))
    assert [d["metadata"]["name"] for d in config].count("pod-ready") == 1
    assert "readinessGates" not in pod_start_stage(False) + pod_start_stage(True)


def test_pod_start_stages_split_pods_by_the_runner_label():
    key, value = RUNNER_LABEL
    plain, runner = (yaml.safe_load(pod_start_stage(r)) for r in (False, True))
    label_expr = f'.metadata.labels["{key}"]'
    assert {"key": label_expr, "operator": "NotIn", "values": [value]} in plain["spec"]["selector"]["matchExpressions"]
    assert {"key": label_expr, "operator": "In", "values": [value]} in runner["spec"]["selector"]["matchExpressions"]
    assert "ready: true" in plain["spec"]["next"]["statusTemplate"]
    assert "ready: false" in runner["spec"]["next"]["statusTemplate"]


def test_every_stage_parses_and_selects_pods():
    for text in our_stages():
        stage = yaml.safe_load(text)
        assert stage["spec"]["resourceRef"] == {"apiGroup": "v1", "kind": "Pod"}
        assert {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"} in \
            stage["spec"]["selector"]["matchExpressions"]


def test_kwok_enables_the_crds_the_runner_creates():
    argv = kwok_argv(Layout(Path("/r")), 26250)
    assert f"--enable-crds={','.join(CRD_KINDS)}" in argv and "--server-address=127.0.0.1:26250" in argv
    assert "--config=/r/.state/cluster/kwok.yaml" in argv


# The readiness rule itself, evaluated by jq (kwok evaluates it with gojq, the same language).
jq = shutil.which("jq")


def evaluate(expr: str, pod: dict) -> bool:
    out = subprocess.run([jq, "-c", expr], input=json.dumps(pod), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def pod(containers_ready, gates=(), conditions=()):
    return {
        "spec": {"containers": [{"name": f"c{i}"} for i in range(len(containers_ready))],
                 "readinessGates": [{"conditionType": g} for g in gates]},
        "status": {"containerStatuses": [{"name": f"c{i}", "ready": r} for i, r in enumerate(containers_ready)],
                   "conditions": [{"type": t, "status": s} for t, s in conditions]},
    }


@pytest.mark.skipif(jq is None, reason="jq not installed")
@pytest.mark.parametrize("case,wanted", [
    (pod([True]), True),
    (pod([True, False]), False),
    (pod([]), False),  # no container status yet
    (pod([True], gates=["verified"]), False),  # the gate's condition does not exist yet
    (pod([True], gates=["verified"], conditions=[("verified", "False")]), False),
    (pod([True], gates=["verified"], conditions=[("verified", "True")]), True),
    (pod([False], gates=["verified"], conditions=[("verified", "True")]), False),
    (pod([True], gates=["a", "b"], conditions=[("a", "True"), ("b", "False")]), False),
    (pod([True], gates=["a", "b"], conditions=[("a", "True"), ("b", "True")]), True),
])
def test_ready_is_all_containers_ready_and_every_gate_true(case, wanted):
    assert evaluate(JQ_READY_WANTED, case) is wanted


@pytest.mark.skipif(jq is None, reason="jq not installed")
def test_a_pod_without_readiness_gates_field():
    case = pod([True])
    del case["spec"]["readinessGates"]
    assert evaluate(JQ_READY_WANTED, case) is True


@pytest.mark.skipif(jq is None, reason="jq not installed")
def test_ready_now_reads_the_ready_condition():
    assert evaluate(JQ_READY_NOW, pod([True], conditions=[("Ready", "True")])) is True
    assert evaluate(JQ_READY_NOW, pod([True], conditions=[("Ready", "False")])) is False
    assert evaluate(JQ_READY_NOW, {"status": {}}) is False
