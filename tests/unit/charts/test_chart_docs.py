"""Chart documentation: every value described in values.yaml, the schema and README.md generated from it."""

import json

import pytest
import yaml

from tests.support.tools import require_tool
from tools.chart_docs import (
    CHART,
    described_schema,
    expected_schema_text,
    helm_docs_readme,
    schema_gaps,
    undocumented,
    value_comments,
)

VALUES_TEXT = (CHART / "values.yaml").read_text()


def test_every_value_is_documented():
    descriptions, _ = value_comments(VALUES_TEXT)
    assert undocumented(yaml.safe_load(VALUES_TEXT), descriptions) == []


def test_schema_descriptions_are_the_values_comments():
    """values.schema.json carries values.yaml's text; run `python tools/chart_docs.py` after editing a comment."""
    assert (CHART / "values.schema.json").read_text() == expected_schema_text()


def test_every_schema_property_is_described():
    descriptions, _ = value_comments(VALUES_TEXT)
    assert schema_gaps(json.loads((CHART / "values.schema.json").read_text()), descriptions) == []


@pytest.mark.tools
def test_readme_is_what_helm_docs_renders():
    """README.md is generated; run `python tools/chart_docs.py` after editing values.yaml or README.md.gotmpl."""
    rendered = helm_docs_readme(require_tool("helm-docs"))
    assert (CHART / "README.md").read_text() == rendered
    rows = [line for line in rendered.splitlines() if line.startswith("| ") and not line.startswith("| Key ")]
    assert len(rows) > 50
    assert [row for row in rows if row.endswith("|  |")] == []  # helm-docs found a description for every row


def test_comment_parser_follows_helm_docs_conventions():
    text = """\
# File header, detached by the blank line.

# -- Top-level value.
top: 1
# Plain note on a section.
section:
  # -- A leaf, described over
  # two lines.
  leaf: a
  undocumented: b
  # -- An earlier block, superseded.
  # An ignored plain line.
  # -- Only the last block counts.
  "quoted.key": c
  # -- Sets vLLM's --flag: helm-docs reads this as the description of a key named "-- Sets vLLM's".
  flagged: d
list:
  - name: x
    # -- Inside a list item: not a values key.
    inner: y
after: 2
"""
    descriptions, notes = value_comments(text)
    assert descriptions == {
        ("top",): "Top-level value.",
        ("section", "leaf"): "A leaf, described over two lines.",
        ("section", "quoted.key"): "Only the last block counts.",
    }
    assert notes == {("section",): "Plain note on a section."}
    assert undocumented(yaml.safe_load(text), descriptions) == [
        ("section", "undocumented"), ("section", "flagged"), ("list",), ("after",)]


def test_described_schema_takes_descriptions_then_notes_and_drops_stale_text():
    schema = {"properties": {
        "section": {"type": "object", "properties": {"leaf": {"type": "string", "description": "old"}}},
        "other": {"type": "integer", "description": "stale"},
    }}
    result = described_schema(schema, {("section", "leaf"): "new"}, {("section",): "note"})
    assert result["properties"]["section"]["description"] == "note"
    assert result["properties"]["section"]["properties"]["leaf"] == {"description": "new", "type": "string"}
    assert "description" not in result["properties"]["other"]
    assert schema_gaps(result, {}) == [("other",)]
    assert schema["properties"]["other"]["description"] == "stale"  # the input is not changed
