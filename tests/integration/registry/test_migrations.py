"""Schema migrations on a real PostgreSQL: from empty, from the previous version, idempotent, concurrent."""

from __future__ import annotations

import threading

import psycopg
import pytest

from components.registry.migrate import LOCK_KEY, VERSION_TABLE, Migration, MigrationError, apply_migrations, discover
from tests.support.postgres import wait_until

LATEST = discover()[-1].version


def tables(sql) -> set[str]:
    rows = sql.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()
    return {r[0] for r in rows}


def versions(sql) -> list[tuple[int, str]]:
    return sql.execute(f"SELECT version, name FROM {VERSION_TABLE} ORDER BY version").fetchall()


def test_from_empty_creates_table_view_and_records_every_version(registry, sql):
    assert tables(sql) == set()
    assert registry.migrate() == LATEST == 2
    assert {"model_registry_entries", VERSION_TABLE, "routable_models"} <= tables(sql)
    assert versions(sql) == [(1, "model_registry_entries"), (2, "routable_models_and_init_time")]
    columns = {r[0] for r in sql.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'model_registry_entries'").fetchall()}
    assert {"environment", "served_model_name", "endpoint", "api_path", "image", "chart_version", "helm_revision",
            "gpus_per_pod", "replicas", "max_model_len", "verified_at", "p50_seconds", "p95_seconds",
            "model_init_seconds", "status", "routing_enabled", "created_at", "updated_at", "updated_by"} <= columns
    unique = sql.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'u' AND "
                         "conrelid = 'model_registry_entries'::regclass").fetchall()
    assert unique == [("UNIQUE (environment, served_model_name)",)]


def test_from_the_previous_version_keeps_rows_and_adds_the_view(registry, sql):
    assert registry.migrate(target=1) == 1
    assert "routable_models" not in tables(sql)
    sql.execute("""INSERT INTO model_registry_entries (environment, served_model_name, model_path, stack, namespace,
                   release_name, endpoint, api_path, image, chart_version, helm_revision, gpus_per_pod, replicas,
                   verified_at, p95_seconds, routing_enabled, updated_by)
                   VALUES ('staging', 'llama-13b', 'meta-llama/Llama-2-13b-chat-hf', 'vllm-deploy/staging', 'system',
                   'llama-13b-staging', 'http://llama-13b-staging.system.svc.cluster.local:8000',
                   '/v1/chat/completions', 'vllm/vllm-openai:v0.11.0', '0.1.0', 3, 2, 1, now(), 0.8, true, 'ops')""")
    assert registry.migrate() == 2
    row = sql.execute("SELECT served_model_name, helm_revision, model_init_seconds FROM model_registry_entries"
                      ).fetchone()
    assert row == ("llama-13b", 3, None)
    assert sql.execute("SELECT served_model_name, url FROM routable_models").fetchall() == [
        ("llama-13b", "http://llama-13b-staging.system.svc.cluster.local:8000/v1/chat/completions")]
    assert [v for v, _ in versions(sql)] == [1, 2]


def test_second_run_applies_nothing(registry, sql):
    registry.migrate()
    before = sql.execute(f"SELECT version, applied_at FROM {VERSION_TABLE} ORDER BY version").fetchall()
    registry.messages.clear()
    assert registry.migrate() == 2
    assert sql.execute(f"SELECT version, applied_at FROM {VERSION_TABLE} ORDER BY version").fetchall() == before
    assert not [m for m in registry.messages if "applying" in m]


def test_an_applied_migration_that_was_edited_is_refused(registry, database_url):
    registry.migrate()
    edited = [Migration(m.version, m.name, m.sql + "\n-- edited") if m.version == 1 else m for m in discover()]
    with psycopg.connect(database_url, autocommit=True) as conn, pytest.raises(MigrationError, match="was changed"):
        apply_migrations(conn, migrations=edited)


def test_runs_that_start_together_wait_for_the_lock_and_apply_once(registry, database_url, sql):
    """Two `pulumi up` at once: the test holds the advisory lock, both runs queue on it, then each finishes."""
    sql.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    results, errors = [], []

    def run():
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                results.append(apply_migrations(conn))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    waiting = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
               "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    wait_until(lambda: sql.execute(waiting).fetchone()[0] == 2, "both runs waiting on the migration lock")
    assert VERSION_TABLE not in tables(sql)  # nothing applied while the lock is held
    sql.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and results == [2, 2]
    assert [v for v, _ in versions(sql)] == [1, 2]


def test_many_runs_from_empty_at_once_all_succeed(database_url, sql):
    barrier = threading.Barrier(6)
    results, errors = [], []

    def run():
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                barrier.wait(timeout=30)
                results.append(apply_migrations(conn))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert results == [2] * 6
    assert [v for v, _ in versions(sql)] == [1, 2]
