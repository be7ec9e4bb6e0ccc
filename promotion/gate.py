"""The staging gate: was this commit deployed and verified in development? Decided from its commit statuses.

The development job of .github/workflows/deploy.yml posts the commit status ``vllm-deploy/development`` = success
only after ``pulumi up --stack development`` passed (and ``pulumi up`` fails unless the post-deploy verification
passed). The dispatch that deploys staging lists the commit's statuses (``gh api
repos/{repo}/commits/{sha}/statuses``, newest first) and pipes them here. The newest status of the context
decides; it must come from this repository's Actions (creator ``github-actions[bot]``, target URL a run of this
repository), so a status posted by hand does not open the gate.

Usage: python3 -m promotion.gate STATUSES_JSON --commit SHA --stack development --repository OWNER/NAME
       [--server-url https://github.com] [--creator github-actions[bot]]
Exit 0 when the gate opens, 1 with the reason otherwise. Standard library only (runs before any install).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promotion.stacks import status_context

__all__ = ["ACTIONS_BOT", "GateDecision", "decide", "is_full_sha", "main"]

ACTIONS_BOT = "github-actions[bot]"
"""The creator of statuses posted with a workflow's GITHUB_TOKEN."""

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class GateDecision:
    open: bool
    reason: str


def is_full_sha(value: str) -> bool:
    return bool(_FULL_SHA.match(value))


def decide(statuses: Sequence[dict[str, Any]], *, commit: str, stack: str, repository: str,
           server_url: str = "https://github.com", creator: str = ACTIONS_BOT) -> GateDecision:
    """Whether ``commit`` has a successful deployment of ``stack`` recorded by this repository's Actions (pure).

    ``statuses`` is the GitHub list-statuses answer for the commit, newest first.
    """
    context = status_context(stack)
    if not is_full_sha(commit):
        return GateDecision(False, f"commit {commit!r} is not a full 40-character lowercase SHA")
    runs_url = f"{server_url.rstrip('/')}/{repository}/actions/runs/"
    own = [s for s in statuses if s.get("context") == context]
    if not own:
        return GateDecision(False, f"commit {commit} has no {context} status: it was never deployed to {stack} "
                                   f"by this workflow (deploy {stack} first; development deploys on push to main)")
    newest = own[0]
    state = newest.get("state")
    link = newest.get("target_url") or "(no run link)"
    author = (newest.get("creator") or {}).get("login", "")
    if author != creator:
        return GateDecision(False, f"the newest {context} status of {commit} was posted by {author or 'unknown'}, "
                                   f"not by {creator}: only the deploy workflow may open this gate")
    if not str(newest.get("target_url") or "").startswith(runs_url):
        return GateDecision(False, f"the newest {context} status of {commit} links to {link}, "
                                   f"not to a run of {repository} ({runs_url}...)")
    if state != "success":
        return GateDecision(False, f"the newest {context} status of {commit} is {state!r} "
                                   f"({newest.get('description') or 'no description'}), see {link}")
    return GateDecision(True, f"{stack} deployed and verified {commit}: {newest.get('description') or ''} ({link})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m promotion.gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("statuses", help="JSON file: the commit's statuses, newest first ('-' for stdin)")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--repository", required=True)
    parser.add_argument("--server-url", default="https://github.com")
    parser.add_argument("--creator", default=ACTIONS_BOT)
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.statuses == "-" else open(args.statuses, encoding="utf-8").read()
    try:
        statuses = json.loads(text)
    except ValueError as exc:
        print(f"gate closed: the statuses are not JSON ({exc})", file=sys.stderr)
        return 1
    if not isinstance(statuses, list):
        print("gate closed: expected the list-statuses answer (a JSON array)", file=sys.stderr)
        return 1
    decision = decide(statuses, commit=args.commit, stack=args.stack, repository=args.repository,
                      server_url=args.server_url, creator=args.creator)
    print(("gate open: " if decision.open else "gate closed: ") + decision.reason,
          file=sys.stdout if decision.open else sys.stderr)
    return 0 if decision.open else 1


if __name__ == "__main__":
    sys.exit(main())
