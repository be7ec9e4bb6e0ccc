"""Progress lines for the GPU gate: what is needed, what is free where, when the next check is; no I/O."""

from __future__ import annotations

from .capacity import CapacityReport, GpuNeed, describe_need, describe_rollout_need

__all__ = ["describe_free", "format_duration", "progress_line"]


def format_duration(seconds: float) -> str:
    """'0.4s', '42s', '5m03s', '1h02m'."""
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def describe_free(report: CapacityReport, *, limit: int = 8) -> str:
    """'free: gpu-node-0 1/2, gpu-node-1 0/2 (cordoned)' over the nodes matching the selector."""
    matching = [n for n in report.nodes if n.matches_selector]
    if not matching:
        return "free: no node matches the node selector"
    parts = []
    for node in matching[:limit]:
        part = f"{node.name} {node.free}/{node.allocatable}"
        if node.excluded_reason:
            part += f" ({node.excluded_reason})"
        parts.append(part)
    if len(matching) > limit:
        parts.append(f"... {len(matching) - limit} more")
    return "free: " + ", ".join(parts)


def progress_line(
    need: GpuNeed,
    report: CapacityReport | None,
    *,
    elapsed: float,
    timeout: float,
    next_check_in: float,
    api_trouble: str | None = None,
) -> str:
    """One line for the log while waiting."""
    parts = [f"GPU gate: need {describe_need(need, with_release=False)}"]
    if report is None:
        parts.append("cluster state not read yet")
    else:
        if report.rollout_update:
            parts.append(describe_rollout_need(report))
        parts.append(f"placeable {report.placeable_replicas}/{report.pods_needed}")
        parts.append(describe_free(report))
    if api_trouble:
        parts.append(f"Kubernetes API trouble: {api_trouble}")
    parts.append(f"next full check in {format_duration(next_check_in)} (watching for changes meanwhile)")
    parts.append(f"waited {format_duration(elapsed)} of {format_duration(timeout)}")
    return "; ".join(parts)
