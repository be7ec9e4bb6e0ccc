"""Fixtures: one real PostgreSQL server for the session (tools/localcluster/postgres.py), an empty database per test."""

from __future__ import annotations

import pytest

from components.registry.store import Database
from tests.support.postgres import admin_connection, drop_database, fresh_database, started_server
from tools.localcluster import postgres as pg


@pytest.fixture(scope="session")
def pg_server():
    server, state = started_server()
    yield server
    pg.stop(state, remove=True)


@pytest.fixture
def database_url(pg_server):
    """URL (password included) of a new empty database."""
    name, url = fresh_database(pg_server)
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def registry(database_url):
    """A ``Database`` on the test's database; progress messages collected in ``registry.messages``."""
    messages: list[str] = []
    database = Database(database_url, connect_timeout_seconds=5, retry_timeout_seconds=10,
                        on_progress=messages.append, environ={})
    database.messages = messages
    return database


@pytest.fixture
def sql(pg_server, database_url):
    """Superuser connection to the test's database (to look at what the registry wrote)."""
    name = database_url.rsplit("/", 1)[1]
    with admin_connection(pg_server, name) as conn:
        yield conn
