"""The registry row and the SQL that writes, retires and reads it (pure: builds values and text, no I/O).

One row per (environment, served_model_name). A registration is one ``INSERT ... ON CONFLICT DO UPDATE``
statement in one transaction, so a crash leaves the old row or the new row, never part of one. A row that
another stack holds (active, different ``stack``) is not taken over: the statement updates nothing and the
caller reports the owner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from components.presets import service_url

from .settings import RegistrySettings

__all__ = [
    "DELETE_SQL",
    "LIST_COLUMNS",
    "OWNER_SQL",
    "RETIRE_SQL",
    "ROUTABLE_SQL",
    "ROW_COLUMNS",
    "SELECT_SQL",
    "TABLE",
    "UPSERT_SQL",
    "entry_row",
    "format_rows",
    "updated_by",
]

TABLE = "model_registry_entries"
ROUTER_VIEW = "routable_models"

ROW_COLUMNS = (
    "environment", "served_model_name", "model_path", "stack", "namespace", "release_name",
    "endpoint", "api_path",
    "image", "chart_version", "helm_revision",
    "gpus_per_pod", "replicas", "max_model_len",
    "verified_at", "p50_seconds", "p95_seconds", "model_init_seconds",
    "routing_enabled", "updated_by",
)
"""What a registration writes (``status``, ``created_at``, ``updated_at`` and ``retired_at`` are set by the SQL)."""

_KEY = ("environment", "served_model_name")
_UPDATED = tuple(c for c in ROW_COLUMNS if c not in _KEY)

UPSERT_SQL = (
    f"INSERT INTO {TABLE} ({', '.join(ROW_COLUMNS)}, status)\n"
    f"VALUES ({', '.join(f'%({c})s' for c in ROW_COLUMNS)}, 'active')\n"
    f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET\n    "
    + ",\n    ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED)
    + ",\n    status = 'active', retired_at = NULL, updated_at = now()\n"
    f"WHERE {TABLE}.stack = EXCLUDED.stack OR {TABLE}.status = 'retired'\n"
    "RETURNING *"
)
"""Insert or update the row; updates nothing (no row returned) when another stack holds it active."""

OWNER_SQL = (f"SELECT stack, namespace, release_name, status FROM {TABLE} "
             "WHERE environment = %s AND served_model_name = %s")

RETIRE_SQL = (
    f"UPDATE {TABLE} SET status = 'retired', routing_enabled = false, retired_at = now(), updated_at = now(), "
    "updated_by = %(updated_by)s\n"
    "WHERE environment = %(environment)s AND served_model_name = %(served_model_name)s AND stack = %(stack)s\n"
    "RETURNING *"
)
"""Keep the row as history; only the stack that wrote it retires it."""

DELETE_SQL = (
    f"DELETE FROM {TABLE} WHERE environment = %(environment)s AND served_model_name = %(served_model_name)s "
    "AND stack = %(stack)s RETURNING *"
)

SELECT_SQL = f"SELECT * FROM {TABLE} WHERE environment = %s AND served_model_name = %s"

LIST_COLUMNS = (
    "environment", "served_model_name", "status", "routing_enabled", "endpoint", "api_path", "image",
    "helm_revision", "p95_seconds", "verified_at", "updated_by",
)

ROUTABLE_COLUMNS = ("environment", "served_model_name", "url", "image", "helm_revision", "p95_seconds", "verified_at")

ROUTABLE_SQL = f"SELECT * FROM {ROUTER_VIEW} ORDER BY environment, served_model_name"
"""The router's query: exactly the routable models."""


def updated_by(user: str, stack: str) -> str:
    """``user@project/stack``: who wrote the row, from which stack (``stack`` is ``project/stack``)."""
    return f"{user or 'unknown'}@{stack}"


def entry_row(settings: RegistrySettings, writer: str) -> dict[str, Any]:
    """The values a registration writes for ``settings`` (column -> value)."""
    return {
        "environment": settings.environment,
        "served_model_name": settings.served_model_name,
        "model_path": settings.model_path,
        "stack": settings.stack,
        "namespace": settings.namespace,
        "release_name": settings.release_name,
        "endpoint": service_url(settings.release_name, settings.namespace, settings.service_port),
        "api_path": settings.api_path,
        "image": settings.image,
        "chart_version": settings.chart_version,
        "helm_revision": settings.helm_revision,
        "gpus_per_pod": settings.gpus_per_pod,
        "replicas": settings.replicas,
        "max_model_len": settings.max_model_len,
        "verified_at": datetime.fromisoformat(settings.verified_at.replace("Z", "+00:00")),
        "p50_seconds": settings.p50_seconds,
        "p95_seconds": settings.p95_seconds,
        "model_init_seconds": settings.model_init_seconds,
        "routing_enabled": settings.routing_enabled,
        "updated_by": writer,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = LIST_COLUMNS) -> str:
    """A plain-text table of ``rows`` (one line per row), or a sentence when there are none."""
    if not rows:
        return "(no registry entries)"
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def format_record(row: Mapping[str, Any]) -> str:
    """One row as ``column=value`` lines (the demo's closing print)."""
    return "\n".join(f"{key}={_cell(value)}" for key, value in row.items())
