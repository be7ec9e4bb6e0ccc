"""Stack outputs -> the deploy job's summary (Markdown) and its commit status description (pure rendering).

Input: ``pulumi stack output --stack S --json`` (never ``--show-secrets``: secret outputs arrive as
``"[secret]"`` and are rendered as such). Renders the verification table, p95, the Helm revision, what is
deployed (``deployed`` output) and the model registry entry when the stack exports one (``registry_entry``
or ``registry``); any of them may be missing (an older stack, a failed run) and is then reported as missing.

Usage: python3 -m promotion.summary OUTPUTS_JSON --stack S [--commit SHA] [--description]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["REGISTRY_OUTPUTS", "STATUS_DESCRIPTION_LIMIT", "render_markdown", "status_description", "main"]

REGISTRY_OUTPUTS = ("registry_entry", "registry")
"""Stack outputs that may hold the model registry entry (the registry component is optional)."""

STATUS_DESCRIPTION_LIMIT = 140
"""GitHub truncates a commit status description longer than this."""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _seconds(value: Any) -> str:
    return f"{value:.3f} s" if isinstance(value, (int, float)) and not isinstance(value, bool) else _cell(value)


def _registry_entry(outputs: Mapping[str, Any]) -> tuple[str, Any] | None:
    for key in REGISTRY_OUTPUTS:
        if outputs.get(key) not in (None, {}, ""):
            return key, outputs[key]
    return None


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        rows: list[tuple[str, Any]] = []
        for key, item in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), item)
        return rows
    return [(prefix, value)]


def render_markdown(outputs: Mapping[str, Any], *, stack: str, commit: str = "") -> str:
    """The job summary for one ``pulumi up`` of ``stack``."""
    verification = outputs.get("verification") or {}
    passed = verification.get("passed") is True
    revision = outputs.get("revision")
    title = f"`pulumi up --stack {stack}`: Helm revision {_cell(revision)} " + \
        ("verified" if passed else "NOT verified")
    lines = [f"### {title}", ""]
    lines += ["| | |", "| --- | --- |"]
    if commit:
        lines.append(f"| commit | `{commit}` |")
    for key in ("release_name", "namespace", "endpoint"):
        lines.append(f"| {key} | {_cell(outputs.get(key))} |")
    lines.append(f"| Helm revision | {_cell(revision)} |")
    lines.append(f"| p95 latency | {_seconds(verification.get('p95_seconds'))} "
                 f"(p50 {_seconds(verification.get('p50_seconds'))}, max {_seconds(verification.get('max_seconds'))}, "
                 f"{_cell(verification.get('n'))} samples) |")
    lines.append(f"| verified | {_cell(verification.get('passed'))} at {_cell(verification.get('verified_at'))} "
                 f"(revision {_cell(verification.get('verified_revision'))}) |")
    lines.append("")

    deployed = outputs.get("deployed")
    lines += ["#### Deployed configuration", ""]
    if isinstance(deployed, Mapping) and deployed:
        lines += ["| setting | value |", "| --- | --- |"]
        lines += [f"| {key} | {_cell(value)} |" for key, value in _flatten("", deployed)]
    else:
        lines.append("The stack has no `deployed` output (deployed before this program recorded it).")
    lines.append("")

    lines += ["#### Verification checks", ""]
    checks = verification.get("checks") or []
    if checks:
        lines += ["| check | status | expected | observed |", "| --- | --- | --- | --- |"]
        lines += [f"| {_cell(c.get('name'))} | {_cell(c.get('status'))} | {_cell(c.get('expected'))} "
                  f"| {_cell(c.get('observed'))} |" for c in checks]
    else:
        lines.append("No verification checks in the stack outputs.")
    lines.append("")

    entry = _registry_entry(outputs)
    lines += ["#### Model registry entry", ""]
    if entry is None:
        lines.append("No registry entry output (the stack does not register the model).")
    else:
        key, value = entry
        lines += [f"Output `{key}`:", "", "| field | value |", "| --- | --- |"]
        lines += [f"| {field} | {_cell(item)} |" for field, item in _flatten("", value)]
    lines.append("")
    return "\n".join(lines)


def status_description(outputs: Mapping[str, Any]) -> str:
    """One line for the commit status (at most 140 characters)."""
    verification = outputs.get("verification") or {}
    image = ((outputs.get("deployed") or {}).get("image") or {}).get("reference")
    text = (f"revision {_cell(outputs.get('revision'))} "
            f"{'verified' if verification.get('passed') is True else 'not verified'}: "
            f"p95 {_seconds(verification.get('p95_seconds'))} over {_cell(verification.get('n'))} samples")
    if image:
        text += f"; {image}"
    return text if len(text) <= STATUS_DESCRIPTION_LIMIT else text[:STATUS_DESCRIPTION_LIMIT - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m promotion.summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", help="JSON file from `pulumi stack output --json` ('-' for stdin)")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--commit", default="")
    parser.add_argument("--description", action="store_true", help="print the commit status description instead")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.outputs == "-" else open(args.outputs, encoding="utf-8").read()
    try:
        outputs = json.loads(text) if text.strip() else {}
    except ValueError:
        outputs = {}
    if not isinstance(outputs, dict):
        outputs = {}
    print(status_description(outputs) if args.description else render_markdown(outputs, stack=args.stack,
                                                                                   commit=args.commit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
