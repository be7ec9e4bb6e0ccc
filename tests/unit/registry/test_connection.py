"""Where the registry connects: precedence, the target named without the password, redaction."""

from components.registry.connection import (
    describe_target,
    missing_connection_problem,
    redact,
    resolve_conninfo,
    secrets_of,
)


def test_the_stack_setting_wins_then_database_url_then_libpq_environment():
    env = {"DATABASE_URL": "postgresql://env@h/db", "PGHOST": "pghost"}
    assert resolve_conninfo("postgresql://cfg@h/db", env) == ("postgresql://cfg@h/db", "registry.databaseUrl")
    assert resolve_conninfo("", env) == ("postgresql://env@h/db", "DATABASE_URL")
    assert resolve_conninfo("", {"PGHOST": "h", "PGUSER": "u"}) == ("", "the libpq environment (PGHOST, PGUSER)")


def test_target_from_url_and_from_libpq_environment():
    target = describe_target("postgresql://reg:pw@db.internal:6543/registry", {})
    assert str(target) == "host db.internal port 6543 database registry (user reg)"
    env = {"PGHOST": "127.0.0.1", "PGPORT": "25432", "PGUSER": "vllm_registry", "PGDATABASE": "vllm_registry"}
    assert describe_target("", env).short == "127.0.0.1:25432/vllm_registry"
    assert describe_target("host=h user=u", {}).dbname == "u"  # libpq's default database is the user name


def test_passwords_from_url_key_value_and_pgpassword_are_redacted():
    url = "postgresql://reg:p%40ss@h/db"
    found = secrets_of(url, {"PGPASSWORD": "envpw"})
    assert {"p@ss", "p%40ss", "envpw"} <= set(found)
    assert redact("failed for p%40ss and p@ss, envpw", found) == "failed for *** and ***, ***"
    assert secrets_of("host=h password=kv", {}) == ["kv"]


def test_missing_connection_is_a_clear_problem_only_when_nothing_is_configured():
    assert missing_connection_problem("", {}) is not None
    assert "registry.databaseUrl" in missing_connection_problem("", {})
    assert missing_connection_problem("", {"PGHOST": "h"}) is None
    assert missing_connection_problem("postgresql://h/db", {}) is None
