"""Versioned SQL migrations of the registry schema, applied once even when several `pulumi up` start at once.

Files ``migrations/NNNN_name.sql`` are applied in order. The applied versions are recorded in
``model_registry_schema_migrations`` (version, name, sha256 of the file, when, by whom). ``apply_migrations``
takes a transaction-level advisory lock, re-reads the applied versions under it, and applies every pending
file and its version row in that one transaction: two concurrent runs serialize on the lock (the second finds
nothing to do), and a run killed half-way leaves the schema as it was. An applied file that was edited
afterwards (checksum differs) is an error, never silently re-applied.

Pure parts: ``discover`` (read the files), ``pending`` (what is left to apply). ``apply_migrations`` needs a
psycopg connection.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.rows import tuple_row

__all__ = [
    "LOCK_KEY",
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "applied_versions",
    "discover",
    "latest_version",
    "pending",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "model_registry_schema_migrations"
LOCK_KEY = 0x766C6C6D_5265_67  # "vllm" "Reg": one advisory lock id for every migrating session
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_VERSION_TABLE = f"""
CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text        NOT NULL DEFAULT current_user
)"""


class MigrationError(RuntimeError):
    """The database's schema history does not match the migration files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; names must be ``NNNN_lowercase_name.sql`` with no gaps."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration versions must be 1, 2, 3 ... without gaps; found {migration.version} "
                                 f"where {expected} was expected")
    return found


def latest_version(migrations: Sequence[Migration] | None = None) -> int:
    migrations = discover() if migrations is None else migrations
    return migrations[-1].version if migrations else 0


def pending(migrations: Sequence[Migration], applied: Mapping[int, str]) -> list[Migration]:
    """Migrations not applied yet; raises ``MigrationError`` when an applied one was edited since."""
    for migration in migrations:
        checksum = applied.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}.sql was changed after it was applied "
                f"(checksum in {VERSION_TABLE} differs); add a new migration instead of editing an applied one")
    return [m for m in migrations if m.version not in applied]


def applied_versions(conn: Any) -> dict[int, str]:
    """version -> checksum of the applied migrations ({} on an empty database)."""
    cur = conn.cursor(row_factory=tuple_row)
    if not cur.execute("SELECT to_regclass(%s) IS NOT NULL", [VERSION_TABLE]).fetchone()[0]:
        return {}
    return dict(cur.execute(f"SELECT version, checksum FROM {VERSION_TABLE}").fetchall())


def apply_migrations(conn: Any, *, target: int | None = None, migrations: Sequence[Migration] | None = None,
                     on_progress: Callable[[str], None] = lambda _m: None) -> int:
    """Bring the schema to ``target`` (default: the latest file); returns the schema version afterwards.

    ``conn`` is a psycopg connection not inside a transaction. Cheap when nothing is pending: one query,
    no lock, no DDL.
    """
    migrations = list(discover() if migrations is None else migrations)
    if target is not None:
        migrations = [m for m in migrations if m.version <= target]
    wanted = migrations[-1].version if migrations else 0
    with conn.transaction():
        if not pending(migrations, applied_versions(conn)):
            return max(applied_versions(conn), default=0)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        conn.execute(_CREATE_VERSION_TABLE)
        todo = pending(migrations, applied_versions(conn))  # again: another run may have applied them meanwhile
        for migration in todo:
            on_progress(f"applying migration {migration.version:04d}_{migration.name}")
            conn.execute(migration.sql)
            conn.execute(f"INSERT INTO {VERSION_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                         [migration.version, migration.name, migration.checksum])
    return max(wanted, max(applied_versions(conn), default=0))
