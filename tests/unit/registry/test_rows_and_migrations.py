"""The row, the SQL text and the migration plan (pure)."""

import pytest

from components.registry.migrate import Migration, MigrationError, discover, pending
from components.registry.rows import ROW_COLUMNS, UPSERT_SQL, format_rows, updated_by
from tests.unit.registry.builders import entry


def test_row_uses_the_service_dns_name_never_a_pod_ip():
    row = entry(release_name="llama-7b-production", namespace="models", service_port=8000.0)
    assert row["endpoint"] == "http://llama-7b-production.models.svc.cluster.local:8000"
    assert set(row) == set(ROW_COLUMNS)


def test_upsert_writes_every_column_and_never_takes_another_stacks_active_row():
    for column in ROW_COLUMNS:
        assert f"%({column})s" in UPSERT_SQL
    assert "ON CONFLICT (environment, served_model_name) DO UPDATE" in UPSERT_SQL
    assert "WHERE model_registry_entries.stack = EXCLUDED.stack OR model_registry_entries.status = 'retired'" in \
        UPSERT_SQL
    assert "created_at" not in UPSERT_SQL.split("DO UPDATE")[1]  # kept from the first registration


def test_updated_by_names_user_and_stack():
    assert updated_by("alice", "vllm-deploy/production") == "alice@vllm-deploy/production"
    assert updated_by("", "p/s") == "unknown@p/s"


def test_format_rows():
    assert format_rows([]) == "(no registry entries)"
    text = format_rows([{"environment": "staging", "served_model_name": "m", "p95_seconds": 0.25}],
                       ("environment", "served_model_name", "p95_seconds", "image"))
    assert text.splitlines() == ["environment  served_model_name  p95_seconds  image",
                                 "staging      m                  0.250        -"]


def test_shipped_migrations_are_numbered_without_gaps():
    assert [(m.version, m.name) for m in discover()] == [(1, "model_registry_entries"),
                                                          (2, "routable_models_and_init_time")]


def test_pending_skips_applied_and_refuses_edited_ones():
    one, two = Migration(1, "a", "SELECT 1"), Migration(2, "b", "SELECT 2")
    assert pending([one, two], {}) == [one, two]
    assert pending([one, two], {1: one.checksum}) == [two]
    with pytest.raises(MigrationError, match="0001_a.sql was changed"):
        pending([one, two], {1: "0" * 64})
