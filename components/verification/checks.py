"""The result of one verification check: what was expected, what was observed, and the verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

__all__ = [
    "CheckResult",
    "ERROR",
    "FAILED",
    "PASSED",
    "SKIPPED",
    "all_passed",
    "skipped_after",
]

PASSED = "passed"
FAILED = "failed"  # measured, and the measurement is bad
ERROR = "error"  # could not measure within the allowed window
SKIPPED = "skipped"  # not run because an earlier check made it meaningless

STATUSES = (PASSED, FAILED, ERROR, SKIPPED)


@dataclass(frozen=True)
class CheckResult:
    """One line of the verification report."""

    name: str
    status: str
    expected: str
    observed: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def as_output(self) -> dict[str, str]:
        """The check as a plain dict for stack outputs."""
        return asdict(self)


def skipped_after(name: str, expected: str, reason: str) -> CheckResult:
    """A check that did not run because of ``reason``."""
    return CheckResult(name, SKIPPED, expected, f"not run: {reason}")


def all_passed(results: Iterable[CheckResult]) -> bool:
    """Whether there is at least one check and every check passed."""
    results = list(results)
    return bool(results) and all(r.passed for r in results)
