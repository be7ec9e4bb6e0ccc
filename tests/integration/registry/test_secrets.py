"""The database password never appears in messages, errors, reprs, command output or provider outputs."""

from __future__ import annotations

import pytest

from components.config import ConfigError, validate_config
from components.registry import __main__ as cli
from components.registry.resource import ModelRegistryEntryProvider, RegistrationFailed
from components.registry.settings import validate
from components.registry.store import Database
from tests.unit.components.test_config import stack_config
from tests.unit.registry.builders import entry_inputs


def test_provider_outputs_messages_and_reprs_do_not_show_the_password(pg_server, database_url, capsys):
    password = pg_server.password()
    provider = ModelRegistryEntryProvider()
    created = provider.create(entry_inputs(database_url=database_url))
    assert created.outs["database"] == f"127.0.0.1:{pg_server.port}/{database_url.rsplit('/', 1)[1]}"
    assert created.outs["status"] == "active" and created.outs["schema_version"] == 2
    shown = {k: v for k, v in created.outs.items() if k != "database_url"}  # the one secret output
    assert password not in repr(shown)
    provider.delete(created.id, created.outs)
    database = Database(database_url, environ={})
    assert password not in repr(database) and password not in str(database.target)
    captured = capsys.readouterr()
    assert password not in captured.out + captured.err


def test_provider_errors_do_not_show_the_password(pg_server, database_url):
    password = pg_server.password()
    wrong_port = database_url.replace(f":{pg_server.port}/", ":1/")
    with pytest.raises(RegistrationFailed) as caught:
        ModelRegistryEntryProvider().create(entry_inputs(database_url=wrong_port, retry_timeout_seconds=0.2))
    assert "host 127.0.0.1 port 1" in str(caught.value) and password not in str(caught.value)


def test_invalid_urls_are_reported_without_their_value():
    secret = "s3cr3t-pa55"
    # libpq quotes the whole URI in some of its parse errors (the IPv6 case): none of it may reach a message
    for url in (f"postgresql://u:{secret}@[::1/db", f"host=h password={secret} bogus", f"mysql:{secret}"):
        _, problems = validate(entry_inputs(database_url=url))
        assert problems and all(secret not in p.reason for p in problems), url
        raw = stack_config("staging")
        raw["registry"] = {"databaseUrl": url}
        with pytest.raises(ConfigError) as caught:
            validate_config(raw)
        assert "registry.databaseUrl" in str(caught.value) and secret not in str(caught.value)


def test_the_list_command_prints_no_password(pg_server, database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSFILE", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["migrate"]) == 0
    assert cli.main(["list"]) == 0
    monkeypatch.setenv("DATABASE_URL", database_url.replace(f":{pg_server.port}/", ":1/"))
    assert cli.main(["--retry-timeout", "0.2", "list"]) == 1
    captured = capsys.readouterr()
    assert "schema version 2" in captured.out and "(no registry entries)" in captured.out
    assert "cannot reach PostgreSQL at host 127.0.0.1 port 1" in captured.err
    assert pg_server.password() not in captured.out + captured.err
