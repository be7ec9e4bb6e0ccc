"""Faults against a real PostgreSQL: unreachable server, wrong password, and kill -9 in mid-registration."""

from __future__ import annotations

import threading

import pytest

from components.registry.store import Database, RegistryError, RegistryUnreachable
from tests.support.postgres import admin_connection, started_server, wait_until
from tests.unit.registry.builders import entry
from tools.localcluster import postgres as pg

BLOCK_KEY = 4242


def closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bound and closed again: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_database_is_retried_with_backoff_then_named_without_the_password(pg_server):
    password = pg_server.password()
    port = closed_port()
    url = f"postgresql://{pg_server.user}:{password}@127.0.0.1:{port}/vllm_registry"
    messages: list[str] = []
    database = Database(url, connect_timeout_seconds=1, retry_timeout_seconds=1.5, on_progress=messages.append,
                        environ={})
    with pytest.raises(RegistryUnreachable) as caught:
        database.register(entry())
    text = str(caught.value)
    assert f"host 127.0.0.1 port {port} database vllm_registry (user vllm_registry)" in text
    assert "tries" in text and "registry.retryTimeoutSeconds" in text
    assert len(messages) >= 1 and all("next in" in m for m in messages)  # retried, with progress lines
    assert password not in text + "".join(messages)


def test_wrong_password_fails_at_once_without_retrying_or_echoing_it(pg_server, database_url):
    wrong = "Wr0ngSecretValue"
    url = database_url.replace(pg_server.password(), wrong)
    messages: list[str] = []
    database = Database(url, retry_timeout_seconds=30, on_progress=messages.append, environ={})
    with pytest.raises(RegistryError) as caught:
        database.register(entry())
    assert not isinstance(caught.value, RegistryUnreachable)
    assert "password authentication failed" in str(caught.value)
    assert messages == []  # no retry for a wrong password
    assert wrong not in str(caught.value) and pg_server.password() not in str(caught.value)


@pytest.fixture
def crash_server():
    """A server of its own: this test kills it."""
    server, state = started_server("vllm-registry-crash-")
    yield server, state
    pg.stop(state, remove=True)


def _url(server) -> str:
    return f"postgresql://{server.user}:{server.password()}@{server.host}:{server.port}/{server.database}"


def _row(server, columns="*"):
    with admin_connection(server, server.database) as conn:
        return conn.execute(f"SELECT {columns} FROM model_registry_entries").fetchall()


def test_kill_9_mid_registration_leaves_the_old_row_then_the_next_run_writes_the_new_one(crash_server):
    server, state = crash_server
    url = _url(server)
    old = entry(image="vllm/vllm-openai:v0.11.0", helm_revision=1.0)
    new = entry(image="vllm/vllm-openai:v0.12.0", helm_revision=2.0, p95_seconds=0.9,
                verified_at="2026-12-02T15:00:00+00:00")
    Database(url, environ={}).register(old)
    before = _row(server)

    # Hold the registration inside its transaction, after the new row version is written: an AFTER UPDATE trigger
    # waits for an advisory lock this test holds.
    with admin_connection(server, server.database) as admin:
        admin.execute(f"""CREATE FUNCTION hold_registration() RETURNS trigger LANGUAGE plpgsql AS $$
                          BEGIN PERFORM pg_advisory_xact_lock({BLOCK_KEY}); RETURN NEW; END $$""")
        admin.execute("CREATE TRIGGER hold AFTER UPDATE ON model_registry_entries "
                      "FOR EACH ROW EXECUTE FUNCTION hold_registration()")
    holder = admin_connection(server, server.database)
    holder.execute("SELECT pg_advisory_lock(%s)", [BLOCK_KEY])

    outcome: list[BaseException | object] = []

    def register() -> None:
        try:
            outcome.append(Database(url, retry_timeout_seconds=0.1, on_progress=lambda _m: None,
                                    environ={}).register(new))
        except BaseException as exc:  # noqa: BLE001 - examined below
            outcome.append(exc)

    thread = threading.Thread(target=register)
    thread.start()
    wait_until(lambda: holder.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vllm-deploy registry' "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'").fetchone()[0] == 1,
        "the registration blocked inside its transaction")
    pg.kill_server(state)  # kill -9 of the postmaster and every backend
    thread.join(timeout=60)
    holder.close()
    assert isinstance(outcome[0], RegistryError), outcome  # the registration failed: the server vanished

    pg.start(state)  # crash recovery
    assert _row(server) == before  # the old row, whole

    with admin_connection(server, server.database) as admin:
        admin.execute("DROP TRIGGER hold ON model_registry_entries")
    stored, _ = Database(url, environ={}).register(new)  # the next `pulumi up` retries only the registration
    pg.kill_server(state)  # a crash right after the commit keeps the new row
    pg.start(state)
    after = _row(server, "image, helm_revision, p95_seconds, verified_at, id, updated_at")
    assert after == [(stored["image"], 2, 0.9, stored["verified_at"], stored["id"], stored["updated_at"])]


def test_a_registration_retries_through_a_server_restart(crash_server):
    """The server is killed and comes back within the retry budget: the registration completes."""
    server, state = crash_server
    url = _url(server)
    Database(url, environ={}).migrate()
    pg.kill_server(state)
    messages: list[str] = []
    restarted = threading.Event()
    database = Database(url, retry_timeout_seconds=120, on_progress=messages.append, environ={})

    def restart_after_first_failure() -> None:
        wait_until(lambda: messages, "the first failed try")
        pg.start(state)
        restarted.set()

    helper = threading.Thread(target=restart_after_first_failure)
    helper.start()
    stored, _ = database.register(entry())
    helper.join(timeout=120)
    assert restarted.is_set() and stored["status"] == "active"
    assert "not usable" in messages[0]
