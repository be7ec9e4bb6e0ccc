"""Scheduler-like GPU fit maths over plain Kubernetes JSON (camelCase dicts); no I/O.

A pod fits a node when the node matches the pod's node selector, is Ready, is not cordoned, carries no
NoSchedule/NoExecute taint the pod does not tolerate, and its free GPUs (allocatable minus the requests
of the non-terminal pods bound to it) cover the pod's request. Pods of the release itself are not counted
as taking GPUs in the recreate rollout: on an update they make room for their replacements. In the verified
rollout the release's serving (Ready) pods keep their GPUs until a verified new pod replaces them, so an update
needs room for the surge pod beside them. Nor are the pods of the release this
update replaces (``GpuNeed.replacing``: the previous name/namespace after a rename or a namespace move),
because the Helm release is deleted before its replacement is created.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.presets import (
    GPU_NODE_SELECTOR,
    GPU_RESOURCE,
    ROLLOUT_RECREATE,
    ROLLOUT_SURGE_PODS,
    RolloutSetting,
)
from components.quantity import parse_quantity

__all__ = [
    "CapacityReport",
    "GpuNeed",
    "NodeCapacity",
    "assess_capacity",
    "describe_need",
    "gpu_quantity",
    "parse_quantity",
    "pod_request",
    "describe_rollout_need",
    "render_table",
    "rollout_choice",
    "toleration_tolerates",
]

INSTANCE_LABEL = "app.kubernetes.io/instance"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class GpuNeed(RolloutSetting):
    """What the deployment needs: ``replicas`` pods of ``gpus_per_pod`` GPUs, each on one node."""

    replicas: int
    gpus_per_pod: int
    gpu_resource: str = GPU_RESOURCE
    node_selector: Mapping[str, str] = field(default_factory=lambda: dict(GPU_NODE_SELECTOR))
    tolerations: Sequence[Mapping[str, Any]] = ()
    namespace: str = ""
    release_name: str = ""
    allow_node_autoscaling: bool = False
    replacing: tuple[tuple[str, str], ...] = ()
    """(namespace, release name) of releases this update deletes first: their GPUs count as free."""
    node_group_gpus: int = 0
    """With ``allow_node_autoscaling``: GPUs of a node the autoscaler adds for the selector (0: not declared)."""
    rollout: str = ROLLOUT_RECREATE
    """recreate: the release's pods count as free (an update deletes them first). verified: the release's serving
    (Ready) pods keep their GPUs during an update, and ``surge_pods`` extra pods must fit beside them."""
    surge_pods: int = ROLLOUT_SURGE_PODS


@dataclass(frozen=True)
class NodeCapacity:
    """One node as the scheduler sees it for this need; ``excluded_reason`` is None when pods may land on it."""

    name: str
    ready: bool
    cordoned: bool
    untolerated_taints: tuple[str, ...]
    allocatable: int
    requested: int
    free: int
    excluded_reason: str | None
    gpu_labelled_without_gpus: bool
    matches_selector: bool = True
    held_by_release: int = 0
    plain_untolerated_taints: tuple[str, ...] = ()
    """Untolerated taints other than cordon/NotReady/unreachable: the pods never land on such nodes."""

    def pods_that_fit(self, gpus_per_pod: int) -> int:
        """How many pods of ``gpus_per_pod`` GPUs this node can still take."""
        if self.excluded_reason is not None or gpus_per_pod <= 0:
            return 0
        return self.free // gpus_per_pod


@dataclass(frozen=True)
class CapacityReport:
    """The cluster against one need: per-node capacity, replicas placeable now, and whether it can ever fit."""

    need: GpuNeed
    nodes: tuple[NodeCapacity, ...]
    placeable_replicas: int
    impossible_reason: str | None
    serving_release_pods: int = 0
    """verified rollout: the release's Ready pods, whose GPUs stay taken while the update surges."""

    @property
    def pods_needed(self) -> int:
        """New pods that must fit now: all replicas, or in a verified update the missing ones plus the surge."""
        need = self.need
        if not need.verified_rollout or self.serving_release_pods == 0:
            return need.replicas
        return max(need.replicas - self.serving_release_pods, 0) + need.surge_pods

    @property
    def rollout_update(self) -> bool:
        """A verified update: the release serves already, so its pods stay while the surge pod(s) load."""
        return self.need.verified_rollout and self.serving_release_pods > 0

    @property
    def satisfied(self) -> bool:
        """Enough room now, or (node autoscaling) a node the autoscaler adds would fit each missing pod."""
        return self.placeable_replicas >= self.pods_needed or self.autoscaler_node_gpus >= self.need.gpus_per_pod > 0

    @property
    def waits_for_autoscaler(self) -> int:
        """Pods that go Pending until the node autoscaler adds nodes (0 without autoscaling)."""
        return 0 if self.placeable_replicas >= self.pods_needed else self.pods_needed - self.placeable_replicas

    @property
    def autoscaler_node_gpus(self) -> int:
        """GPUs of the largest node the autoscaler is known to add for this need; 0 when none is known.

        Autoscalers add nodes only for Pending pods, and pods exist only once the gate passed, so the gate passes
        when such a node would fit a pod. Known nodes of the group: the declared ``node_group_gpus`` (scale from
        zero), or an existing node that matches the selector and whose taints the pods tolerate (cordoned or
        NotReady nodes count: they show the group's shape). A fuller node group, or one at its maximum size,
        leaves the pods Pending: the verification's Unschedulable grace then fails with the scheduler's message.
        """
        if not self.need.allow_node_autoscaling:
            return 0
        shapes = [n.allocatable for n in self.nodes if n.matches_selector and not n.plain_untolerated_taints]
        return max([self.need.node_group_gpus, *shapes])

    @property
    def nodes_without_device_plugin(self) -> tuple[str, ...]:
        """GPU-labelled nodes that report no GPUs: the device plugin is probably not ready yet."""
        return tuple(n.name for n in self.nodes if n.gpu_labelled_without_gpus)

    def fingerprint(self) -> tuple:
        """Equal for two reports that would print the same progress: used to log only on change."""
        return (self.placeable_replicas, self.pods_needed, self.impossible_reason) + tuple(
            (n.name, n.free, n.allocatable, n.excluded_reason) for n in self.nodes if n.matches_selector
        )


# --- quantities -------------------------------------------------------------------------------------------


def gpu_quantity(value: Any, *, round_up: bool = False) -> int:
    """A GPU count from a quantity; fractions round down (capacity) or up (requests); malformed -> 0."""
    if value is None:
        return 0
    try:
        amount = parse_quantity(value)
    except ValueError:
        return 0
    whole = math.ceil(amount) if round_up else math.floor(amount)
    return max(int(whole), 0)


# --- pods -------------------------------------------------------------------------------------------------


def _container_request(container: Mapping[str, Any], resource: str) -> int:
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    # The API server defaults requests to limits for extended resources; raw manifests may only set limits.
    amount = requests.get(resource, (resources.get("limits") or {}).get(resource))
    return gpu_quantity(amount, round_up=True)


def pod_request(pod: Mapping[str, Any], resource: str) -> int:
    """The pod's request as the scheduler computes it: containers summed, max over init containers, plus overhead.

    Restartable init containers (sidecars, ``restartPolicy: Always``) keep running, so they add to the
    containers and to every init container started after them.
    """
    spec = pod.get("spec") or {}
    containers = sum(_container_request(c, resource) for c in spec.get("containers") or [])
    sidecars = 0
    init_peak = 0
    for init in spec.get("initContainers") or []:
        amount = _container_request(init, resource)
        if init.get("restartPolicy") == "Always":
            sidecars += amount
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, sidecars + amount)
    overhead = gpu_quantity((spec.get("overhead") or {}).get(resource), round_up=True)
    return max(containers + sidecars, init_peak) + overhead


def _is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def _serving(pod: Mapping[str, Any]) -> bool:
    """Ready and not being deleted: a pod that serves now and keeps its GPUs through a verified update."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _belongs_to_release(pod: Mapping[str, Any], need: GpuNeed) -> bool:
    """The pod is the release's own, or of a release this update deletes before creating its replacement."""
    metadata = pod.get("metadata") or {}
    instance = (metadata.get("labels") or {}).get(INSTANCE_LABEL)
    releases = ((need.namespace, need.release_name), *need.replacing)
    return any(name and metadata.get("namespace") == namespace and instance == name for namespace, name in releases)


# --- nodes ------------------------------------------------------------------------------------------------


def _ready_status(node: Mapping[str, Any]) -> str:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status", "Unknown"))
    return "Unknown"


def _effective_taints(node: Mapping[str, Any]) -> list[dict]:
    """The node's taints plus the ones the node controllers add for cordoned and NotReady nodes."""
    taints = [dict(t) for t in (node.get("spec") or {}).get("taints") or []]
    present = {(t.get("key"), t.get("effect")) for t in taints}

    def add(key: str) -> None:
        if (key, "NoSchedule") not in present:
            taints.append({"key": key, "effect": "NoSchedule"})

    if (node.get("spec") or {}).get("unschedulable"):
        add(UNSCHEDULABLE_TAINT)
    status = _ready_status(node)
    if status == "False":
        add(NOT_READY_TAINT)
    elif status != "True":
        add(UNREACHABLE_TAINT)
    return taints


def toleration_tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Kubernetes' rule: effects match (empty = all), keys match (empty key with Exists = all), values for Equal."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated(taints: Iterable[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]]) -> list[dict]:
    return [
        dict(t)
        for t in taints
        if t.get("effect") in BLOCKING_EFFECTS and not any(toleration_tolerates(tol, t) for tol in tolerations)
    ]


def _taint_text(taint: Mapping[str, Any]) -> str:
    value = taint.get("value")
    return f"{taint.get('key')}{'=' + str(value) if value else ''}:{taint.get('effect')}"


def _matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _gpu_labelled(labels: Mapping[str, str], need: GpuNeed) -> bool:
    """Labelled as a GPU node: matches a non-empty GPU node selector, or carries GPU feature-discovery labels."""
    if need.node_selector and _matches(labels, need.node_selector):
        return True
    return any(key == need.gpu_resource or key.startswith(need.gpu_resource + ".") for key in labels)


def _assess_node(node: Mapping[str, Any], requested: int, held: int, need: GpuNeed) -> NodeCapacity:
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    allocatable_map = (node.get("status") or {}).get("allocatable") or {}
    allocatable = gpu_quantity(allocatable_map.get(need.gpu_resource))
    ready = _ready_status(node) == "True"
    cordoned = bool((node.get("spec") or {}).get("unschedulable"))
    untolerated = _untolerated(_effective_taints(node), need.tolerations)
    untolerated_keys = {t.get("key") for t in untolerated}
    matches = _matches(labels, need.node_selector)
    without_gpus = allocatable == 0 and _gpu_labelled(labels, need)

    reasons = []
    if not matches:
        reasons.append("does not match node selector " + _selector_text(need.node_selector))
    if not ready and untolerated_keys & {NOT_READY_TAINT, UNREACHABLE_TAINT}:
        reasons.append("not ready")
    if cordoned and UNSCHEDULABLE_TAINT in untolerated_keys:
        reasons.append("cordoned")
    plain = [t for t in untolerated if t.get("key") not in (UNSCHEDULABLE_TAINT, NOT_READY_TAINT, UNREACHABLE_TAINT)]
    if plain:
        reasons.append("untolerated taint " + ", ".join(_taint_text(t) for t in plain))
    if matches and allocatable == 0:
        reasons.append(
            f"reports no {need.gpu_resource}: device plugin not ready?" if without_gpus else f"no {need.gpu_resource}"
        )
    return NodeCapacity(
        name=str(metadata.get("name", "")),
        ready=ready,
        cordoned=cordoned,
        untolerated_taints=tuple(_taint_text(t) for t in untolerated),
        allocatable=allocatable,
        requested=requested,
        free=max(allocatable - requested, 0),
        excluded_reason="; ".join(reasons) or None,
        gpu_labelled_without_gpus=without_gpus,
        matches_selector=matches,
        held_by_release=held,
        plain_untolerated_taints=tuple(_taint_text(t) for t in plain),
    )


# --- the assessment ---------------------------------------------------------------------------------------


def assess_capacity(
    nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]], need: GpuNeed
) -> CapacityReport:
    """How many of the needed pods the cluster can place now, per node, and whether it never can."""
    requested: dict[str, int] = {}
    held: dict[str, int] = {}
    serving = 0
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or _is_terminal(pod):
            continue
        amount = pod_request(pod, need.gpu_resource)
        ours = _belongs_to_release(pod, need)
        own = (pod.get("metadata") or {}).get("namespace") == need.namespace and \
            ((pod.get("metadata") or {}).get("labels") or {}).get(INSTANCE_LABEL) == need.release_name
        if ours and own and need.verified_rollout and _serving(pod):
            serving += 1  # keeps serving (and its GPUs) until a verified new pod replaces it; a replaced release
            # (``need.replacing``) is deleted first, so its pods stay free
            ours = False
        target = held if ours else requested
        target[node_name] = target.get(node_name, 0) + amount

    assessed = []
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name", ""))
        assessed.append(_assess_node(node, requested.get(name, 0), held.get(name, 0), need))
    assessed.sort(key=lambda n: (not n.matches_selector, n.excluded_reason is not None, n.name))
    placeable = sum(n.pods_that_fit(need.gpus_per_pod) for n in assessed)
    return CapacityReport(
        need=need,
        nodes=tuple(assessed),
        placeable_replicas=placeable,
        impossible_reason=_impossible_reason(assessed, need, serving),
        serving_release_pods=serving,
    )


def _impossible_reason(nodes: Sequence[NodeCapacity], need: GpuNeed, serving: int = 0) -> str | None:
    """Why the need can never be met by the nodes that exist, or None while it still might be.

    A node autoscaler may add nodes of any shape, and a GPU node whose device plugin is not ready yet will
    report its GPUs later: in both cases nothing is impossible yet. Cordons, taints and NotReady can be
    lifted, so only the hardware (allocatable GPUs of the matching nodes) decides.
    """
    if need.replicas <= 0 or need.gpus_per_pod <= 0:
        return None
    if need.allow_node_autoscaling:
        if 0 < need.node_group_gpus < need.gpus_per_pod and not any(
                n.matches_selector and n.allocatable >= need.gpus_per_pod for n in nodes):
            return (f"each pod needs {need.gpus_per_pod} {need.gpu_resource} but the autoscaler's node group adds "
                    f"nodes of {need.node_group_gpus}")
        return None
    matching = [n for n in nodes if n.matches_selector]
    selector = _selector_text(need.node_selector)
    if not matching:
        return f"no node matches node selector {selector} ({len(nodes)} nodes in the cluster)"
    if any(n.gpu_labelled_without_gpus for n in matching):
        return None
    largest = max(n.allocatable for n in matching)
    if need.gpus_per_pod > largest:
        return (
            f"each pod needs {need.gpus_per_pod} {need.gpu_resource} but the largest node matching {selector} "
            f"has {largest} allocatable"
        )
    slots_when_empty = sum(n.allocatable // need.gpus_per_pod for n in matching)
    if need.verified_rollout and serving > 0 and slots_when_empty < need.replicas + need.surge_pods:
        return (
            f"the verified rollout runs {need.replicas} serving pod{'s' if need.replicas != 1 else ''} plus "
            f"{need.surge_pods} new pod at once, {need.gpus_per_pod} {need.gpu_resource} each on one node, but even "
            f"with every node matching {selector} empty only {slots_when_empty} fit"
        )
    if slots_when_empty < need.replicas:
        return (
            f"{need.replicas} pods of {need.gpus_per_pod} {need.gpu_resource} need one node each, but even with "
            f"every node matching {selector} empty only {slots_when_empty} fit"
        )
    return None


# --- text -------------------------------------------------------------------------------------------------


def describe_rollout_need(report: CapacityReport) -> str:
    """'rollout needs 1 extra pod of 2 nvidia.com/gpu (1 serving pod keeps its GPUs)' for a verified update."""
    need = report.need
    extra = report.pods_needed
    return (
        f"rollout needs {extra} extra pod{'s' if extra != 1 else ''} of {need.gpus_per_pod} {need.gpu_resource} "
        f"({report.serving_release_pods} serving pod{'s' if report.serving_release_pods != 1 else ''} of release "
        f"{need.namespace}/{need.release_name} keep{'s' if report.serving_release_pods == 1 else ''} its GPUs until "
        f"a verified new pod replaces it)"
    )


def rollout_choice(report: CapacityReport | None) -> str:
    """For a verified update that cannot get its surge GPUs: the two ways out (empty otherwise)."""
    if report is None or not report.rollout_update:
        return ""
    need = report.need
    return (
        f"The verified rollout keeps the model serving during the update, so it needs "
        f"{need.gpus_per_pod} {need.gpu_resource} free on one node matching {_selector_text(need.node_selector)} "
        f"for the new pod. Choose: add GPU capacity (or free GPUs held by other workloads), or set "
        f"vllm-deploy:release.rollout: recreate and accept downtime: the serving pods are deleted before the new "
        f"revision loads."
    )


def _selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "(none)"


def describe_need(need: GpuNeed, *, with_release: bool = True) -> str:
    """'2 pods x 1 nvidia.com/gpu on nodes node-type=gpu' (plus the release whose pods count as free)."""
    if need.verified_rollout:
        text = (
            f"{need.replicas} pod{'s' if need.replicas != 1 else ''} x {need.gpus_per_pod} {need.gpu_resource} "
            f"on nodes {_selector_text(need.node_selector)}, verified rollout (+{need.surge_pods} surge pod)"
        )
        if with_release and need.release_name:
            text += f" (serving pods of release {need.namespace}/{need.release_name} keep their GPUs)"
        return text
    text = (
        f"{need.replicas} pod{'s' if need.replicas != 1 else ''} x {need.gpus_per_pod} {need.gpu_resource} "
        f"on nodes {_selector_text(need.node_selector)}"
    )
    if with_release and need.release_name:
        releases = ", ".join(f"{ns}/{name}" for ns, name in ((need.namespace, need.release_name), *need.replacing))
        text += f" (GPUs of release{'s' if need.replacing else ''} {releases} count as free)"
    return text


def render_table(report: CapacityReport, *, max_rows: int = 50) -> str:
    """A per-node table: node, ready, cordoned, untolerated taints, allocatable, requested, free, why excluded."""
    header = ("NODE", "READY", "CORDONED", "UNTOLERATED TAINTS", "ALLOCATABLE", "REQUESTED", "FREE", "WHY EXCLUDED")
    per_pod = report.need.gpus_per_pod
    rows = []
    for node in report.nodes[:max_rows]:
        requested = str(node.requested) + (f" (+{node.held_by_release} release)" if node.held_by_release else "")
        fits = node.pods_that_fit(per_pod)
        why = node.excluded_reason or f"- (fits {fits} pod{'s' if fits != 1 else ''})"
        rows.append((
            node.name,
            "yes" if node.ready else "no",
            "yes" if node.cordoned else "no",
            ", ".join(node.untolerated_taints) or "-",
            str(node.allocatable),
            requested,
            str(node.free),
            why,
        ))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    if len(report.nodes) > max_rows:
        lines.append(f"... and {len(report.nodes) - max_rows} more nodes")
    if not report.nodes:
        lines.append("(the cluster has no nodes)")
    lines.append(
        f"placeable now: {report.placeable_replicas} of {report.pods_needed} pods "
        f"({per_pod} {report.need.gpu_resource} each)"
    )
    pending = report.nodes_without_device_plugin
    if pending:
        lines.append(
            f"GPU-labelled nodes reporting no {report.need.gpu_resource} (device plugin not ready?): "
            + ", ".join(pending)
        )
    return "\n".join(lines)
