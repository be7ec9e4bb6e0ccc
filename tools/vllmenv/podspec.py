"""A pod's vLLM container spec -> the real vLLM process that stands in for it here (pure, except ``materialize``).

The local cluster's pod runner (engine ``vllm``) is a small stand-in kubelet for the serving container. It
runs the container's own ``command`` and ``args`` with its own ``env`` (``value``, ``secretKeyRef`` and
``configMapKeyRef`` resolved from the API server, ``$(VAR)`` expanded like the kubelet does) and its
volume mounts: a ConfigMap volume is written to a directory, any other volume is an empty directory, and
every path under a mount path (in env values and arguments) points to that directory instead.

It substitutes only what cannot exist on this machine, all in ``SUBSTITUTIONS`` and ``ADDED_ARGS``:

- ``--model`` (or ``vllm serve MODEL``) -> the generated tiny model; ``--served-model-name`` is kept (added
  with the pod's model name when the pod has none, so clients see the same name);
- ``--host`` / ``--port`` -> 127.0.0.1 and the runner's free port;
- ``--download-dir`` -> a directory of the pod's own;
- ``--gpu-memory-utilization`` -> ``HOST_MEMORY_FRACTION``: on the CPU backend it is the fraction of host
  memory reserved for the KV cache (0.9 fails on a shared machine);
- ``--enforce-eager`` added (no graph capture on CPU); ``HF_HUB_OFFLINE=1`` (nothing is downloaded).

Everything else is passed as the chart renders it, so a wrong argument fails here as on a GPU node: vLLM
exits, and the runner reports the container crashed (CrashLoopBackOff).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
HOST_MEMORY_FRACTION = "0.05"
# Flags whose value is replaced: flag -> key of the value in ``Local`` (see ``substitute``).
SUBSTITUTIONS = {
    "model": "model",
    "host": "host",
    "port": "port",
    "download-dir": "download_dir",
    "gpu-memory-utilization": "memory_fraction",
}
ADDED_ARGS = ("--enforce-eager",)
ADDED_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# The image's entrypoint when the container has no command (vllm/vllm-openai: `vllm serve`).
IMAGE_ENTRYPOINT = ("vllm", "serve")
SERVING_PORT = 8000

# A lookup of one key: (kind "secret"|"configmap", namespace, name) -> the object's data (decoded) or None.
Lookup = Callable[[str, str, str], Mapping[str, str] | None]


class PodSpecError(ValueError):
    """The container cannot be started as specified (the kubelet's CreateContainerConfigError)."""


@dataclass(frozen=True)
class Local:
    """What this machine has in place of the GPU node's things."""

    python: str
    model: str
    port: int
    pod_dir: Path
    host: str = HOST
    memory_fraction: str = HOST_MEMORY_FRACTION

    @property
    def download_dir(self) -> str:
        return str(self.pod_dir / "download")


@dataclass(frozen=True)
class VllmLaunch:
    """The process for one pod: argv, environment, files to write first, the readiness path."""

    argv: tuple[str, ...]
    env: dict[str, str]
    files: dict[str, str]  # local path -> content (ConfigMap volumes)
    dirs: tuple[str, ...]  # local directories standing in for the other volumes
    startup_path: str  # the container's startupProbe (else /health): answers once the server is up
    ready_path: str  # its readinessProbe (else /health): 200 once it serves
    served_model: str
    substituted: tuple[str, ...]  # "--port=8000 -> --port=40123", for the pod's log


def serving_container(pod: dict) -> dict:
    """The container that serves: the one exposing port 8000, else the first."""
    containers = pod["spec"]["containers"]
    for c in containers:
        if any(p.get("containerPort") == SERVING_PORT for p in c.get("ports") or []):
            return c
    return containers[0]


def mount_dirs(pod: dict, container: dict, pod_dir: Path) -> dict[str, Path]:
    """mountPath -> the local directory standing in for it."""
    out = {}
    for mount in container.get("volumeMounts") or []:
        path = mount["mountPath"]
        out[path] = pod_dir / "mounts" / mount["name"]
    return out


def local_path(value: str, mounts: Mapping[str, Path]) -> str:
    """A path under a mount path -> the same path under its local directory (others unchanged)."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(mounts[mount_path]) + value[len(mount_path.rstrip("/")):]
    return value


def local_env_value(value: str, mounts: Mapping[str, Path]) -> str:
    """An env value, path-mapped element by element when it is a colon-separated list (PYTHONPATH)."""
    if value.startswith("/"):
        return ":".join(local_path(part, mounts) for part in value.split(":"))
    return value


def resolve_env(container: dict, namespace: str, lookup: Lookup) -> dict[str, str]:
    """The container's env, in order, with secretKeyRef/configMapKeyRef resolved and $(VAR) expanded."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(item.get("value", ""), env)
            continue
        source = item["valueFrom"]
        ref_kind = next((k for k in ("secretKeyRef", "configMapKeyRef") if k in source), None)
        if ref_kind is None:
            raise PodSpecError(f"env {name}: valueFrom {sorted(source)} is not supported by the local runner "
                               "(allowed: secretKeyRef, configMapKeyRef)")
        ref = source[ref_kind]
        kind = "secret" if ref_kind == "secretKeyRef" else "configmap"
        data = lookup(kind, namespace, ref["name"])
        if data is None or ref["key"] not in data:
            if ref.get("optional"):
                continue
            where = f'{kind} "{namespace}/{ref["name"]}"'
            what = f"{where} not found" if data is None else f'no key "{ref["key"]}" in {where}'
            raise PodSpecError(f"env {name}: {what}")
        env[name] = data[ref["key"]]
    return env


def expand(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's $(VAR) expansion: defined variables are replaced, $$(VAR) escapes, others stay."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def local_command(command: list[str], python: str) -> list[str]:
    """The container's command with the image's Python (or ``vllm`` CLI) replaced by this environment's."""
    if not command:
        command = list(IMAGE_ENTRYPOINT)
    head = Path(command[0]).name
    if re.fullmatch(r"python3?(\.\d+)?", head):
        return [python, *command[1:]]
    if head == "vllm":
        return [python, "-m", "vllm.entrypoints.cli.main", *command[1:]]
    raise PodSpecError(f"command {command[0]!r} is not vLLM's (allowed: python3 -m ..., vllm ...)")


def split_flag(token: str) -> tuple[str, str | None]:
    name, eq, value = token[2:].partition("=")
    return name, (value if eq else None)


def substitute(args: list[str], local: Local, positional_model: bool) -> tuple[list[str], str | None, list[str]]:
    """Replace the flags in ``SUBSTITUTIONS`` (both ``--f=v`` and ``--f v``) -> (args, pod's model, notes)."""
    out, notes, model = [], [], None
    i = 0
    while i < len(args):
        token = args[i]
        if positional_model and i == 0 and not token.startswith("-"):
            model = token
            out.append(local.model)
            notes.append(f"{token} -> {local.model}")
            i += 1
            continue
        if token.startswith("--"):
            name, value = split_flag(token)
            if name in SUBSTITUTIONS:
                taken = 1
                if value is None and i + 1 < len(args) and not args[i + 1].startswith("--"):
                    value, taken = args[i + 1], 2
                new = str(getattr(local, SUBSTITUTIONS[name]))
                if name == "model":
                    model = value
                out.append(f"--{name}={new}")
                notes.append(f"{' '.join(args[i:i + taken])} -> --{name}={new}")
                i += taken
                continue
        out.append(token)
        i += 1
    return out, model, notes


def flag_values(args: list[str], name: str) -> list[str]:
    values = []
    for i, token in enumerate(args):
        if token.startswith(f"--{name}="):
            values.append(token.split("=", 1)[1])
        elif token == f"--{name}" and i + 1 < len(args):
            values.append(args[i + 1])
    return values


def vllm_launch(pod: dict, local: Local, lookup: Lookup) -> VllmLaunch:
    """The real vLLM process for ``pod`` (see the module docstring)."""
    meta = pod["metadata"]
    namespace = meta.get("namespace", "default")
    container = serving_container(pod)
    mounts = mount_dirs(pod, container, local.pod_dir)
    env = resolve_env(container, namespace, lookup)
    files: dict[str, str] = {}
    dirs: list[str] = [local.download_dir]
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        target = mounts[mount["mountPath"]]
        volume = volumes.get(mount["name"])
        if volume is None:
            raise PodSpecError(f"volumeMount {mount['name']}: no volume of that name in the pod")
        dirs.append(str(target))
        if "configMap" in volume:
            name = volume["configMap"]["name"]
            data = lookup("configmap", namespace, name)
            if data is None:
                if volume["configMap"].get("optional"):
                    continue
                raise PodSpecError(f'volume {mount["name"]}: configmap "{name}" not found')
            items = volume["configMap"].get("items")
            pairs = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
            for key, path in pairs:
                files[str(target / path)] = data[key]
    env = {k: local_env_value(v, mounts) for k, v in env.items()}
    raw_command = [expand(c, env) for c in container.get("command") or []]
    raw_args = [expand(a, env) for a in container.get("args") or []]
    command = local_command(raw_command, local.python)
    serve_cli = command[1:4] == ["-m", "vllm.entrypoints.cli.main", "serve"]
    if serve_cli:  # `vllm serve MODEL`: the model is the first argument after `serve`
        command, raw_args = command[:4], [*command[4:], *raw_args]
    mapped_args = [local_path_arg(a, mounts) for a in raw_args]
    args, model, notes = substitute(mapped_args, local, positional_model=serve_cli)
    if model is None:
        raise PodSpecError("the container's arguments name no model (--model or `vllm serve MODEL`)")
    served = flag_values(args, "served-model-name")
    if not served:
        args.append(f"--served-model-name={model}")
        notes.append(f"(none) -> --served-model-name={model}")
    for extra in ADDED_ARGS:
        if extra not in args:
            args.append(extra)
            notes.append(f"(added) {extra}")
    for name in ("host", "port"):  # vLLM's defaults would be 0.0.0.0:8000
        if not flag_values(args, name):
            args.append(f"--{name}={getattr(local, name)}")
    def probe_path(probe: str) -> str:
        return ((container.get(probe) or {}).get("httpGet") or {}).get("path") or "/health"

    return VllmLaunch(argv=(*command, *args), env={**env, **ADDED_ENV}, files=files, dirs=tuple(dirs),
                      startup_path=probe_path("startupProbe"), ready_path=probe_path("readinessProbe"),
                      served_model=(served or [model])[0], substituted=tuple(notes))


def local_path_arg(arg: str, mounts: Mapping[str, Path]) -> str:
    """``--flag=/mount/path/x`` or ``/mount/path/x`` -> the local directory's path."""
    if arg.startswith("--") and "=" in arg:
        flag, value = arg.split("=", 1)
        return f"{flag}={local_path(value, mounts)}"
    return local_path(arg, mounts)


def materialize(launch: VllmLaunch) -> None:
    """Write the launch's files and directories (the pod's mounts) before starting it."""
    for d in launch.dirs:
        Path(d).mkdir(parents=True, exist_ok=True)
    for path, content in launch.files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(content)
