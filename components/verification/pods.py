"""Pods of the release's current revision: which they are, what state they are in, and why.

Pure functions over the API's JSON (camelCase dicts, as ``kubectl get -o json`` shows them):
- ``current_revision_pods``: Deployment(s) labelled with the release -> newest ReplicaSet by the
  ``deployment.kubernetes.io/revision`` annotation -> pods owned by it (old pods never count);
- ``assess_pod``: waiting / ready / terminal (Failed or Succeeded: replaced by the ReplicaSet) / a fatal
  signal (Unschedulable, image pull, config error, CrashLoopBackOff, OOMKilled, ...), plus warnings (an old
  OOM kill of a container that runs again);
- ``assess``: the rollout as a whole; ``SignalTracker`` turns transient signals fatal once they persist;
- ``describe_pod``: the diagnosis people otherwise collect by hand (container states, last termination,
  recent events, last log lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import FAILED, PASSED, CheckResult

__all__ = [
    "IMAGE_PULL",
    "READY_ENDPOINT_FAILING",
    "Assessment",
    "PodVerdict",
    "ReadinessProbe",
    "RolloutSnapshot",
    "SignalTracker",
    "assess",
    "assess_pod",
    "current_revision_pods",
    "describe_pod",
    "instance_selector",
    "is_permanent_pull_error",
    "log_requests",
    "pod_checks",
    "recent_events",
    "with_readiness_probes",
]

WAITING, READY, FATAL, TERMINAL = "waiting", "ready", "fatal", "terminal"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"

# The kubelet alternates these two for one pull problem: one transient signal, one grace period.
IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff"})
IMAGE_PULL = "ImagePull"
# Pull error texts that prove retrying cannot help (containerd/CRI-O/registry wording, lower case).
PERMANENT_PULL_ERRORS = (
    "not found",
    "manifest unknown",
    "unauthorized",
    "authentication required",
    "access denied",
    "pull access denied",
    "denied:",
    "repository does not exist",
    "invalid reference format",
    "no matching manifest",
)
# /health answers 200 but /ready does not (see ``with_readiness_probes``): transient for ``ready_grace``.
READY_ENDPOINT_FAILING = "ReadyEndpointFailing"
# A ReplicaSet replaces terminal pods; this many terminal pods per desired replica means it keeps failing.
TERMINAL_PODS_PER_REPLICA_LIMIT = 3

# Container waiting reasons that do not resolve on their own (image pulls: see ``IMAGE_PULL_REASONS``).
FATAL_WAITING_REASONS = IMAGE_PULL_REASONS | frozenset(
    {
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "CrashLoopBackOff",
    }
)
# Signals that can be transient (the first pull error, a Secret created a moment later, a node being
# added, a quota freed): fatal only once they persisted for the grace period.
TRANSIENT_SIGNALS = frozenset({"Unschedulable", IMAGE_PULL, "CreateContainerConfigError", "ReplicaFailure",
                               "NoDeployment", READY_ENDPOINT_FAILING})
NO_DEPLOYMENT = "no Deployment of the release yet"


def instance_selector(release: str) -> str:
    """The label selector of the release's pods, as in the workflow (``kubectl get pods -l ...``)."""
    return f"app.kubernetes.io/instance={release}"


@dataclass(frozen=True)
class RolloutSnapshot:
    """Deployments, ReplicaSets and pods of the release, listed at one moment."""

    deployments: Sequence[Mapping[str, Any]] = ()
    replicasets: Sequence[Mapping[str, Any]] = ()
    pods: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class PodVerdict:
    """One pod: ``state`` is waiting/ready/fatal; ``signal`` names a failure signal (maybe transient)."""

    name: str
    state: str
    running: bool
    ready: bool
    summary: str
    signal: str | None = None
    warning: str | None = None  # not a failure, but worth showing (e.g. an old OOM kill)

    @property
    def line(self) -> str:
        return f"{self.name}: {self.summary}"


@dataclass(frozen=True)
class Assessment:
    """The rollout at one moment: waiting, ready, or fatal (with the reason)."""

    state: str
    desired: int
    pods: tuple[PodVerdict, ...] = ()
    message: str = ""
    problem_pods: tuple[str, ...] = field(default=())
    signal: str | None = None  # for waiting: a (transient) failure signal seen

    @property
    def running(self) -> int:
        return sum(1 for p in self.pods if p.running)

    @property
    def terminal_pods(self) -> list[str]:
        """Failed/Succeeded pods of the current revision (the ReplicaSet replaces them)."""
        return sorted(p.name for p in self.pods if p.state == TERMINAL)

    @property
    def warnings(self) -> list[str]:
        """Things a passing verification still reports: terminal pods that were replaced, old OOM kills."""
        lines = [f"{p.name}: {p.warning}" for p in self.pods if p.warning]
        lines += [f"{p.name}: {p.summary} (not counted: the ReplicaSet replaced it; delete it when diagnosed)"
                  for p in self.pods if p.state == TERMINAL]
        return lines

    @property
    def ready(self) -> int:
        return sum(1 for p in self.pods if p.ready)

    @property
    def ready_pod_names(self) -> list[str]:
        return sorted(p.name for p in self.pods if p.ready)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid for ref in _meta(obj).get("ownerReferences") or [])


def _revision_of(replicaset: Mapping[str, Any]) -> int:
    try:
        return int((_meta(replicaset).get("annotations") or {}).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def current_revision_pods(snapshot: RolloutSnapshot) -> tuple[int, list[Mapping[str, Any]], str | None]:
    """Desired replicas, the pods of each Deployment's newest ReplicaSet, and why not known yet (or None)."""
    if not snapshot.deployments:
        return 0, [], NO_DEPLOYMENT
    desired, pods, notes = 0, [], []
    for deployment in snapshot.deployments:
        meta, spec = _meta(deployment), deployment.get("spec") or {}
        desired += int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        if not _generation_observed(deployment):
            notes.append(
                f"Deployment {meta.get('name')}: controller has not observed generation {meta.get('generation')} yet"
            )
            continue
        owned = [rs for rs in snapshot.replicasets if _owned_by(rs, meta.get("uid", ""))]
        if not owned:
            notes.append(f"Deployment {meta.get('name')}: no ReplicaSet yet")
            continue
        newest = max(owned, key=_revision_of)
        pods.extend(p for p in snapshot.pods if _owned_by(p, _meta(newest).get("uid", "")))
    pods.sort(key=lambda p: _meta(p).get("name", ""))
    return desired, pods, "; ".join(notes) or None


def _generation_observed(deployment: Mapping[str, Any]) -> bool:
    status = deployment.get("status") or {}
    return int(status.get("observedGeneration") or 0) >= int(_meta(deployment).get("generation") or 0)


def _deployment_problem(deployment: Mapping[str, Any]) -> tuple[str, str] | None:
    """(signal, message) for ProgressDeadlineExceeded or ReplicaFailure, else None.

    Conditions written for an older generation (``observedGeneration < generation``: the controller has not
    looked at the new spec yet) are stale and say nothing about this rollout.
    """
    if not _generation_observed(deployment):
        return None
    name = _meta(deployment).get("name")
    progressing = _condition(deployment, "Progressing")
    if progressing and progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        message = f"Deployment {name}: ProgressDeadlineExceeded: {progressing.get('message', '')}"
        return "ProgressDeadlineExceeded", message.rstrip(": ")
    failure = _condition(deployment, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return (
            "ReplicaFailure",
            f"Deployment {name}: ReplicaFailure {failure.get('reason', '')}: {failure.get('message', '')}",
        )
    return None


def is_permanent_pull_error(message: str) -> bool:
    """Whether an image pull error text proves that retrying cannot help (wrong name/tag, no credentials)."""
    text = (message or "").lower()
    return any(marker in text for marker in PERMANENT_PULL_ERRORS)


def _container_signal(status: Mapping[str, Any]) -> tuple[str, str] | None:
    """(signal, detail) of a container that is failing, else None.

    An OOM kill in ``lastState`` alone is not a signal: the container runs again (see ``_old_oom_warning``).
    It is one while the container is not running: terminated now, or waiting in CrashLoopBackOff.
    """
    state, last = status.get("state") or {}, status.get("lastState") or {}
    waiting = state.get("waiting") or {}
    name = status.get("name", "?")
    reason = waiting.get("reason")
    if reason in FATAL_WAITING_REASONS:
        detail = f"container {name} {reason}"
        last_terminated = last.get("terminated") or {}
        if last_terminated.get("reason"):
            detail += f" (last terminated: {last_terminated['reason']}, exit code {last_terminated.get('exitCode')})"
        if waiting.get("message"):
            detail += f": {waiting['message']}"
        if last_terminated.get("reason") == "OOMKilled":
            signal = "OOMKilled"
        elif reason in IMAGE_PULL_REASONS and not is_permanent_pull_error(waiting.get("message", "")):
            signal = IMAGE_PULL  # ErrImagePull and ImagePullBackOff alternate: one transient condition
        else:
            signal = reason
        return signal, detail
    terminated = state.get("terminated") or {}
    if terminated.get("reason") == "OOMKilled":
        return "OOMKilled", f"container {name} OOMKilled (exit code {terminated.get('exitCode')})"
    return None


def _old_oom_warning(status: Mapping[str, Any]) -> str | None:
    """A warning for a container that runs again after an earlier OOM kill (restart count and reason)."""
    last = (status.get("lastState") or {}).get("terminated") or {}
    if last.get("reason") != "OOMKilled" or "running" not in (status.get("state") or {}):
        return None
    when = f" at {last['finishedAt']}" if last.get("finishedAt") else ""
    return (f"container {status.get('name', '?')} restarted {status.get('restartCount', 0)} time(s); last termination "
            f"OOMKilled (exit code {last.get('exitCode')}){when}; running again now")


def assess_pod(pod: Mapping[str, Any]) -> PodVerdict:
    """Classify one pod as waiting, ready, or carrying a failure signal.

    ``running`` is kubectl's notion: phase Running and no container stuck in a failure state.
    """
    meta, status = _meta(pod), pod.get("status") or {}
    name = meta.get("name", "?")
    phase = status.get("phase") or "Pending"
    ready_condition = _condition(pod, "Ready")
    running = phase == "Running"
    ready = running and bool(ready_condition and ready_condition.get("status") == "True")
    if meta.get("deletionTimestamp"):
        return PodVerdict(name, WAITING, False, False, f"{phase}, terminating")
    if phase in ("Failed", "Succeeded"):
        # Evicted, UnexpectedAdmissionError (device plugin), node shutdown...: the ReplicaSet replaces it.
        reason = status.get("reason") or phase
        message = status.get("message") or "the server process exited"
        return PodVerdict(name, TERMINAL, False, False, f"{phase}: {reason}: {message}", signal=reason)
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return PodVerdict(
            name, FATAL, False, False, f"Pending: Unschedulable: {scheduled.get('message', '')}", signal="Unschedulable"
        )
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    for container in statuses:
        found = _container_signal(container)
        if found:
            # kubectl would show the signal, not "Running", as the pod's status
            return PodVerdict(name, FATAL, False, False, f"{phase}: {found[1]}", signal=found[0])
    warning = "; ".join(w for w in map(_old_oom_warning, statuses) if w) or None
    if ready:
        return PodVerdict(name, READY, True, True, "Running, Ready", warning=warning)
    summary = _waiting_summary(phase, statuses, ready_condition) + (f" ({warning})" if warning else "")
    return PodVerdict(name, WAITING, running, False, summary, warning=warning)


def _waiting_summary(phase: str, statuses: Iterable[Mapping[str, Any]], ready: Mapping[str, Any] | None) -> str:
    reasons = []
    for container in statuses:
        state = container.get("state") or {}
        if "waiting" in state:
            reasons.append(f"{container.get('name')} {(state['waiting'] or {}).get('reason') or 'waiting'}")
        elif "terminated" in state:
            reasons.append(f"{container.get('name')} terminated ({(state['terminated'] or {}).get('reason')})")
    if phase == "Running":
        detail = "not Ready yet (model loading / readiness probe)"
        if ready and ready.get("message"):
            detail += f": {ready['message']}"
        return f"Running, {detail}"
    return f"{phase}" + (f" ({', '.join(reasons)})" if reasons else "")


def assess(snapshot: RolloutSnapshot) -> Assessment:
    """The rollout's state from one snapshot; signals are reported as fatal here (see ``SignalTracker``)."""
    desired, pods, note = current_revision_pods(snapshot)
    for deployment in snapshot.deployments:
        problem = _deployment_problem(deployment)
        if problem:
            verdicts = tuple(assess_pod(p) for p in pods)
            return Assessment(
                FATAL, desired, verdicts, problem[1], tuple(v.name for v in verdicts if not v.ready), problem[0]
            )
    if note == NO_DEPLOYMENT:
        # The Helm release has already created its objects when the verification runs: a Deployment still
        # missing after the grace period means the cluster no longer matches the state (deleted by hand, or a
        # recreated cluster), and waiting out the startup budget would not help.
        return Assessment(FATAL, 0, (), "the release has no Deployment in its namespace; if it was deleted outside "
                          "Pulumi (or the cluster was recreated), run `pulumi up --refresh`", (), "NoDeployment")
    if note:
        return Assessment(WAITING, desired, (), note)
    if desired == 0:
        return Assessment(FATAL, 0, (), "the Deployment has 0 replicas: nothing would serve", (), "NoReplicas")
    verdicts = tuple(assess_pod(p) for p in pods)
    live = [v for v in verdicts if v.state != TERMINAL]
    terminal = [v for v in verdicts if v.state == TERMINAL]
    ready = sum(1 for v in live if v.ready)
    fatal = [v for v in live if v.state == FATAL]
    if fatal:
        message = "; ".join(v.line for v in fatal)
        return Assessment(FATAL, desired, verdicts, message, tuple(v.name for v in fatal), fatal[0].signal)
    if ready >= desired:
        note = f"; {len(terminal)} terminal pod(s) replaced, not counted" if terminal else ""
        return Assessment(READY, desired, verdicts, f"{ready}/{desired} pods Running and Ready{note}")
    if len(terminal) >= TERMINAL_PODS_PER_REPLICA_LIMIT * desired:
        message = (f"pods of the current revision keep failing ({len(terminal)} Failed/Succeeded, "
                   f"limit {TERMINAL_PODS_PER_REPLICA_LIMIT} per replica): " + "; ".join(v.line for v in terminal[-3:]))
        return Assessment(FATAL, desired, verdicts, message, tuple(v.name for v in terminal[-3:]), "PodsKeepFailing")
    waiting = [v.line for v in live if not v.ready] or [f"{len(live)}/{desired} pods created"]
    if terminal:
        waiting.append(f"{len(terminal)} terminal pod(s) being replaced: " + "; ".join(v.line for v in terminal))
    return Assessment(WAITING, desired, verdicts, f"{ready}/{desired} Ready; " + "; ".join(waiting))


@dataclass(frozen=True)
class ReadinessProbe:
    """What a Running-but-not-Ready pod answered on its health and readiness paths (None: no answer)."""

    health_status: int | None
    ready_status: int | None
    ready_body: str = ""
    error: str | None = None

    @property
    def serving_but_unready(self) -> bool:
        """The server is up (/health 200) yet says it is not ready: waiting for the loading budget cannot help."""
        return self.health_status == 200 and self.ready_status is not None and self.ready_status != 200


def with_readiness_probes(
    assessment: Assessment,
    probes: Mapping[str, ReadinessProbe],
    health_path: str = "/health",
    ready_path: str = "/ready",
) -> Assessment:
    """A waiting rollout becomes fatal (transient signal ``READY_ENDPOINT_FAILING``) while a Running pod that is
    not Ready answers ``health_path`` 200 but ``ready_path`` otherwise; the message carries ``ready_path``'s body."""
    if assessment.state != WAITING:
        return assessment
    failing = [(p.name, probes[p.name]) for p in assessment.pods
               if p.running and not p.ready and p.name in probes and probes[p.name].serving_but_unready]
    if not failing:
        return assessment
    message = "; ".join(f"{name}: GET {health_path} 200 but GET {ready_path} {probe.ready_status}: {probe.ready_body}"
                        for name, probe in failing)
    return Assessment(FATAL, assessment.desired, assessment.pods, message, tuple(n for n, _ in failing),
                      READY_ENDPOINT_FAILING)


class SignalTracker:
    """Remembers when each transient signal was first seen, so it turns fatal only once it persisted.

    ``grace_seconds`` applies to every transient signal; ``graces`` overrides it per signal (e.g. a longer
    one for image pulls, see ``IMAGE_PULL``).
    """

    def __init__(self, grace_seconds: float, graces: Mapping[str, float] | None = None) -> None:
        self.grace_seconds = grace_seconds
        self.graces = dict(graces or {})
        self._first_seen: dict[tuple[str, str], float] = {}

    def grace_for(self, signal: str | None) -> float:
        return self.graces.get(signal or "", self.grace_seconds)

    def settle(self, assessment: Assessment, now: float) -> Assessment:
        """``assessment`` unchanged, or downgraded to waiting while its transient signal is younger than the grace."""
        if assessment.state != FATAL or assessment.signal not in TRANSIENT_SIGNALS:
            if assessment.state != FATAL:
                self._first_seen.clear()
            return assessment
        key = (assessment.signal, ",".join(assessment.problem_pods))
        first = self._first_seen.setdefault(key, now)
        grace = self.grace_for(assessment.signal)
        if now - first >= grace:
            return assessment
        return Assessment(
            WAITING,
            assessment.desired,
            assessment.pods,
            f"{assessment.message} (fatal if it persists {grace - (now - first):.0f}s more)",
            assessment.problem_pods,
            assessment.signal,
        )

    def seconds_until_due(self, now: float) -> float | None:
        """When the oldest pending signal becomes fatal (None: none pending)."""
        if not self._first_seen:
            return None
        return max(0.0, min(first + self.grace_for(key[0]) - now for key, first in self._first_seen.items()))


# --- diagnosis ---------------------------------------------------------------------------------------


def _state_text(state: Mapping[str, Any]) -> str:
    if not state:
        return "unknown"
    kind, detail = next(iter(state.items()))
    detail = detail or {}
    parts = [kind]
    if detail.get("reason"):
        parts.append(detail["reason"])
    if kind == "terminated":
        parts.append(f"exit code {detail.get('exitCode')}")
        if detail.get("finishedAt"):
            parts.append(f"at {detail['finishedAt']}")
    if kind == "running" and detail.get("startedAt"):
        parts.append(f"since {detail['startedAt']}")
    text = " ".join(str(p) for p in parts)
    if detail.get("message"):
        text += f": {_one_line(detail['message'], 300)}"
    return text


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _event_time(event: Mapping[str, Any]) -> str:
    return (
        event.get("lastTimestamp")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or _meta(event).get("creationTimestamp")
        or ""
    )


def recent_events(events: Sequence[Mapping[str, Any]], limit: int = 10) -> list[str]:
    """The last ``limit`` events, oldest first, one line each."""
    ordered = sorted(events, key=_event_time)[-limit:]
    lines = []
    for event in ordered:
        count = event.get("count") or (event.get("series") or {}).get("count") or 1
        repeat = f" (x{count})" if count and int(count) > 1 else ""
        lines.append(
            f"{_event_time(event)} {event.get('type', '')} {event.get('reason', '')}{repeat}: "
            f"{_one_line(event.get('message') or event.get('note') or '', 300)}"
        )
    return lines


def describe_pod(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]] | str,
    logs: Mapping[str, str],
    log_lines: int = 20,
) -> str:
    """A multi-line diagnosis of one pod. ``events`` may be an error text; ``logs`` maps a label to text."""
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    lines = [f"pod {meta.get('name')} (phase {status.get('phase', '?')}, node {spec.get('nodeName') or 'none'}):"]
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            message = f": {_one_line(condition['message'], 300)}" if condition.get("message") else ""
            line = (
                f"  condition {condition.get('type')}={condition.get('status')} "
                f"{condition.get('reason') or ''}{message}"
            )
            lines.append(line.rstrip())
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    if not statuses:
        lines.append("  containers: none started")
    for container in statuses:
        lines.append(
            f"  container {container.get('name')}: {_state_text(container.get('state') or {})}; "
            f"restarts {container.get('restartCount', 0)}; ready {bool(container.get('ready'))}"
        )
        last = (container.get("lastState") or {}).get("terminated")
        if last:
            lines.append(f"    last termination: {_state_text({'terminated': last})}")
    if isinstance(events, str):
        lines.append(f"  events: unavailable ({events})")
    elif events:
        lines.append("  events (most recent last):")
        lines.extend(f"    {line}" for line in recent_events(events))
    else:
        lines.append("  events: none")
    fetched = {name for name, _previous in log_requests(pod)}
    for container in statuses:
        if container.get("name") not in fetched:
            lines.append(f"  logs ({container.get('name')}): none, the container has not started")
    for label, text in logs.items():
        tail = [line for line in text.splitlines() if line.strip()][-log_lines:]
        if not tail:
            lines.append(f"  logs {label}: empty")
            continue
        lines.append(f"  logs {label}, last {len(tail)} lines:")
        lines.extend(f"    | {line[:500]}" for line in tail)
    return "\n".join(lines)


def log_requests(pod: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """Which logs help: (container, previous) -- the crashed instance if it restarted, else the current one."""
    wanted = []
    statuses = list((pod.get("status") or {}).get("initContainerStatuses") or []) + list(
        (pod.get("status") or {}).get("containerStatuses") or []
    )
    for container in statuses:
        state = container.get("state") or {}
        if (container.get("lastState") or {}).get("terminated"):
            wanted.append((container.get("name"), True))
        elif "running" in state or "terminated" in state:
            wanted.append((container.get("name"), False))
    return wanted


def pod_checks(assessment: Assessment, outcome: str) -> list[CheckResult]:
    """The "pod Running" and "pod Ready" rows. ``outcome`` says how the wait ended (e.g. "timed out after 1200s")."""
    desired = assessment.desired
    of = f"/{desired}" if desired else ""
    running_ok = desired > 0 and assessment.running >= desired
    ready_ok = assessment.state == READY
    detail = f" ({outcome}): {assessment.message}" if not ready_ok else f": {', '.join(assessment.ready_pod_names)}"
    running = CheckResult(
        "pod Running",
        PASSED if running_ok else FAILED,
        f"{desired or 'all'} current-revision pod(s) Running",
        f"{assessment.running}{of} Running" + ("" if running_ok else detail),
    )
    ready = CheckResult(
        "pod Ready",
        PASSED if ready_ok else FAILED,
        f"{desired or 'all'} current-revision pod(s) Ready",
        f"{assessment.ready}{of} Ready" + detail,
    )
    return [running, ready]
