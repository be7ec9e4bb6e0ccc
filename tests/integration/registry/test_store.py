"""Registration, retirement and the router's view on a real PostgreSQL; two stacks at once lose nothing."""

from __future__ import annotations

import threading

import pytest

from components.registry.rows import ROUTABLE_SQL
from components.registry.store import Database, RegistryError
from tests.unit.registry.builders import entry, key


def test_register_writes_every_column_and_the_service_dns_endpoint(registry):
    stored, version = registry.register(entry(model_init_seconds=41.5))
    assert version == 2
    assert stored["status"] == "active" and stored["routing_enabled"] is True
    assert stored["endpoint"] == "http://llama-7b-local.system.svc.cluster.local:8000"
    assert (stored["image"], stored["chart_version"], stored["helm_revision"]) == ("vllm/vllm-openai:v0.11.0",
                                                                                  "0.1.0", 1)
    assert (stored["gpus_per_pod"], stored["replicas"], stored["max_model_len"]) == (1, 1, 4096)
    assert (stored["p50_seconds"], stored["p95_seconds"], stored["model_init_seconds"]) == (0.12, 0.25, 41.5)
    assert stored["verified_at"].isoformat() == "2026-12-02T13:30:00+00:00"
    assert stored["updated_by"] == "tester@vllm-deploy/local" and stored["stack"] == "vllm-deploy/local"
    assert stored["created_at"] == stored["updated_at"] and stored["retired_at"] is None


def test_upsert_updates_the_same_row_and_keeps_created_at(registry):
    first, _ = registry.register(entry())
    second, _ = registry.register(entry(image="vllm/vllm-openai:v0.11.1", helm_revision=2.0, p95_seconds=0.4,
                                        verified_at="2026-12-02T14:00:00+00:00"))
    assert second["id"] == first["id"]
    assert (second["image"], second["helm_revision"], second["p95_seconds"]) == ("vllm/vllm-openai:v0.11.1", 2, 0.4)
    assert second["created_at"] == first["created_at"] and second["updated_at"] > first["updated_at"]
    assert len(registry.list()) == 1


def test_retire_keeps_the_row_as_history_and_takes_it_out_of_routing(registry, sql):
    stored, _ = registry.register(entry())
    assert [r["served_model_name"] for r in registry.list(routable_only=True)] == ["llama-7b"]
    retired = registry.retire(key(stored))
    assert retired["status"] == "retired" and retired["routing_enabled"] is False
    assert retired["retired_at"] is not None and retired["id"] == stored["id"]
    assert registry.list(routable_only=True) == []
    assert sql.execute("SELECT count(*) FROM model_registry_entries").fetchone()[0] == 1
    again, _ = registry.register(entry())  # a later `pulumi up` makes it active again
    assert (again["id"], again["status"], again["retired_at"]) == (stored["id"], "active", None)


def test_delete_mode_removes_the_row_and_retire_of_a_missing_row_is_a_no_op(registry):
    stored, _ = registry.register(entry())
    assert registry.retire(key(stored), delete=True)["id"] == stored["id"]
    assert registry.list() == []
    assert registry.retire(key(stored)) is None


def test_the_router_view_lists_exactly_active_routing_enabled_models(registry, sql):
    registry.register(entry(served_model_name="routed"))
    registry.register(entry(served_model_name="not-routed", routing_enabled=False))
    gone, _ = registry.register(entry(served_model_name="retired"))
    registry.retire(key(gone))
    rows = sql.execute(ROUTABLE_SQL).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("development", "routed")]
    assert [r["url"] for r in registry.list(routable_only=True)] == [
        "http://llama-7b-local.system.svc.cluster.local:8000/v1/chat/completions"]


def test_an_active_row_of_another_stack_is_not_taken_over(registry):
    registry.register(entry())
    intruder = entry(stack="vllm-deploy/other", release_name="other-release")
    with pytest.raises(RegistryError, match="registered as active by stack vllm-deploy/local"):
        registry.register(intruder)
    assert registry.fetch("development", "llama-7b")["stack"] == "vllm-deploy/local"
    registry.retire(key(entry()))
    taken, _ = registry.register(intruder)  # once retired, another stack may serve the name
    assert taken["stack"] == "vllm-deploy/other" and taken["status"] == "active"


def test_two_stacks_registering_different_models_at_once_lose_nothing(database_url):
    """Eight stacks from an empty database at once: migrations run once, every row is there."""
    names = [f"model-{i}" for i in range(8)]
    barrier = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def register(name: str) -> None:
        database = Database(database_url, retry_timeout_seconds=10, on_progress=lambda _m: None, environ={})
        try:
            barrier.wait(timeout=30)
            database.register(entry(served_model_name=name, stack=f"vllm-deploy/{name}", release_name=name))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    rows = Database(database_url, environ={}).list()
    assert sorted(r["served_model_name"] for r in rows) == names
    assert all(r["status"] == "active" for r in rows)


def test_the_same_stack_registering_twice_at_once_leaves_one_row(database_url):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def register(tag: str) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(Database(database_url, environ={}, on_progress=lambda _m: None).register(
                entry(image=f"vllm/vllm-openai:{tag}"))[0])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(t,)) for t in ("v1", "v2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    rows = Database(database_url, environ={}).list()
    assert len(rows) == 1 and rows[0]["image"] in ("vllm/vllm-openai:v1", "vllm/vllm-openai:v2")
    assert results[0]["id"] == results[1]["id"]
