#!/usr/bin/env python3
"""The local cluster's PostgreSQL server (the model registry's database), on 127.0.0.1 only.

    python3 tools/localcluster/postgres.py up|down|status|env|bindir [--state DIR]

``start()`` runs ``initdb`` into ``<state>/data`` once, then ``pg_ctl start``; it creates the role and the
database ``vllm_registry`` with a random password kept in ``<state>/pgpass`` (libpq's password file, mode 0600),
so clients use ``env()``: PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSFILE -- no password in any environment
variable or command line. Nothing listens on a Unix socket or on another address.

``initdb`` and ``postgres`` refuse to run as root: as root (CI, these machines) both run as the ``postgres``
user through ``runuser -u postgres --`` with the data directory owned by it; as a normal user they run as
that user. Server binaries: ``$PG_BINDIR``, ``pg_config --bindir``, ``/usr/lib/postgresql/<newest>/bin``, or
``PATH``; when none has them the error says how to install them. Standard library only (the cluster script
runs with the system Python).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "DATABASE",
    "USER",
    "PostgresError",
    "PostgresServer",
    "database_url",
    "find_bin_dir",
    "env",
    "kill_server",
    "start",
    "status",
    "stop",
]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE = ROOT / ".state" / "postgres"
HOST = "127.0.0.1"
PREFERRED_PORT = 25432
DATABASE = "vllm_registry"
USER = "vllm_registry"
SUPERUSER = "postgres"
SERVER_USER = "postgres"  # the unprivileged account that runs the server when we are root
START_TIMEOUT_SECONDS = 60
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found. Install them: "
    "Debian/Ubuntu `apt-get update && apt-get install -y postgresql` (as root), Fedora `dnf install "
    "postgresql-server`, macOS `brew install postgresql@15`; or set PG_BINDIR to the directory holding initdb."
)


class PostgresError(RuntimeError):
    """The local server could not be set up or started; the message says why and what to do."""


@dataclass(frozen=True)
class PostgresServer:
    """A running local server: where it listens and how to log in (the password stays in ``pgpass``)."""

    state_dir: str
    host: str
    port: int
    database: str
    user: str
    pid: int
    bin_dir: str

    @property
    def pgpass(self) -> Path:
        return Path(self.state_dir) / "pgpass"

    def env(self, *, superuser: bool = False, database: str | None = None) -> dict[str, str]:
        """libpq environment for a client of this server."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGDATABASE": database or self.database,
                "PGUSER": SUPERUSER if superuser else self.user, "PGPASSFILE": str(self.pgpass)}

    def password(self, *, superuser: bool = False) -> str:
        return _passwords(Path(self.state_dir))[SUPERUSER if superuser else USER]


def _log(message: str) -> None:
    print(f"[postgres] {message}", flush=True)


# ---------------------------------------------------------------------------- binaries and users
def find_bin_dir(environ: dict | None = None, debian_root: Path = Path("/usr/lib/postgresql")) -> Path:
    """Directory with initdb, pg_ctl and postgres; raises ``PostgresError`` with the install hint."""
    environ = dict(os.environ) if environ is None else environ
    search_path = environ.get("PATH", "")
    candidates: list[Path] = []
    if environ.get("PG_BINDIR"):
        candidates.append(Path(environ["PG_BINDIR"]))
    pg_config = shutil.which("pg_config", path=search_path)
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += sorted(debian_root.glob("*/bin"), key=lambda p: _version_key(p.parent.name), reverse=True)
    initdb = shutil.which("initdb", path=search_path)
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return directory
    raise PostgresError(INSTALL_HINT)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _as_root() -> bool:
    return os.geteuid() == 0


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (None: run as ourselves)."""
    if not _as_root():
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresError(
            f"running as root, and initdb/postgres refuse to run as root, but there is no {SERVER_USER!r} user to "
            f"run them as: create it (`useradd --system --home-dir /var/lib/postgresql {SERVER_USER}`) or install "
            "Debian's postgresql package, which creates it") from None


def _server_command(args: list[str]) -> list[str]:
    if _server_account() is None:
        return args
    if not shutil.which("runuser"):
        raise PostgresError("running as root needs `runuser` (util-linux) to start PostgreSQL as the postgres user")
    return ["runuser", "-u", SERVER_USER, "--", *args]


def _own(path: Path) -> None:
    account = _server_account()
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _let_server_user_traverse(path: Path) -> None:
    """As root, the server runs as the postgres user, which must be able to pass through every directory above
    ``path`` (a clone in a 0700 directory such as /root or a mktemp -d made initdb fail): add search permission
    for others (o+x: pass through, not list) where it is missing, and say so."""
    if not _as_root():
        return
    for directory in reversed(path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            _log(f"gave the postgres user search permission (o+x) on {directory}")


def _run(args: list[str], *, timeout: float = 120, server: bool = True, env: dict | None = None) -> str:
    command = _server_command(args) if server else args
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd="/")
    if result.returncode != 0:
        raise PostgresError(f"{Path(args[0]).name} failed (exit {result.returncode}): "
                            f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


# ---------------------------------------------------------------------------- state
def _info_path(state: Path) -> Path:
    return state / "info.json"


def _load_info(state: Path) -> dict:
    try:
        return json.loads(_info_path(state).read_text())
    except (OSError, ValueError):
        return {}


def _passwords(state: Path) -> dict[str, str]:
    found = {}
    for line in (state / "pgpass").read_text().splitlines():
        parts = line.split(":")
        if len(parts) == 5:
            found[parts[3]] = parts[4]
    return found


def _write_pgpass(state: Path, port: int, passwords: dict[str, str]) -> None:
    path = state / "pgpass"
    lines = [f"{HOST}:{port}:*:{user}:{password}" for user, password in passwords.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _pick_port(preferred: int | None) -> int:
    for port in (preferred, PREFERRED_PORT):
        if port and _port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:  # a killed server whose parent has not reaped it yet is a zombie: not running
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) said it exists


# ---------------------------------------------------------------------------- lifecycle
def _initdb(state: Path, bin_dir: Path) -> None:
    data = state / "data"
    passwords = {SUPERUSER: secrets.token_urlsafe(24), USER: secrets.token_urlsafe(24)}
    data.mkdir(mode=0o700, parents=True)
    _own(data)
    pwfile = state / "superuser.pw"  # initdb reads it as the server user; deleted right after
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(passwords[SUPERUSER] + "\n")
    _own(pwfile)
    try:
        _log(f"initdb {data}")
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
              "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
              "--no-instructions"])
    finally:
        pwfile.unlink(missing_ok=True)
    conf = data / "postgresql.conf"
    with conf.open("a") as handle:
        handle.write("\n# vllm-deploy local cluster (tools/localcluster/postgres.py)\n"
                     f"listen_addresses = '{HOST}'\nunix_socket_directories = ''\n"
                     "max_connections = 50\nshared_buffers = 32MB\n")
    _write_pgpass(state, 0, passwords)


def _bootstrap(server: PostgresServer) -> None:
    """Role and database of the registry (idempotent)."""
    password = server.password()
    sql = (
        f"SELECT 'CREATE ROLE {USER} LOGIN PASSWORD ''{password}''' "
        f"WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}') \\gexec\n"
        f"SELECT 'CREATE DATABASE {DATABASE} OWNER {USER}' "
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}') \\gexec\n"
    )
    _psql(server, sql)


def _psql(server: PostgresServer, sql: str, *, database: str = "postgres") -> str:
    command = [str(Path(server.bin_dir) / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database]
    result = subprocess.run(command, input=sql, capture_output=True, text=True, timeout=60,
                            env={**os.environ, **server.env(superuser=True, database=database)})
    if result.returncode != 0:
        raise PostgresError(f"psql failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


def start(state_dir: Path | str = DEFAULT_STATE, *, port: int | None = None) -> PostgresServer:
    """Start the server (initdb on first use); idempotent: a running server is left as it is."""
    state = Path(state_dir).resolve()
    running = status(state)
    if running is not None:
        return running
    bin_dir = find_bin_dir()
    _server_account()  # fail early and clearly when root has no postgres user
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # the server user must reach data/ below it
    _let_server_user_traverse(state)
    data = state / "data"
    if not (data / "PG_VERSION").is_file():
        if data.exists():
            shutil.rmtree(data)
        _initdb(state, bin_dir)
    _own(data)
    stale = _postmaster_pid(data)
    if stale and not _alive(stale):
        # Left by a crash (kill -9). Its PID may still be an unreaped zombie, which PostgreSQL would take for a
        # running server; its backends are gone (kill_server waits for each), so the lock file is stale.
        (data / "postmaster.pid").unlink(missing_ok=True)
    info = _load_info(state)
    chosen = _pick_port(port or info.get("port"))
    _write_pgpass(state, chosen, _passwords(state))
    log = state / "server.log"
    log.touch(exist_ok=True)
    _own(log)
    _log(f"starting PostgreSQL on {HOST}:{chosen} (data {data})")
    try:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", str(START_TIMEOUT_SECONDS),
              "-o", f"-p {chosen}", "start"], timeout=START_TIMEOUT_SECONDS + 30)
    except PostgresError as error:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise PostgresError(f"{error}\nserver log ({log}):\n{tail}") from None
    server = PostgresServer(state_dir=str(state), host=HOST, port=chosen, database=DATABASE, user=USER,
                            pid=_postmaster_pid(data) or 0, bin_dir=str(bin_dir))
    _bootstrap(server)
    _info_path(state).write_text(json.dumps({**asdict(server), "url": database_url(server)}, indent=2))
    return server


def status(state_dir: Path | str = DEFAULT_STATE) -> PostgresServer | None:
    """The running server of ``state_dir``, or None."""
    state = Path(state_dir).resolve()
    info = _load_info(state)
    pid = _postmaster_pid(state / "data")
    if not info or not _alive(pid):
        return None
    return PostgresServer(state_dir=str(state), host=info["host"], port=int(info["port"]), database=info["database"],
                          user=info["user"], pid=pid or 0, bin_dir=info["bin_dir"])


def stop(state_dir: Path | str = DEFAULT_STATE, *, remove: bool = False) -> None:
    """Stop the server (fast shutdown); with ``remove`` delete its data too."""
    state = Path(state_dir).resolve()
    data = state / "data"
    if _alive(_postmaster_pid(data)):
        try:
            bin_dir = Path(_load_info(state).get("bin_dir") or find_bin_dir())
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"], timeout=90)
        except PostgresError:
            kill_server(state)
    if remove and state.exists():
        shutil.rmtree(state)


def kill_server(state_dir: Path | str = DEFAULT_STATE) -> None:
    """SIGKILL the postmaster and every backend (a crash, as `kill -9`); the next ``start`` runs recovery."""
    data = Path(state_dir).resolve() / "data"
    pid = _postmaster_pid(data)
    if not _alive(pid):
        return
    children = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(proc.name))
    for target in [pid, *children]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for target in [pid, *children]:
        _wait_gone(target)


def _wait_gone(pid: int) -> None:
    """Block until ``pid`` has exited (pidfd: an event, not polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        import select

        select.select([fd], [], [], 30)
    finally:
        os.close(fd)


def database_url(server: PostgresServer, *, with_password: bool = False) -> str:
    """``postgresql://user@127.0.0.1:port/db`` (the password comes from PGPASSFILE unless asked for)."""
    secret = f":{server.password()}" if with_password else ""
    return f"postgresql://{server.user}{secret}@{server.host}:{server.port}/{server.database}"


def env(state_dir: Path | str = DEFAULT_STATE) -> dict[str, str]:
    """libpq environment for the running server of ``state_dir`` ({} when it is not running)."""
    server = status(state_dir)
    return server.env() if server else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "status", "env", "bindir"))
    parser.add_argument("--state", default=str(DEFAULT_STATE), help="state directory (default .state/postgres)")
    args = parser.parse_args(argv)
    try:
        if args.command == "bindir":  # exit 1 with the install hint when the server binaries are missing
            print(find_bin_dir())
        elif args.command == "up":
            server = start(args.state)
            _log(f"ready: {database_url(server)} (password in {server.pgpass})")
        elif args.command == "down":
            stop(args.state, remove=True)
            _log("stopped")
        elif args.command == "status":
            server = status(args.state)
            if server is None:
                _log("not running")
                return 1
            _log(f"running: pid {server.pid}, {database_url(server)}")
        else:
            for key, value in env(args.state).items():
                print(f"export {key}={value}")
    except PostgresError as error:
        print(f"[postgres] error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
