#!/usr/bin/env python3
"""Chart documentation of charts/vllm-deployment, from the comments in its values.yaml.

values.yaml is the one home of every value's description:

* a ``# --`` comment block directly above a key documents it (helm-docs' convention; continuation lines are
  plain ``#`` lines), and documents everything inside it;
* a plain comment block directly above a map (no ``# --``) describes that section.

From these, this tool writes

* the ``description`` of every property of values.schema.json (both kinds of comment), and
* README.md, rendered by helm-docs (built by ``tools/build helm-docs``) from README.md.gotmpl.

    python tools/chart_docs.py           rewrite values.schema.json descriptions and README.md
    python tools/chart_docs.py --check   exit 1 and say what is stale, change nothing

tests/unit/charts/test_chart_docs.py runs the same checks.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "vllm-deployment"
HELM_DOCS = ROOT / ".tools" / "bin" / "helm-docs"
HELM_DOCS_ARGS = ("--chart-search-root", ".", "--template-files", "README.md.gotmpl",
                  "--sort-values-order", "file")

Path_ = tuple[str, ...]

_KEY = re.compile(r"^(?P<indent> *)(?P<key>\"[^\"]+\"|'[^']+'|[^\s#'\"-][^:#]*?):(?:\s|$)")
_LIST_ITEM = re.compile(r"^(?P<indent> *)- ")
_COMMENT = re.compile(r"^ *#(?: (?P<text>.*))?$")
# helm-docs' own pattern for the first line of a description: "# <key> -- <text>". Its greedy <key> runs up to the
# LAST " --" on the line, so "# -- uses --flag" documents a key named "-- uses" (and not the value below it).
_HELM_DOCS_LINE = re.compile(r"^\s*#\s*(.*)\s+--\s*(.*)$")


def value_comments(text: str) -> tuple[dict[Path_, str], dict[Path_, str]]:
    """(descriptions, section notes) of values.yaml, keyed by key path.

    Descriptions come from ``# --`` blocks (only the last one directly above a key counts, as in helm-docs, and
    not one whose first line holds another " --"); notes from plain comment blocks directly above a key. A blank
    line detaches a comment from the key below.
    """
    descriptions: dict[Path_, str] = {}
    notes: dict[Path_, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing maps
    block: list[str] = []
    list_indent: int | None = None  # inside a list item deeper than this: not a values key
    for line in text.splitlines():
        comment = _COMMENT.match(line)
        if comment:
            block.append(comment.group("text") or "")
            continue
        if not line.strip():
            block = []
            continue
        indent = len(line) - len(line.lstrip(" "))
        item = _LIST_ITEM.match(line)
        if list_indent is not None and (indent > list_indent or (item and indent == list_indent)):
            block = []
            continue
        list_indent = None
        if item:
            list_indent = indent
            block = []
            continue
        match = _KEY.match(line)
        if not match:
            block = []
            continue
        key = match.group("key").strip("\"'")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*[k for _, k in stack], key)
        stack.append((indent, key))
        starts = [i for i, entry in enumerate(block) if entry == "--" or entry.startswith("-- ")]
        if starts:
            first, *rest = block[starts[-1]:]
            named = _HELM_DOCS_LINE.match(f"# {first}")
            if named and not named.group(1):
                descriptions[path] = " ".join([first[2:].strip(), *(entry.strip() for entry in rest)]).strip()
        elif block:
            notes[path] = " ".join(entry.strip() for entry in block).strip()
        block = []
    return descriptions, notes


def leaf_paths(values: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every value helm-docs would list when nothing above it is documented (non-empty maps recurse)."""
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from leaf_paths(value, (*prefix, str(key)))
    else:
        yield prefix


def undocumented(values: dict, descriptions: dict[Path_, str]) -> list[Path_]:
    """Leaves with no description on themselves or on any map that holds them."""
    return [path for path in leaf_paths(values)
            if not any(path[:n] in descriptions and descriptions[path[:n]] for n in range(1, len(path) + 1))]


def schema_properties(schema: dict, prefix: Path_ = ()) -> Iterator[tuple[Path_, dict]]:
    """(path, node) of every property of the schema, nested through ``properties``."""
    for key, node in schema.get("properties", {}).items():
        yield (*prefix, key), node
        yield from schema_properties(node, (*prefix, key))


def described_schema(schema: dict, descriptions: dict[Path_, str], notes: dict[Path_, str]) -> dict:
    """A copy of the schema whose properties carry values.yaml's description (or section note) as ``description``.

    Properties without either lose any ``description`` they had: values.yaml is the only source.
    """
    result = json.loads(json.dumps(schema))
    for path, node in schema_properties(result):
        text = descriptions.get(path) or notes.get(path)
        rest = {key: value for key, value in node.items() if key != "description"}
        node.clear()
        node.update({"description": text, **rest} if text else rest)
    return result


def schema_gaps(schema: dict, descriptions: dict[Path_, str]) -> list[Path_]:
    """Schema properties with no description of their own and no described map above them."""
    described = {path for path, node in schema_properties(schema) if node.get("description")}
    return [path for path, _ in schema_properties(schema)
            if not any(path[:n] in described or path[:n] in descriptions for n in range(1, len(path) + 1))]


def render_schema(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def expected_schema_text(chart: Path = CHART) -> str:
    descriptions, notes = value_comments((chart / "values.yaml").read_text())
    schema = json.loads((chart / "values.schema.json").read_text())
    return render_schema(described_schema(schema, descriptions, notes))


def helm_docs_readme(helm_docs: Path, chart: Path = CHART) -> str:
    """README.md as helm-docs renders it from the chart now (--dry-run: nothing is written)."""
    completed = subprocess.run([str(helm_docs), *HELM_DOCS_ARGS, "--dry-run", "--log-level", "warning"],
                               cwd=chart, capture_output=True, text=True, timeout=120, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"helm-docs failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout


def find_helm_docs() -> Path | None:
    if HELM_DOCS.is_file():
        return HELM_DOCS
    found = shutil.which("helm-docs")
    return Path(found) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale files and exit 1; change nothing")
    args = parser.parse_args(argv)
    import yaml

    problems: list[str] = []
    values_text = (CHART / "values.yaml").read_text()
    descriptions, _ = value_comments(values_text)
    missing = undocumented(yaml.safe_load(values_text), descriptions)
    problems += [f"values.yaml: {'.'.join(path)} has no '# --' description (on it or on a map above it)"
                 for path in missing]

    schema_path = CHART / "values.schema.json"
    schema_text = expected_schema_text()
    problems += [f"values.schema.json: {'.'.join(path)} has no description and no comment in values.yaml"
                 for path in schema_gaps(json.loads(schema_text), descriptions)]
    if schema_path.read_text() != schema_text:
        if args.check:
            problems.append("values.schema.json: descriptions differ from values.yaml (run tools/chart_docs.py)")
        else:
            schema_path.write_text(schema_text)
            print(f"wrote {schema_path.relative_to(ROOT)}")

    helm_docs = find_helm_docs()
    if helm_docs is None:
        problems.append("helm-docs not built: run tools/build helm-docs")
    else:
        readme_path = CHART / "README.md"
        readme = helm_docs_readme(helm_docs)
        if not readme_path.exists() or readme_path.read_text() != readme:
            if args.check:
                problems.append("README.md: differs from what helm-docs renders (run tools/chart_docs.py)")
            else:
                readme_path.write_text(readme)
                print(f"wrote {readme_path.relative_to(ROOT)}")
    for problem in problems:
        print(f"chart_docs: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
