"""The provider's check and diff (no database needed) and the Args' inputs."""

import pulumi
import pytest

from components.registry.resource import (
    OUTPUT_KEYS,
    PROVIDER_VERSION,
    ModelRegistryEntryArgs,
    ModelRegistryEntryProvider,
    RegistrationFailed,
)
from components.unknowns import UNKNOWN
from tests.unit.registry.builders import entry_inputs


def test_check_reports_bad_inputs_but_not_a_connection_missing_from_this_environment(monkeypatch):
    for name in ("DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    result = ModelRegistryEntryProvider().check({}, entry_inputs(replicas=0.0))
    assert [f.property for f in result.failures] == ["replicas"]
    assert ModelRegistryEntryProvider().check({}, entry_inputs(database_url=UNKNOWN)).failures == []


def test_create_without_any_connection_fails_with_what_to_set(monkeypatch):
    for name in ("DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RegistrationFailed, match="registry.databaseUrl"):
        ModelRegistryEntryProvider().create(entry_inputs())


def test_diff_registers_again_on_new_evidence_and_replaces_on_a_new_name():
    provider = ModelRegistryEntryProvider()
    old = entry_inputs()
    assert provider.diff("id", old, entry_inputs()).changes is False
    assert provider.diff("id", old, entry_inputs(helm_revision=2.0)).changes is True
    assert provider.diff("id", old, entry_inputs(verified_at="2026-12-03T00:00:00+00:00")).changes is True
    renamed = provider.diff("id", old, entry_inputs(served_model_name="llama-7b-v2"))
    assert renamed.replaces == ["served_model_name"] and renamed.delete_before_replace is False
    assert provider.diff("id", {**old, "helm_revision": 1}, entry_inputs()).changes is False  # 1 == 1.0


def test_args_make_the_url_secret_and_carry_the_provider_version(monkeypatch):
    made_secret = []
    monkeypatch.setattr(pulumi.Output, "secret", lambda value: made_secret.append(value) or ("secret", value))
    values = {k: v for k, v in entry_inputs(database_url="postgresql://h/db").items() if k != "provider_version"}
    inputs = ModelRegistryEntryArgs(**values).to_inputs()
    assert inputs["provider_version"] == PROVIDER_VERSION
    assert inputs["database_url"] == ("secret", "postgresql://h/db") and made_secret == ["postgresql://h/db"]
    assert "status" in OUTPUT_KEYS and "database" in OUTPUT_KEYS
