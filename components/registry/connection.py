"""Which PostgreSQL server and database the registry uses, said without the password (pure, no I/O).

Where the connection comes from, first match wins:
1. the stack's secret ``registry.databaseUrl`` (the resource's ``database_url`` input): a ``postgresql://`` URL
   or a libpq ``key=value`` string;
2. ``DATABASE_URL`` in the environment of ``pulumi up`` (the same two forms);
3. libpq's own environment: ``PGHOST``, ``PGPORT``, ``PGDATABASE``, ``PGUSER``, ``PGPASSWORD``/``PGPASSFILE``,
   ``PGSERVICE`` (libpq reads these itself; see the PostgreSQL manual, "Environment Variables").

Parsing uses libpq's own parser (``psycopg.conninfo.conninfo_to_dict``), which does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "LIBPQ_ENV",
    "Target",
    "conninfo_problem",
    "describe_target",
    "missing_connection_problem",
    "redact",
    "resolve_conninfo",
    "secrets_of",
]

LIBPQ_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")
_SCHEMES = ("postgresql://", "postgres://")
_FORMS = "a postgresql://user@host:port/dbname URL or a libpq 'host=... dbname=...' string"


def _parsed(conninfo: str) -> dict | None:
    """libpq's reading of ``conninfo`` as a dict, or None when libpq cannot parse it.

    psycopg is imported here, not at module level: ``VllmModel`` imports this module on every preview, and
    psycopg's import is about a third of the program's own start-up.
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(conninfo)
    except ProgrammingError:
        return None


def conninfo_problem(conninfo: str) -> str | None:
    """Why ``conninfo`` is not a usable connection string, or None; the value itself is never quoted."""
    if conninfo == "":
        return None
    if not conninfo.startswith(_SCHEMES) and "=" not in conninfo:
        return _FORMS + " (value hidden: it is a secret)"
    if _parsed(conninfo) is None:
        # libpq's message may quote part of the string (the password): say only what is allowed.
        return _FORMS + " that libpq can parse (value hidden: it is a secret)"
    return None


def resolve_conninfo(database_url: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """The connection string to use and where it came from (for messages)."""
    if database_url:
        return database_url, "registry.databaseUrl"
    if environ.get("DATABASE_URL"):
        return environ["DATABASE_URL"], "DATABASE_URL"
    return "", "the libpq environment (" + ", ".join(k for k in LIBPQ_ENV if environ.get(k)) + ")"


def missing_connection_problem(database_url: str, environ: Mapping[str, str]) -> str | None:
    """A problem when no connection is configured anywhere (checked at preview, in the provider's environment)."""
    if database_url or environ.get("DATABASE_URL") or any(environ.get(k) for k in LIBPQ_ENV):
        return None
    return ("the registry is enabled but no database is configured: set the secret vllm-deploy:registry.databaseUrl "
            "(pulumi config set --secret --path vllm-deploy:registry.databaseUrl postgresql://user@host:5432/db), "
            "or DATABASE_URL or PGHOST/PGDATABASE/PGUSER in the environment of `pulumi up`")


@dataclass(frozen=True)
class Target:
    """Host, port, database and user: what an error may name (never the password)."""

    host: str
    port: str
    dbname: str
    user: str

    def __str__(self) -> str:
        return f"host {self.host} port {self.port} database {self.dbname} (user {self.user})"

    @property
    def short(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"


def describe_target(conninfo: str, environ: Mapping[str, str]) -> Target:
    """The server libpq will contact for ``conninfo``, filling gaps from the environment as libpq does."""
    params = (_parsed(conninfo) or {}) if conninfo else {}
    user = str(params.get("user") or environ.get("PGUSER") or environ.get("USER") or "(current user)")
    return Target(
        host=str(params.get("host") or params.get("hostaddr") or environ.get("PGHOST")
                 or environ.get("PGHOSTADDR") or "localhost (Unix socket)"),
        port=str(params.get("port") or environ.get("PGPORT") or "5432"),
        dbname=str(params.get("dbname") or environ.get("PGDATABASE") or user),
        user=user,
    )


def secrets_of(conninfo: str, environ: Mapping[str, str]) -> list[str]:
    """Every password that could reach a message: in the connection string, its URL form, ``PGPASSWORD``."""
    found: list[str] = []
    password = (_parsed(conninfo) or {}).get("password") if conninfo else None
    if password:
        found.append(str(password))
    if conninfo.startswith(_SCHEMES) and "@" in conninfo:
        userinfo = conninfo.split("://", 1)[1].split("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])  # as written (maybe percent-encoded)
    if environ.get("PGPASSWORD"):
        found.append(environ["PGPASSWORD"])
    return [s for s in found if s]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text
