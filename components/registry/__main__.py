"""The registry outside Pulumi: ``python -m components.registry migrate|list|show|routable``.

The database comes from the environment, as for ``pulumi up`` without ``registry.databaseUrl``: ``DATABASE_URL``
(a postgresql:// URL or a libpq string), else libpq's PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSFILE/PGPASSWORD.
``source tools/env.sh`` sets these for the local cluster's server. Passwords are never printed.

    python -m components.registry migrate [--to N]      apply pending migrations (safe to run concurrently)
    python -m components.registry list [--environment development]
    python -m components.registry routable              what the API router routes to (the routable_models view)
    python -m components.registry show ENVIRONMENT SERVED_MODEL_NAME
"""

from __future__ import annotations

import argparse
import json
import sys

from .migrate import discover, latest_version
from .rows import LIST_COLUMNS, ROUTABLE_COLUMNS, format_record, format_rows
from .store import DEFAULT_RETRY_TIMEOUT_SECONDS, Database, RegistryError


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.registry",
                                     description="The model registry (model_registry_entries) outside Pulumi.")
    parser.add_argument("--retry-timeout", type=float, default=DEFAULT_RETRY_TIMEOUT_SECONDS, metavar="SECONDS",
                        help="keep retrying an unreachable database this long (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply pending schema migrations")
    migrate.add_argument("--to", type=int, default=None, metavar="VERSION",
                         help=f"stop at this version (latest: {latest_version(discover())})")
    listing = sub.add_parser("list", help="every registry entry")
    listing.add_argument("--environment", default=None)
    sub.add_parser("routable", help="the models the API router routes to")
    show = sub.add_parser("show", help="one entry, every column")
    show.add_argument("environment")
    show.add_argument("served_model_name")
    args = parser.parse_args(argv)

    database = Database(retry_timeout_seconds=args.retry_timeout, on_progress=_progress)
    try:
        if args.command == "migrate":
            version = database.migrate(args.to)
            print(f"schema version {version} on {database.target}")
            return 0
        if args.command == "show":
            row = database.fetch(args.environment, args.served_model_name)
            if row is None:
                print(f"no entry for {args.environment}/{args.served_model_name} on {database.target.short}",
                      file=sys.stderr)
                return 1
            print(json.dumps(row, default=str, indent=2) if args.json else format_record(row))
            return 0
        rows = database.list(environment=getattr(args, "environment", None), routable_only=args.command == "routable")
        columns = ROUTABLE_COLUMNS if args.command == "routable" else LIST_COLUMNS
        print(json.dumps(rows, default=str, indent=2) if args.json else format_rows(rows, columns))
        return 0
    except RegistryError as error:
        print(str(error), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
