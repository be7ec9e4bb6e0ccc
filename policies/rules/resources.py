"""Resource limits of the vLLM pods, and whether they fit the model size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from .quantities import format_gibibytes, parse_quantity
from .reading import is_mapping, is_unknown, lookup, show
from .sizing import min_memory_bytes, size_requirements
from .subjects import GPU_RESOURCE, Release

_KEY_PATHS = {GPU_RESOURCE: f'["{GPU_RESOURCE}"]', "memory": ".memory", "cpu": ".cpu"}
_EXAMPLES = {GPU_RESOURCE: "1", "memory": '"32Gi"', "cpu": '"8"'}


def _where(section: str, key: str) -> str:
    return f"resources.{section}{_KEY_PATHS.get(key, '.' + key)}"


def quantity_or_none(value: Any) -> Decimal | None:
    """A quantity's value, or None when absent, unknown or malformed."""
    if value is None or is_unknown(value):
        return None
    try:
        return parse_quantity(value)
    except ValueError:
        return None


def gpus_per_pod(release: Release) -> Decimal | None:
    return quantity_or_none(release.value("resources", "limits", GPU_RESOURCE))


def memory_limit_bytes(release: Release) -> Decimal | None:
    return quantity_or_none(release.value("resources", "limits", "memory"))


def check_resource_limits(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """GPU limit present and >= 1, memory and CPU limits present, no request above its limit."""
    limits = release.value("resources", "limits")
    requests = release.value("resources", "requests")
    if is_unknown(limits):
        return
    for key in (GPU_RESOURCE, "memory", "cpu"):
        value = lookup(limits, key)
        if is_unknown(value):
            continue
        where = _where("limits", key)
        if value is None or value == "":
            yield (f"{release.label}: {where} is not set; set it (e.g. {_EXAMPLES[key]}) so every vLLM pod "
                   f"has a bounded {'GPU count' if key == GPU_RESOURCE else key}.")
            continue
        amount = quantity_or_none(value)
        if amount is None:
            yield f"{release.label}: {where} is {show(value)}, not a Kubernetes quantity; use e.g. {_EXAMPLES[key]}."
        elif key == GPU_RESOURCE and amount < 1:
            yield (f"{release.label}: {where} is {show(value)}; vLLM needs at least 1 GPU per pod, "
                   f"set it to 1 or more.")
    if not is_mapping(requests) or not is_mapping(limits):
        return
    for key in requests:
        requested, limit = quantity_or_none(lookup(requests, key)), quantity_or_none(lookup(limits, key))
        if requested is not None and limit is not None and requested > limit:
            yield (f"{release.label}: {_where('requests', key)} {show(lookup(requests, key))} is above "
                   f"{_where('limits', key)} {show(lookup(limits, key))}; lower the request or raise the limit "
                   f"(requests must not exceed limits).")


def check_model_fits_resources(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """The model size gets enough GPUs and memory per pod, and tensor parallelism fits the GPUs."""
    size = release.value("model", "size")
    if is_unknown(size):
        return
    table = size_requirements(config)
    if size not in table:
        yield (f"{release.label}: model.size is {show(size)}, not one of {', '.join(table)}; set model.size to the "
               f"preset matching the model (or add the size to this policy's \"modelSizes\" config).")
        return
    needs = table[size]
    gpus = gpus_per_pod(release)
    if gpus is not None and gpus < needs.min_gpus:
        yield (f"{release.label}: a {size} model needs at least {needs.min_gpus} GPU(s) per pod but "
               f"resources.limits[\"{GPU_RESOURCE}\"] is {show(gpus)}; raise the GPU limit (and "
               f"model.tensorParallelSize) to {needs.min_gpus} or choose a smaller model.size.")
    memory = memory_limit_bytes(release)
    if memory is not None and memory < min_memory_bytes(needs):
        yield (f"{release.label}: a {size} model needs at least {needs.min_memory} memory per pod but "
               f"resources.limits.memory is {show(release.value('resources', 'limits', 'memory'))} "
               f"({format_gibibytes(memory)}); raise the memory limit to {needs.min_memory} or more.")
    tensor_parallel = quantity_or_none(release.value("model", "tensorParallelSize"))
    if gpus is not None and tensor_parallel is not None and tensor_parallel > gpus:
        yield (f"{release.label}: model.tensorParallelSize is {show(tensor_parallel)} but each pod has "
               f"{show(gpus)} GPU(s); lower model.tensorParallelSize or raise resources.limits[\"{GPU_RESOURCE}\"].")
