"""Latency statistics for the post-deploy check: nearest-rank percentiles and the early-stop rule.

Nearest rank: the q-quantile of N sorted samples is ``sorted[ceil(q * N) - 1]``. For the 95th percentile
that is the maximum for N <= 19; from N = 20 one sample may exceed the limit and the p95 still passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "LatencySummary",
    "allowed_exceedances",
    "nearest_rank",
    "nearest_rank_index",
    "p95_can_still_pass",
    "p95_lower_bound",
    "summarize",
]

P95 = 0.95


def nearest_rank_index(n: int, quantile: float) -> int:
    """Zero-based index of the nearest-rank ``quantile`` in ``n`` sorted samples."""
    if n < 1:
        raise ValueError("no samples")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile {quantile} is not in (0, 1]")
    # Exact rational arithmetic: 0.95 * 20 must be 19, not 19.000000000000004.
    return max(0, math.ceil(Fraction(str(quantile)) * n) - 1)


def nearest_rank(samples: Sequence[float], quantile: float) -> float:
    """The nearest-rank ``quantile`` of ``samples`` (any order)."""
    ordered = sorted(samples)
    return ordered[nearest_rank_index(len(ordered), quantile)]


def allowed_exceedances(n: int, quantile: float = P95) -> int:
    """How many of ``n`` samples may exceed the limit while the ``quantile`` still stays within it."""
    return n - (nearest_rank_index(n, quantile) + 1)


def p95_can_still_pass(exceeded: int, n: int) -> bool:
    """Whether a p95 over ``n`` planned samples can still pass when ``exceeded`` already are over the limit."""
    return exceeded <= allowed_exceedances(n, P95)


def p95_lower_bound(samples: Sequence[float], n: int) -> float:
    """A lower bound of the p95 of ``n`` planned samples, knowing only ``samples`` (taken so far).

    The p95 of the full set is its (allowed + 1)-th largest value, which is at least the
    (allowed + 1)-th largest value measured so far.
    """
    ordered = sorted(samples, reverse=True)
    position = allowed_exceedances(n, P95)
    return ordered[position] if position < len(ordered) else 0.0


@dataclass(frozen=True)
class LatencySummary:
    """p50/p95/max of the measured samples; ``planned`` is the N the run aimed for (early stop: n < planned).

    ``failed`` samples got no answer (the connection dropped after the request was sent): they count in ``n``
    and in ``exceeded`` as infinitely slow, so the p95 may be ``inf``; ``p50`` and ``max`` are of the answered.
    """

    n: int
    planned: int
    p50: float
    p95: float
    max: float
    exceeded: int
    limit: float
    failed: int = 0

    @property
    def stopped_early(self) -> bool:
        return self.n < self.planned

    @property
    def passed(self) -> bool:
        return not self.stopped_early and self.p95 <= self.limit


def summarize(samples: Sequence[float], limit: float, planned: int | None = None, failed: int = 0) -> LatencySummary:
    """Summarize ``samples`` (answered requests) and ``failed`` (requests without an answer) against ``limit``.

    When the run stopped early (fewer samples than ``planned``), ``p95`` is the lower bound of the p95
    of the planned run, so the reported value never understates what made it fail.
    """
    values = list(samples) + [math.inf] * failed
    if not values:
        raise ValueError("no samples")
    planned = max(planned or len(values), len(values))
    exceeded = sum(1 for s in values if s > limit)
    p95 = nearest_rank(values, P95) if planned == len(values) else p95_lower_bound(values, planned)
    return LatencySummary(
        n=len(values),
        planned=planned,
        p50=nearest_rank(samples, 0.5) if samples else 0.0,
        p95=p95,
        max=max(samples) if samples else 0.0,
        exceeded=exceeded,
        limit=limit,
        failed=failed,
    )
