"""The registry's I/O: reach PostgreSQL (bounded retries with ``backoff``), migrate, write and read rows.

Every operation is one attempt function run under ``with_retries``: connect, ensure the schema, do the work
in one transaction, close. A connection lost anywhere in an attempt (server down, restarted, killed) rolls
the transaction back on the server and the whole attempt is retried, which is safe because every write is an
idempotent upsert/update. Errors that retrying cannot fix (wrong password, missing database, a row owned by
another stack) fail at once with the diagnosis. Messages name the host, port, database and user; passwords
are removed from anything a driver error might echo.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import backoff
import psycopg
from psycopg.rows import dict_row

from components.config import REGISTRY_CONNECT_TIMEOUT_SECONDS, REGISTRY_RETRY_TIMEOUT_SECONDS

from .connection import Target, describe_target, redact, resolve_conninfo, secrets_of
from .migrate import apply_migrations
from .rows import DELETE_SQL, LIST_COLUMNS, OWNER_SQL, RETIRE_SQL, ROUTABLE_SQL, SELECT_SQL, TABLE, UPSERT_SQL

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_RETRY_TIMEOUT_SECONDS",
    "Database",
    "RegistryError",
    "RegistryUnreachable",
    "current_user",
]

DEFAULT_CONNECT_TIMEOUT_SECONDS = REGISTRY_CONNECT_TIMEOUT_SECONDS
DEFAULT_RETRY_TIMEOUT_SECONDS = REGISTRY_RETRY_TIMEOUT_SECONDS
MAX_BACKOFF_SECONDS = 10.0
APPLICATION_NAME = "vllm-deploy registry"
_PERMANENT = (
    "password authentication failed", "no password supplied", "does not exist", "permission denied",
    "no pg_hba.conf entry", "authentication",
)

T = TypeVar("T")


class RegistryError(RuntimeError):
    """The registry operation failed for a reason retrying does not fix; the message is the diagnosis."""


class RegistryUnreachable(RegistryError):
    """PostgreSQL could not be reached within the retry budget."""


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _permanent(error: psycopg.OperationalError) -> bool:
    text = str(error).lower()
    return any(marker in text for marker in _PERMANENT)


@dataclass
class Database:
    """Where the registry lives and how hard to try; builds a fresh connection per attempt."""

    database_url: str = field(default="", repr=False)
    connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    retry_timeout_seconds: float = DEFAULT_RETRY_TIMEOUT_SECONDS
    on_progress: Callable[[str], None] = print
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    def __post_init__(self) -> None:
        self._conninfo, self.source = resolve_conninfo(self.database_url, self.environ)
        self.target: Target = describe_target(self._conninfo, self.environ)
        self._secrets = secrets_of(self._conninfo, self.environ)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    # ------------------------------------------------------------------ connections and retries
    def connect(self) -> psycopg.Connection:
        """One connection attempt (autocommit: every write runs in an explicit transaction)."""
        return psycopg.connect(self._conninfo, autocommit=True, row_factory=dict_row,
                               connect_timeout=max(1, round(self.connect_timeout_seconds)),
                               application_name=APPLICATION_NAME)

    def with_retries(self, what: str, attempt: Callable[[psycopg.Connection], T]) -> T:
        """Run ``attempt`` on a fresh connection; retry lost connections with exponential backoff, bounded."""
        started = time.monotonic()
        tries = {"n": 0}

        def give_up(error: Exception) -> bool:
            return isinstance(error, psycopg.OperationalError) and _permanent(error)

        def report(details: Mapping[str, Any]) -> None:
            error = details["exception"]
            self.on_progress(
                f"registry: {what}: PostgreSQL at {self.target.short} not usable "
                f"({self.redact(_first_line(error))}); try {details['tries']} failed, next in {details['wait']:.1f} s "
                f"(giving up {self.retry_timeout_seconds:g} s after the first try)")

        @backoff.on_exception(backoff.expo, psycopg.OperationalError, max_time=lambda: self.retry_timeout_seconds,
                              max_value=MAX_BACKOFF_SECONDS, giveup=give_up, on_backoff=report, logger=None,
                              raise_on_giveup=True)
        def run() -> T:
            tries["n"] += 1
            with self.connect() as conn:
                return attempt(conn)

        try:
            return run()
        except psycopg.OperationalError as error:
            elapsed = time.monotonic() - started
            reason = self.redact(_first_line(error))
            if _permanent(error):
                raise RegistryError(f"registry: {what} failed: PostgreSQL at {self.target} refused: {reason} "
                                    f"(connection from {self.source})") from None
            raise RegistryUnreachable(
                f"registry: {what} failed: cannot reach PostgreSQL at {self.target} after {tries['n']} "
                f"tries in {elapsed:.0f} s: {reason} (connection from {self.source}; raise "
                "registry.retryTimeoutSeconds to wait longer)") from None
        except psycopg.Error as error:
            raise RegistryError(f"registry: {what} failed on {self.target}: "
                                f"{self.redact(_first_line(error))}") from None

    # ------------------------------------------------------------------ operations
    def migrate(self, target: int | None = None) -> int:
        """Apply pending migrations (up to ``target``); the schema version afterwards."""
        return self.with_retries("migrate", lambda conn: apply_migrations(conn, target=target,
                                                                            on_progress=self.on_progress))

    def register(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """Upsert ``row`` (see rows.UPSERT_SQL); the row as stored and the schema version."""

        def attempt(conn: psycopg.Connection) -> tuple[dict[str, Any], int]:
            version = apply_migrations(conn, on_progress=self.on_progress)
            with conn.transaction():
                stored = conn.execute(UPSERT_SQL, dict(row)).fetchone()
                if stored is None:
                    owner = conn.execute(OWNER_SQL, [row["environment"], row["served_model_name"]]).fetchone()
                    raise RegistryError(_owned_elsewhere(row, owner))
            return stored, version

        return self.with_retries(f"registering {row['environment']}/{row['served_model_name']}", attempt)

    def retire(self, key: Mapping[str, Any], *, delete: bool = False) -> dict[str, Any] | None:
        """Mark the stack's row retired (or delete it); the row as it was left, None when there was none."""

        def attempt(conn: psycopg.Connection) -> dict[str, Any] | None:
            apply_migrations(conn, on_progress=self.on_progress)
            with conn.transaction():
                return conn.execute(DELETE_SQL if delete else RETIRE_SQL, dict(key)).fetchone()

        verb = "deleting" if delete else "retiring"
        return self.with_retries(f"{verb} {key['environment']}/{key['served_model_name']}", attempt)

    def fetch(self, environment: str, served_model_name: str) -> dict[str, Any] | None:
        """The row of ``environment``/``served_model_name``, or None (also when the schema does not exist)."""

        def attempt(conn: psycopg.Connection) -> dict[str, Any] | None:
            if not _table_exists(conn):
                return None
            return conn.execute(SELECT_SQL, [environment, served_model_name]).fetchone()

        return self.with_retries(f"reading {environment}/{served_model_name}", attempt)

    def list(self, *, environment: str | None = None, routable_only: bool = False) -> list[dict[str, Any]]:
        """Rows (all, or the router view's), ordered by environment and name."""

        def attempt(conn: psycopg.Connection) -> list[dict[str, Any]]:
            if not _table_exists(conn):
                return []
            if routable_only:
                rows = conn.execute(ROUTABLE_SQL).fetchall()
            else:
                rows = conn.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM {TABLE} "
                                    "ORDER BY environment, served_model_name").fetchall()
            return [r for r in rows if environment is None or r["environment"] == environment]

        return self.with_retries("listing the registry", attempt)


def _table_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present", [TABLE]).fetchone()["present"]


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _owned_elsewhere(row: Mapping[str, Any], owner: Mapping[str, Any] | None) -> str:
    where = (f"stack {owner['stack']} (release {owner['release_name']} in namespace {owner['namespace']})"
             if owner else "another stack")
    return (f"registry: {row['served_model_name']!r} in environment {row['environment']!r} is registered as active "
            f"by {where}; a served model name routes to one deployment per environment. Retire it there "
            f"(pulumi destroy, or registry.enabled: false) or choose another model.servedModelName.")
