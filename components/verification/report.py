"""Render verification results as the table shown in a failed update and as stack outputs."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .checks import CheckResult
from .stats import LatencySummary

__all__ = ["describe_latency", "render_table", "seconds", "summary_outputs"]

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


def seconds(value: float) -> str:
    """``3.41s``; values under 10 ms keep three significant digits (``0.00123s``) instead of reading ``0.00s``."""
    return f"{value:.3g}s" if 0 < abs(value) < 0.01 else f"{value:.2f}s"


def describe_latency(summary: LatencySummary) -> str:
    """E.g. ``p95 3.41s > 3.00s (N=20, p50 1.20s, max 4.02s)``; early stops and unanswered samples say so."""
    if summary.failed:
        p95 = "no answer" if math.isinf(summary.p95) else seconds(summary.p95)
        relation = "<=" if summary.p95 <= summary.limit else ">"
        stopped = f"N={summary.n}, "
        if summary.stopped_early:
            stopped = f"stopped early after {summary.n} of {summary.planned}, "
        answered = summary.n - summary.failed
        return (
            f"p95 {p95} {relation} {seconds(summary.limit)} ({stopped}{summary.failed} without an answer: "
            f"connection dropped after the request was sent, counted as over the limit; "
            f"{summary.exceeded - summary.failed} of {answered} answered over the limit"
            + (f", p50 {seconds(summary.p50)}, max {seconds(summary.max)})" if answered else ")")
        )
    if summary.stopped_early:
        return (
            f"p95 >= {seconds(summary.p95)} > {seconds(summary.limit)} (stopped early after {summary.n} of "
            f"{summary.planned}: {summary.exceeded} over {seconds(summary.limit)}, p50 {seconds(summary.p50)}, "
            f"max {seconds(summary.max)})"
        )
    relation = "<=" if summary.p95 <= summary.limit else ">"
    return (
        f"p95 {seconds(summary.p95)} {relation} {seconds(summary.limit)} "
        f"(N={summary.n}, p50 {seconds(summary.p50)}, max {seconds(summary.max)})"
    )
