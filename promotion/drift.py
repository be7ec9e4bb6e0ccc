"""Drift check of one stack: ``pulumi preview --refresh --expect-no-changes --diff``, the diff into the job summary.

``--refresh`` reads every resource back from the cluster first (the Helm release record and, for the objects
Helm manages, the ``ReleaseDrift`` resource that compares them with the release's manifest), then the preview
compares the program with what was read. ``--expect-no-changes`` makes any difference fail the command.
Exit status: 0 in sync, 1 drift or a failed preview (the summary says which).

Usage: python -m promotion.drift --stack S [--cwd DIR]   (pulumi on PATH, backend and credentials in the env)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["DRIFT_FLAGS", "NO_CHANGES_EXPECTED", "classify", "drift_command", "summary_markdown", "main"]

DRIFT_FLAGS = ("--refresh", "--expect-no-changes", "--diff", "--show-full-output")  # full: no truncated diff lines
NO_CHANGES_EXPECTED = "no changes were expected"
"""What the CLI prints when --expect-no-changes trips (3.274: "... for preview but changes were proposed")."""

SUMMARY_LIMIT = 60_000
"""Characters of preview output put into the job summary (GitHub allows 1 MiB per step)."""


def drift_command(stack: str) -> list[str]:
    return ["pulumi", "preview", "--stack", stack, *DRIFT_FLAGS, "--non-interactive", "--color", "never"]


def classify(returncode: int, output: str) -> str:
    """``in-sync``, ``drift`` or ``error`` (the preview itself failed: credentials, cluster, program)."""
    if returncode == 0:
        return "in-sync"
    return "drift" if NO_CHANGES_EXPECTED in output else "error"


def summary_markdown(stack: str, verdict: str, output: str) -> str:
    heading = {"in-sync": f"### :white_check_mark: stack `{stack}`: no drift",
               "drift": f"### :warning: stack `{stack}` has drifted from its program",
               "error": f"### :x: drift check of stack `{stack}` could not run"}[verdict]
    if verdict == "in-sync":
        return heading + "\n"
    text = output if len(output) <= SUMMARY_LIMIT else "...\n" + output[-SUMMARY_LIMIT:]
    hint = ("Someone changed the cluster outside `pulumi up`. Restore it with `pulumi up --stack "
            f"{stack}` from the deployed commit (or adopt the change in the stack's config); see README, CI/CD."
            if verdict == "drift" else "The preview failed before it could compare; see the output.")
    return f"{heading}\n\n{hint}\n\n```diff\n{text}\n```\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m promotion.drift", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--cwd", default=".")
    args = parser.parse_args(argv)
    completed = subprocess.run(drift_command(args.stack), cwd=args.cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, check=False)
    sys.stdout.write(completed.stdout)
    verdict = classify(completed.returncode, completed.stdout)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(args.stack, verdict, completed.stdout))
    print(f"drift check of stack {args.stack}: {verdict}")
    return 0 if verdict == "in-sync" else 1


if __name__ == "__main__":
    sys.exit(main())
