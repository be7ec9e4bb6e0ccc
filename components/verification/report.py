"""Render verification results as the table shown in a failed update and as stack outputs."""

from __future__ import annotations

from typing import Sequence

from .checks import CheckResult
from .stats import LatencySummary

__all__ = ["describe_latency", "render_table", "summary_outputs"]

_HEADERS = ("CHECK", "STATUS", "EXPECTED", "OBSERVED")


def render_table(results: Sequence[CheckResult], indent: str = "  ") -> str:
    """A fixed-width table with one row per check; the last column is not padded."""
    rows = [_HEADERS] + [(r.name, r.status, r.expected, r.observed) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3]]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def summary_outputs(results: Sequence[CheckResult]) -> list[dict[str, str]]:
    """Per-check name, status, expected and observed, for the ``summary`` output."""
    return [r.as_output() for r in results]


def describe_latency(summary: LatencySummary) -> str:
    """E.g. ``p95 3.41s > 3.00s (N=20, p50 1.20s, max 4.02s)``; early stops say so."""
    if summary.stopped_early:
        return (
            f"p95 >= {summary.p95:.2f}s > {summary.limit:.2f}s (stopped early after {summary.n} of "
            f"{summary.planned}: {summary.exceeded} over {summary.limit:.2f}s, p50 {summary.p50:.2f}s, "
            f"max {summary.max:.2f}s)"
        )
    relation = "<=" if summary.p95 <= summary.limit else ">"
    return (
        f"p95 {summary.p95:.2f}s {relation} {summary.limit:.2f}s "
        f"(N={summary.n}, p50 {summary.p50:.2f}s, max {summary.max:.2f}s)"
    )
