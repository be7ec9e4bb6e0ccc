"""The vLLM image is pinned: a fixed tag (not "latest") or a digest."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .reading import is_unknown, show
from .subjects import Release

FLOATING_TAGS = frozenset({"latest", "main", "nightly", "stable"})


def _tag_in_reference(repository: str) -> str:
    """The tag written into a repository reference ("vllm/vllm-openai:v1" -> "v1"), "" if none."""
    last = repository.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def image_reference(repository: Any, tag: Any) -> str:
    return f"{repository or '(no repository)'}:{tag}" if tag else f"{repository or '(no repository)'}"


def check_image_pinned(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """image.tag is set and not floating ("latest"), unless the image is pinned by @sha256 digest."""
    repository, tag = release.value("image", "repository"), release.value("image", "tag")
    if is_unknown(repository) or is_unknown(tag):
        return
    repository = repository if isinstance(repository, str) else ""
    tag = tag if isinstance(tag, str) else ("" if tag is None else str(tag))
    if "@sha256:" in repository or "@sha256:" in tag or tag.startswith("sha256:"):
        return
    effective_tag = tag or _tag_in_reference(repository)
    floating = set(FLOATING_TAGS) | set(config.get("floatingTags") or [])
    reference = image_reference(repository, tag)
    if not effective_tag:
        yield (f"{release.label}: image {show(reference)} has no tag (image.tag is not set), so it floats to "
               f"\"latest\"; set image.tag to a released version (e.g. \"v0.11.0\") or pin a digest "
               f"(repository@sha256:...).")
    elif effective_tag in floating:
        yield (f"{release.label}: image {show(reference)} uses the floating tag {show(effective_tag)}; set "
               f"image.tag to a released version (e.g. \"v0.11.0\") or pin a digest (repository@sha256:...).")
