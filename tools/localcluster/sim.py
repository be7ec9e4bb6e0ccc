"""The vLLM simulator: the shared one (``VLLM_SIM_URL``, the fallback behind every pod's port 8000) and the
translation of a pod into its own simulator's configuration (pure functions; the pod runner runs them).

A pod's simulator is configured, in this order (later flags win):

1. the cluster defaults: ``--force-dummy-tokenizer`` and a small GPU-like latency (``SIM_DEFAULT_LATENCY``);
2. the flags last given to ``tools/cluster sim -- ARGS`` (fault injection for every pod);
3. the pod's own vLLM arguments (its serving container's ``args``) that the simulator understands
   (``--model``, ``--served-model-name``, ``--max-model-len``, ...; the others, such as
   ``--tensor-parallel-size``, are dropped and logged);
4. the pod's test-only annotations (``sim.vllm-deploy.dev/<name>``, see ``ANNOTATIONS``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from tools.vllmenv.podspec import serving_container

from .layout import DEFAULT_SIM_MODEL

# A small, GPU-like latency so the verification measures something (later flags override these).
SIM_DEFAULT_LATENCY = ("--time-to-first-token=30ms", "--inter-token-latency=4ms")
SIM_BASE_ARGS = ("--force-dummy-tokenizer", *SIM_DEFAULT_LATENCY)

ANNOTATION_PREFIX = "sim.vllm-deploy.dev/"
# Annotation (after the prefix) -> simulator flag. Values are passed as they are (e.g. "3500ms", "100").
FLAG_ANNOTATIONS = {
    "time-to-first-token": "--time-to-first-token",
    "inter-token-latency": "--inter-token-latency",
    "failure-injection-rate": "--failure-injection-rate",
    "failure-types": "--failure-types",
    "startup-duration": "--startup-duration",
}
ARGS_ANNOTATION = "args"  # more simulator flags, shell-quoted
CRASH_ANNOTATION = "crash-at-start"  # "true": the container exits with status 1 at every start
ANNOTATIONS = (*FLAG_ANNOTATIONS, ARGS_ANNOTATION, CRASH_ANNOTATION)

# vLLM flags llm-d-inference-sim understands too; a pod's other flags are dropped.
SIM_KNOWN_VLLM_FLAGS = frozenset({
    "model", "served-model-name", "max-model-len", "max-num-seqs", "max-loras", "max-cpu-loras",
    "lora-modules", "seed", "data-parallel-size", "enable-prefix-caching", "enforce-eager", "block-size",
    "kv-cache-size",
})
# Flags the runner sets itself: a pod's value is dropped.
SIM_OWN_FLAGS = frozenset({"port", "host"})


class PodConfigError(ValueError):
    """A pod asks for something the runner cannot run (shown as CreateContainerConfigError)."""


@dataclass(frozen=True)
class PodPlan:
    """What to run for one pod: the container that gets the process and the simulator's flags."""

    namespace: str
    name: str
    uid: str
    container: str
    image: str
    served_model: str
    sim_args: tuple[str, ...]
    crash_at_start: bool = False
    dropped: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_flags(args: list[str]) -> list[tuple[str, list[str], str]]:
    """vLLM-style arguments -> [(name, values, original text)]: ``--a=1``, ``--a 1 2``, ``--flag``."""
    out: list[tuple[str, list[str], str]] = []
    for token in args:
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            out.append((name, [value] if eq else [], token))
        elif out:
            name, values, text = out[-1]
            out[-1] = (name, [*values, token], f"{text} {token}")
        else:
            out.append(("", [token], token))  # a positional argument (e.g. `vllm serve MODEL`)
    return out


def translate_vllm_args(args: list[str]) -> tuple[list[str], list[str]]:
    """A container's vLLM arguments -> (simulator flags, dropped flags)."""
    kept, dropped = [], []
    for name, values, text in parse_flags(args):
        if name == "" and len(values) == 1:  # `vllm serve MODEL ...`
            kept.append(f"--model={values[0]}")
        elif name in SIM_KNOWN_VLLM_FLAGS:
            kept.append(f"--{name}" if not values else f"--{name}={values[0]}" if len(values) == 1 else text)
        elif name not in SIM_OWN_FLAGS:
            dropped.append(text)
    return kept, dropped


def annotation_args(annotations: dict[str, str]) -> tuple[list[str], bool]:
    """Our annotations -> (simulator flags, crash at start). Unknown ``sim.vllm-deploy.dev/`` names are an error."""
    args: list[str] = []
    crash = False
    for key in sorted(annotations):
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        name, value = key[len(ANNOTATION_PREFIX):], annotations[key]
        if name in FLAG_ANNOTATIONS:
            args.append(f"{FLAG_ANNOTATIONS[name]}={value}")
        elif name == ARGS_ANNOTATION:
            try:
                args.extend(shlex.split(value))
            except ValueError as exc:
                raise PodConfigError(f"annotation {key}={value!r} is not valid shell quoting: {exc}") from None
        elif name == CRASH_ANNOTATION:
            if value not in ("true", "false"):
                raise PodConfigError(f"annotation {key}={value!r}: allowed values are 'true' and 'false'")
            crash = value == "true"
        else:
            raise PodConfigError(f"unknown annotation {key}; allowed: "
                                 + ", ".join(ANNOTATION_PREFIX + a for a in ANNOTATIONS))
    return args, crash


def plan_for(pod: dict, defaults: list[str], default_model: str = DEFAULT_SIM_MODEL) -> PodPlan:
    """The simulator configuration of ``pod`` (see the module docstring for the order)."""
    meta = pod["metadata"]
    container = serving_container(pod)
    pod_args, dropped = translate_vllm_args(list(container.get("args") or []))
    flags = {name: values for name, values, _ in parse_flags(pod_args)}
    if "model" not in flags:
        pod_args.insert(0, f"--model={default_model}")
    served = flags.get("served-model-name") or flags.get("model") or [default_model]
    extra, crash = annotation_args(meta.get("annotations") or {})
    return PodPlan(
        namespace=meta["namespace"], name=meta["name"], uid=meta.get("uid", ""), container=container["name"],
        image=container.get("image", ""), served_model=served[0],
        sim_args=(*SIM_BASE_ARGS, *defaults, *pod_args, *extra), crash_at_start=crash, dropped=tuple(dropped),
    )


def shared_sim_command(binary: str, port: int, model: str, extra_args: list[str] | tuple[str, ...]) -> list[str]:
    """The shared simulator (VLLM_SIM_URL)."""
    return [binary, f"--port={port}", f"--model={model}", *SIM_BASE_ARGS, *extra_args]
