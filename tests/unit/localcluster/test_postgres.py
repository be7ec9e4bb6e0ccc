"""tools/localcluster/postgres.py without a server: finding the binaries, the install hint, libpq environment."""

from pathlib import Path

import pytest

from tools.localcluster import postgres as pg


def _fake_bin(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for tool in ("initdb", "pg_ctl", "postgres", "psql"):
        (directory / tool).write_text("#!/bin/sh\n")
    return directory


def test_missing_server_binaries_say_how_to_install_them(tmp_path):
    with pytest.raises(pg.PostgresError) as caught:
        pg.find_bin_dir({"PATH": str(tmp_path)}, debian_root=tmp_path / "none")
    assert "apt-get update && apt-get install -y postgresql" in str(caught.value)
    assert "PG_BINDIR" in str(caught.value)


def test_newest_debian_version_then_pg_bindir_first(tmp_path):
    _fake_bin(tmp_path / "lib" / "13" / "bin")
    newest = _fake_bin(tmp_path / "lib" / "15" / "bin")
    assert pg.find_bin_dir({"PATH": ""}, debian_root=tmp_path / "lib") == newest
    chosen = _fake_bin(tmp_path / "custom")
    assert pg.find_bin_dir({"PATH": "", "PG_BINDIR": str(chosen)}, debian_root=tmp_path / "lib") == chosen


def test_clients_get_libpq_variables_and_a_password_file_never_the_password(tmp_path):
    server = pg.PostgresServer(state_dir=str(tmp_path), host="127.0.0.1", port=25432, database="vllm_registry",
                               user="vllm_registry", pid=1, bin_dir="/x")
    assert server.env() == {"PGHOST": "127.0.0.1", "PGPORT": "25432", "PGDATABASE": "vllm_registry",
                            "PGUSER": "vllm_registry", "PGPASSFILE": str(tmp_path / "pgpass")}
    assert pg.database_url(server) == "postgresql://vllm_registry@127.0.0.1:25432/vllm_registry"
