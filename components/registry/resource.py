"""``ModelRegistryEntry``: a dynamic resource that writes the verified deployment into ``model_registry_entries``.

It is a child of ``VllmModel`` and depends on the ``DeploymentVerification``, whose outputs (revision, p50/p95,
verified_at) are its inputs: the engine runs it only after the verification passed, and never for a failed
one (a failed verification fails its own step, so this resource is not touched and the previous row stays).

- create/update: apply pending migrations, upsert the row (one transaction), output what was stored.
- delete: retire the row (status ``retired``, row kept) or delete it (``on_destroy: delete``).
- read (``pulumi refresh``): a row that is gone or retired reads as deleted, so the next ``pulumi up``
  registers again (e.g. after the local cluster's database was recreated).
- A failed create leaves nothing in state and a failed update leaves the previous outputs: the next
  ``pulumi up`` finds the verification unchanged and retries only the registration.

Stateless provider (pickled with dill): every call builds its ``Database`` from the inputs. The database URL
is a secret input and a secret output (``additional_secret_outputs``), needed by ``delete``; it is never in
a message.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from ..provider_errors import plain_failures
from ..resource_args import ResourceArgs
from .connection import missing_connection_problem
from .settings import PROVIDER_VERSION, REGISTER_KEYS, RegistrySettings, settings_from, validate

__all__ = [
    "OUTPUT_KEYS",
    "PROVIDER_VERSION",
    "ModelRegistryEntry",
    "ModelRegistryEntryArgs",
    "ModelRegistryEntryProvider",
    "RegistrationFailed",
]

OUTPUT_KEYS = ("entry_id", "status", "endpoint", "created_at", "updated_at", "updated_by", "schema_version",
               "database")
"""What the resource adds to its inputs: the stored row's id, status, endpoint and times, the schema version, and
the database as host:port/dbname (no password)."""


class RegistrationFailed(RuntimeError):
    """Writing or retiring the registry row failed; the message names host and database, never the password."""


def _progress(message: str) -> None:
    pulumi.log.info(f"ModelRegistryEntry: {message}")


def _database(settings: RegistrySettings):
    from .store import Database  # psycopg only where the database is used

    return Database(settings.database_url, settings.connect_timeout_seconds, settings.retry_timeout_seconds,
                    on_progress=_progress)


def _key(settings: RegistrySettings) -> dict[str, Any]:
    from .rows import updated_by
    from .store import current_user

    return {"environment": settings.environment, "served_model_name": settings.served_model_name,
            "stack": settings.stack, "updated_by": updated_by(current_user(), settings.stack)}


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _register(props: dict[str, Any]) -> dict[str, Any]:
    from .rows import entry_row
    from .store import RegistryError

    try:
        settings = settings_from(props)
    except ValueError as error:
        raise RegistrationFailed(str(error)) from None
    missing = missing_connection_problem(settings.database_url, os.environ)
    if missing:
        raise RegistrationFailed(f"registry: {missing}")
    database = _database(settings)
    row = entry_row(settings, _key(settings)["updated_by"])
    started = time.monotonic()
    try:
        stored, version = database.register(row)
    except RegistryError as error:
        raise RegistrationFailed(str(error)) from None
    _progress(f"registered {settings.environment}/{settings.served_model_name} (id {stored['id']}, "
              f"{stored['status']}, routing {'on' if stored['routing_enabled'] else 'off'}) in {database.target.short} "
              f"in {time.monotonic() - started:.3f} s")
    normalized, _ = validate(props)
    outs = {k: normalized.get(k) for k in REGISTER_KEYS}
    outs.update(connect_timeout_seconds=settings.connect_timeout_seconds,
                retry_timeout_seconds=settings.retry_timeout_seconds)
    outs.update(entry_id=stored["id"], status=stored["status"], endpoint=stored["endpoint"],
                created_at=_iso(stored["created_at"]), updated_at=_iso(stored["updated_at"]),
                updated_by=stored["updated_by"], schema_version=version, database=database.target.short)
    return outs


@plain_failures(RegistrationFailed)
class ModelRegistryEntryProvider(dyn.ResourceProvider):
    """check / diff / create / update / delete / read of ``ModelRegistryEntry``."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        # A connection missing from this environment is not an input problem: a CI preview may lack the database.
        # VllmModel warns about it at preview; the registration fails with the same diagnosis.
        inputs, problems = validate(news)
        return dyn.CheckResult(inputs, [dyn.CheckFailure(p.property, p.reason) for p in problems])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        normalized, _ = validate(news)
        old, _ = validate(olds)
        changed = [k for k in REGISTER_KEYS if old.get(k) != normalized.get(k)]
        retry_changed = any(old.get(k) != normalized.get(k)
                            for k in ("connect_timeout_seconds", "retry_timeout_seconds"))
        # A new (environment, name) is another row: register it, then retire the old one.
        replaces = [k for k in ("environment", "served_model_name") if k in changed]
        return dyn.DiffResult(changes=bool(changed) or retry_changed, replaces=replaces,
                              delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        outs = _register(props)
        return dyn.CreateResult(id_=f"{outs['environment']}/{outs['served_model_name']}", outs=outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        old, _ = validate(olds)
        new, _ = validate(news)
        if all(old.get(k) == new.get(k) for k in REGISTER_KEYS):  # only retry settings changed: nothing to write
            retry = ("connect_timeout_seconds", "retry_timeout_seconds")
            return dyn.UpdateResult(outs={**olds, **{k: new.get(k) for k in retry}})
        return dyn.UpdateResult(outs=_register(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from .store import RegistryError

        try:
            settings = settings_from(props)
        except ValueError as error:
            raise RegistrationFailed(str(error)) from None
        database = _database(settings)
        delete = settings.on_destroy == "delete"
        try:
            row = database.retire(_key(settings), delete=delete)
        except RegistryError as error:
            raise RegistrationFailed(str(error)) from None
        what = f"{settings.environment}/{settings.served_model_name}"
        if row is None:
            _progress(f"{what}: no row of stack {settings.stack} in {database.target.short}; nothing to retire")
        else:
            _progress(f"{what} {'deleted' if delete else 'retired (row kept)'} in {database.target.short}")

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        from .store import RegistryError

        try:
            settings = settings_from(props)
            row = _database(settings).fetch(settings.environment, settings.served_model_name)
        except ValueError as error:
            raise RegistrationFailed(str(error)) from None
        except RegistryError as error:
            raise RegistrationFailed(str(error)) from None
        if row is None or row["status"] != "active" or row["stack"] != settings.stack:
            return dyn.ReadResult(id_="", outs={})
        return dyn.ReadResult(id_=id_, outs=props)


@dataclass
class ModelRegistryEntryArgs(ResourceArgs, provider_version=PROVIDER_VERSION, secret_input="database_url"):
    """Inputs of ``ModelRegistryEntry`` (see docs/design.md); ``database_url`` is always made secret."""

    environment: pulumi.Input[str]
    served_model_name: pulumi.Input[str]
    model_path: pulumi.Input[str]
    stack: pulumi.Input[str]
    namespace: pulumi.Input[str]
    release_name: pulumi.Input[str]
    service_port: pulumi.Input[int]
    api_path: pulumi.Input[str]
    image: pulumi.Input[str]
    chart_version: pulumi.Input[str]
    helm_revision: pulumi.Input[int]
    gpus_per_pod: pulumi.Input[int]
    replicas: pulumi.Input[int]
    max_model_len: pulumi.Input[int | None]
    verified_at: pulumi.Input[str]
    p50_seconds: pulumi.Input[float | None]
    p95_seconds: pulumi.Input[float]
    routing_enabled: pulumi.Input[bool]
    on_destroy: pulumi.Input[str]
    connect_timeout_seconds: pulumi.Input[float]
    retry_timeout_seconds: pulumi.Input[float]
    database_url: pulumi.Input[str] = ""
    model_init_seconds: pulumi.Input[float | None] = None


class ModelRegistryEntry(dyn.Resource, module="vllm", name="ModelRegistryEntry"):
    """The verified model's row in ``model_registry_entries``: what the API router routes to."""

    entry_id: pulumi.Output[int]
    status: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    created_at: pulumi.Output[str]
    updated_at: pulumi.Output[str]
    updated_by: pulumi.Output[str]
    schema_version: pulumi.Output[int]
    database: pulumi.Output[str]

    def __init__(self, resource_name: str, args: ModelRegistryEntryArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**args.to_inputs(), **{key: None for key in OUTPUT_KEYS}}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["database_url"]))
        super().__init__(ModelRegistryEntryProvider(), resource_name, props, opts)
