"""kwok's configuration: which stages drive nodes and pods, where port-forward and logs go, and its flags.

Pods follow our own stages instead of upstream's ``pod-ready`` (which marks every pod Ready at once and
sets every readiness gate True):

- ``pod-start`` / ``pod-start-runner``: a scheduled Pending pod becomes Running. Its containers are ready
  at once, except in pods the pod runner gives a process to (label ``RUNNER_LABEL``): those containers
  start not ready and the runner marks them ready when the process answers its health check.
- ``pod-ready`` / ``pod-unready``: the kubelet's rule, kept true on every change of the pod: Ready is
  True exactly when every container is ready and every ``spec.readinessGates`` condition is True in
  ``status.conditions``. So patching a gate's condition through pods/status makes the pod Ready (and
  adds it to its Service's endpoints); patching it False takes it out again.

Upstream's node stages and ``pod-complete`` / ``pod-delete`` are used as they are (tools/build copies them).
"""

from __future__ import annotations

from pathlib import Path

from .layout import HOST, POD_CIDR, SIM_CONTAINER_PORT, Layout
from .processes import ClusterError

UPSTREAM_STAGES = ("node-initialize.yaml", "node-heartbeat-with-lease.yaml", "pod-complete.yaml",
                   "pod-delete.yaml")
# kwok CRDs we create objects of at run time (one PortForward and one Logs per runner pod).
CRD_KINDS = ("PortForward", "Logs")
CRD_NAMES = ("portforwards.kwok.x-k8s.io", "logs.kwok.x-k8s.io")
CRD_FILES = tuple(f"kwok.x-k8s.io_{name.split('.')[0]}.yaml" for name in CRD_NAMES)
# Pods the pod runner gives a process of their own: the chart's pods (and test pods shaped like them).
RUNNER_LABEL = ("app.kubernetes.io/name", "vllm")

# jq (kwok's selector language). Each yields true or false for a pod.
JQ_CONTAINERS_READY = (
    '((.status.containerStatuses // []) as $cs | (($cs | length) > 0)'
    ' and (($cs | length) == ((.spec.containers // []) | length)) and ([$cs[].ready] | all))'
)
JQ_GATES_TRUE = (
    '(. as $p | [(.spec.readinessGates // [])[] | .conditionType as $t'
    ' | any(($p.status.conditions // [])[]; .type == $t and .status == "True")] | all)'
)
JQ_READY_WANTED = f"({JQ_CONTAINERS_READY} and {JQ_GATES_TRUE})"
JQ_READY_NOW = 'any((.status.conditions // [])[]; .type == "Ready" and .status == "True")'


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _stage(name: str, expressions: list[tuple[str, str, list[str]]], template: str) -> str:
    lines = ["apiVersion: kwok.x-k8s.io/v1alpha1", "kind: Stage", "metadata:", f"  name: {name}", "spec:",
             "  resourceRef:", "    apiGroup: v1", "    kind: Pod", "  selector:", "    matchExpressions:"]
    for key, op, values in expressions:
        lines.append(f"    - key: '{key}'")
        lines.append(f"      operator: {op}")
        if values:
            lines.append("      values: [" + ", ".join(f"'{v}'" for v in values) + "]")
    lines += ["  next:", "    statusTemplate: |", _indent(template.strip("\n"), 6)]
    return "\n".join(lines)


NOT_DELETED = (".metadata.deletionTimestamp", "DoesNotExist", [])


def pod_start_stage(runner_pods: bool) -> str:
    """Pending -> Running; containers ready at once, or (runner pods) not until the runner says so."""
    label_key, label_value = RUNNER_LABEL
    ready = "false" if runner_pods else "true"
    containers_ready = "False" if runner_pods else "True"
    template = f"""
{{{{ $now := Now }}}}
conditions:
- type: Initialized
  status: "True"
  lastTransitionTime: {{{{ $now | Quote }}}}
- type: ContainersReady
  status: "{containers_ready}"
  lastTransitionTime: {{{{ $now | Quote }}}}
- type: Ready
  status: "False"
  reason: ContainersNotReady
  lastTransitionTime: {{{{ $now | Quote }}}}
containerStatuses:
{{{{ range .spec.containers }}}}
- name: {{{{ .name | Quote }}}}
  image: {{{{ .image | Quote }}}}
  imageID: ""
  ready: {ready}
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{{{ $now | Quote }}}}
{{{{ end }}}}
initContainerStatuses:
{{{{ range .spec.initContainers }}}}
- name: {{{{ .name | Quote }}}}
  image: {{{{ .image | Quote }}}}
  imageID: ""
  ready: true
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{{{ $now | Quote }}}}
      finishedAt: {{{{ $now | Quote }}}}
{{{{ end }}}}
{{{{ with NodeIPsWith .spec.nodeName }}}}
hostIP: {{{{ index . 0 | Quote }}}}
hostIPs:
{{{{ range . }}}}
- ip: {{{{ . | Quote }}}}
{{{{ end }}}}
{{{{ end }}}}
{{{{ $m := .metadata }}}}
{{{{ with PodIPsWith .spec.nodeName (or .spec.hostNetwork false) (or $m.uid "") (or $m.name "") (or $m.namespace "")}}}}
podIP: {{{{ index . 0 | Quote }}}}
podIPs:
{{{{ range . }}}}
- ip: {{{{ . | Quote }}}}
{{{{ end }}}}
{{{{ end }}}}
phase: Running
startTime: {{{{ $now | Quote }}}}
"""
    selector = [NOT_DELETED, (".status.phase", "In", ["Pending"]), (".spec.nodeName", "Exists", []),
                (f'.metadata.labels["{label_key}"]', "In" if runner_pods else "NotIn", [label_value])]
    return _stage("pod-start-runner" if runner_pods else "pod-start", selector, template)


def pod_ready_stage() -> str:
    """Running, not Ready, but every container ready and every readiness gate True -> Ready."""
    template = """
{{ $now := Now }}
conditions:
- type: ContainersReady
  status: "True"
  reason: ""
  message: ""
  lastTransitionTime: {{ $now | Quote }}
- type: Ready
  status: "True"
  reason: ""
  message: ""
  lastTransitionTime: {{ $now | Quote }}
"""
    selector = [NOT_DELETED, (".status.phase", "In", ["Running"]), (JQ_READY_WANTED, "In", ["true"]),
                (JQ_READY_NOW, "In", ["false"])]
    return _stage("pod-ready", selector, template)


def pod_unready_stage() -> str:
    """Ready, but a container is not ready or a readiness gate is not True -> not Ready (with the reason)."""
    template = """
{{ $now := Now }}
{{ $containersReady := true }}
{{ range .status.containerStatuses }}{{ if not .ready }}{{ $containersReady = false }}{{ end }}{{ end }}
conditions:
- type: ContainersReady
  status: {{ if $containersReady }}"True"{{ else }}"False"{{ end }}
  lastTransitionTime: {{ $now | Quote }}
- type: Ready
  status: "False"
  reason: {{ if $containersReady }}ReadinessGatesNotReady{{ else }}ContainersNotReady{{ end }}
  lastTransitionTime: {{ $now | Quote }}
"""
    selector = [NOT_DELETED, (".status.phase", "In", ["Running"]), (JQ_READY_WANTED, "In", ["false"]),
                (JQ_READY_NOW, "In", ["true"])]
    return _stage("pod-unready", selector, template)


def our_stages() -> list[str]:
    return [pod_start_stage(False), pod_start_stage(True), pod_ready_stage(), pod_unready_stage()]


def render_config(upstream_stages: list[str], sim_port: int, sim_cri_log: Path, exec_dir: Path) -> str:
    """kwok's --config: stages, a fallback port-forward of every pod's port 8000 to the shared simulator
    (runner pods get their own PortForward), the shared simulator's log as every pod's log, local exec."""
    docs = [s.strip() for s in upstream_stages] + our_stages()
    docs.append(f"""apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: vllm-sim
spec:
  forwards:
  - ports: [{SIM_CONTAINER_PORT}]
    target:
      address: {HOST}
      port: {sim_port}""")
    docs.append(f"""apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: vllm-sim
spec:
  logs:
  - logsFile: {sim_cri_log}
    follow: true""")
    docs.append(f"""apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: local
spec:
  execs:
  - local:
      workDir: {exec_dir}""")
    return "\n---\n".join(docs) + "\n"


def read_upstream_stages(layout: Layout) -> list[str]:
    missing = [n for n in UPSTREAM_STAGES if not (layout.stages / n).exists()]
    if missing:
        raise ClusterError(f"kwok stage configs missing in {layout.stages}: {missing} (run tools/build kwok)")
    return [(layout.stages / n).read_text() for n in UPSTREAM_STAGES]


def crd_paths(layout: Layout) -> list[Path]:
    missing = [n for n in CRD_FILES if not (layout.crds / n).exists()]
    if missing:
        raise ClusterError(f"kwok CRDs missing in {layout.crds}: {missing} (run tools/build kwok)")
    return [layout.crds / n for n in CRD_FILES]


def kwok_argv(layout: Layout, port: int) -> list[str]:
    """kwok: kubelet API with TLS on 127.0.0.1:<port>, fake pod IPs from a loopback range."""
    pki = layout.pki
    return [
        str(layout.bin / "kwok"), f"--kubeconfig={layout.kubeconfig_of('kwok')}",
        f"--config={layout.state / 'kwok.yaml'}",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--node-ip={HOST}", f"--node-port={port}", f"--server-address={HOST}:{port}",
        f"--tls-cert-file={pki / 'kwok-serving.crt'}", f"--tls-private-key-file={pki / 'kwok-serving.key'}",
        f"--cidr={POD_CIDR}", "--node-lease-duration-seconds=40", f"--enable-crds={','.join(CRD_KINDS)}",
    ]
