"""A real PostgreSQL server for tests, started with tools/localcluster/postgres.py in a temporary directory.

``ensure_server_binaries()`` installs Debian's server package when the binaries are missing and we are root
with apt-get (a fresh CI machine); elsewhere the error says how to install them. ``fresh_database()`` gives
each test an empty database owned by the registry role, as a URL with the password in it (so tests can check
that the password never reaches a message).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from tools.localcluster import postgres as pg

__all__ = ["PgServer", "admin_connection", "ensure_server_binaries", "fresh_database", "started_server"]

PgServer = pg.PostgresServer


def ensure_server_binaries() -> Path:
    try:
        return pg.find_bin_dir()
    except pg.PostgresError:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise
    print("[tests] PostgreSQL server binaries missing: apt-get update && apt-get install -y postgresql", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True, env=env,
                   timeout=900)
    return pg.find_bin_dir()


def started_server(prefix: str = "vllm-registry-pg-") -> tuple[PgServer, Path]:
    """A new server in a new directory (readable by the server user when we are root)."""
    ensure_server_binaries()
    state = Path(tempfile.mkdtemp(prefix=prefix))
    state.chmod(0o755)
    return pg.start(state, port=_free_port()), state


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_connection(server: PgServer, database: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host=server.host, port=server.port, dbname=database, user=pg.SUPERUSER,
                           password=server.password(superuser=True), autocommit=True)


def fresh_database(server: PgServer) -> tuple[str, str]:
    """A new empty database owned by the registry role: (name, URL with the password)."""
    name = f"test_{uuid.uuid4().hex[:10]}"
    with admin_connection(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER {server.user}')
    url = f"postgresql://{server.user}:{server.password()}@{server.host}:{server.port}/{name}"
    return name, url


def drop_database(server: PgServer, name: str) -> None:
    with admin_connection(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_until(predicate, what: str, timeout: float = 60, interval: float = 0.05):
    """Poll a server-side state (lock waits, backends) that PostgreSQL does not announce; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
