"""Background processes with pid files: start, find (never a recycled pid), stop, tail their logs.

Each process runs in its own session, logs to ``logs/<name>.log`` and leaves ``pids/<name>.pid``,
``.cmd`` (a marker that must appear in /proc/<pid>/cmdline) and ``.json`` (how to start it again).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def log(msg: str) -> None:
    print(f"[cluster] {msg}", flush=True)


class ClusterError(RuntimeError):
    """A failure tools/cluster reports as ``error: <message>`` and exit status 1."""


def running_pid(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive, not a zombie, and still the process whose command line has ``marker``."""
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ProcessLookupError):
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    # An empty command line: the process is in the middle of exec (just started), or a kernel thread
    # (which ignores signals); either way not a recycled pid of someone else's program.
    return not cmdline.strip() or marker in cmdline


class Processes:
    """The processes of one cluster, tracked in ``pids`` with output in ``logs``."""

    def __init__(self, pids: Path, logs: Path):
        self.pids, self.logs = pids, logs

    def pid_of(self, name: str) -> int | None:
        try:
            pid = int((self.pids / f"{name}.pid").read_text().strip())
            marker = (self.pids / f"{name}.cmd").read_text().strip()
        except (OSError, ValueError):
            return None
        return pid if running_pid(pid, marker) else None

    def start(self, name: str, argv: list[str], cwd: Path, env: dict | None = None, shell: bool = False,
              marker: str | None = None) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as logf:
            logf.write(f"\n=== {time.strftime('%FT%T')} starting {name}: {' '.join(argv)}\n".encode())
            logf.flush()
            proc = subprocess.Popen(
                argv if not shell else argv[0], shell=shell, stdout=logf, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(cwd),
                env={**os.environ, **(env or {})},
            )
        (self.pids / f"{name}.pid").write_text(f"{proc.pid}\n")
        # A marker that must appear in /proc/<pid>/cmdline, so a recycled pid is never killed.
        (self.pids / f"{name}.cmd").write_text((marker or argv[0]) + "\n")
        (self.pids / f"{name}.json").write_text(json.dumps(
            {"argv": argv, "env": env or {}, "shell": shell, "marker": marker, "cwd": str(cwd)}) + "\n")
        return proc.pid

    def saved(self, name: str) -> dict | None:
        """How ``name`` was started (argv, env, shell, marker, cwd), or None."""
        try:
            return json.loads((self.pids / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None

    def stop(self, name: str, grace: float = 10.0) -> None:
        pid = self.pid_of(name)
        if pid is not None:
            terminate_group(pid, grace, alive=lambda: self.pid_of(name) is not None)
        for suffix in (".pid", ".cmd", ".json"):
            (self.pids / f"{name}{suffix}").unlink(missing_ok=True)

    def tail(self, name: str, lines: int = 25) -> str:
        try:
            return "\n".join((self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def terminate_group(pid: int, grace: float, alive) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL it if ``alive()`` after ``grace`` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive():
        time.sleep(0.2)
    if alive():
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def orphans(binaries: set[str], state: str, logs: str) -> list[int]:
    """Processes a cluster started (one of ``binaries`` with ``state`` in its arguments, or a helper of ours
    with ``logs`` in its arguments) that no pid file tracks any more, e.g. after an interrupted up."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in args if a]
        if argv and is_orphan_of(argv, binaries, state, logs):
            found.append(int(d.name))
    return found


def is_orphan_of(argv: list[str], binaries: set[str], state: str, logs: str) -> bool:
    line = " ".join(argv)
    ours = argv[0] in binaries and state in line
    helper = any(f" {h} " in f" {line} " for h in ("_crilog", "_runner", "_egress")) and logs in line
    return ours or helper


def kill_orphan(pid: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def crilog(path: str) -> int:
    """Copy stdin to stdout and, as CRI log lines (what kwok's Logs/ClusterLogs read), to ``path``."""
    with open(path, "ab", buffering=0) as out:
        for line in sys.stdin.buffer:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            out.write(cri_line(line, time.time()))
    return 0


def cri_line(line: bytes, now: float) -> bytes:
    """One CRI log line: ``<RFC3339Nano> stdout F <text>``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"
    return stamp.encode() + b" stdout F " + line.rstrip(b"\r\n") + b"\n"
