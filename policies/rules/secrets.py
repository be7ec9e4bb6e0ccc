"""The Hugging Face token only ever comes from a Kubernetes Secret, never as a literal value."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .reading import elements, is_list, is_mapping, is_unknown, items, lookup, walk
from .subjects import Release

TOKEN_ENV_NAMES = frozenset({"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN", "HUGGINGFACEHUB_API_TOKEN",
                             "HF_API_TOKEN"})
_TOKEN_LITERAL = re.compile(r"^hf_[A-Za-z0-9]{16,}$")
"""Hugging Face user access tokens: "hf_" and 34 letters/digits (16+ here, so "hf_transfer" is no token)."""
_SECRET_REFERENCE_KEYS = frozenset({"existingSecret", "key"})
_FIX = ("store the token in a Kubernetes Secret and reference it with model.hfToken.existingSecret "
        "(or an env entry's valueFrom.secretKeyRef)")


def looks_like_token(value: Any) -> bool:
    return isinstance(value, str) and bool(_TOKEN_LITERAL.match(value.strip()))


def masked(value: str) -> str:
    """Never echo a token: "hf_abcdef..." -> "hf_****"."""
    return value[:3] + "****"


def _literal_env_tokens(values: Any) -> Iterator[tuple[str, str]]:
    """(path, env name) of env entries anywhere in values that set a token env var with a literal value."""
    for path, env_list in _env_lists(values, ""):
        for index, entry in enumerate(elements(env_list)):
            name, value = lookup(entry, "name"), lookup(entry, "value")
            if isinstance(name, str) and name.upper() in TOKEN_ENV_NAMES and value not in (None, "") \
                    and not is_unknown(value):
                yield f"{path}[{index}]", name


def _env_lists(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Lists of {name, value|valueFrom} mappings anywhere under value."""
    if is_mapping(value):
        for key, child in items(value):
            yield from _env_lists(child, f"{path}.{key}" if path else str(key))
    elif is_list(value):
        children = list(elements(value))
        if children and all(is_mapping(child) and lookup(child, "name") is not None for child in children):
            yield path, value
        for index, child in enumerate(children):
            yield from _env_lists(child, f"{path}[{index}]")


def check_hf_token_from_secret(release: Release, config: Mapping[str, Any]) -> Iterator[str]:
    """No literal token in the values: not in model.hfToken, not in env entries, not as any "hf_..." string."""
    values = release.values
    reported: set[str] = set()
    hf_token = release.value("model", "hfToken")
    if isinstance(hf_token, str) and hf_token:
        reported.add("model.hfToken")
        yield f"{release.label}: model.hfToken is a literal value; {_FIX}."
    elif is_mapping(hf_token):
        for key, value in items(hf_token):
            if key not in _SECRET_REFERENCE_KEYS and isinstance(value, str) and value:
                reported.add(f"model.hfToken.{key}")
                yield f"{release.label}: model.hfToken.{key} is a literal value; {_FIX}."
    for path, name in _literal_env_tokens(values):
        reported.add(f"{path}.value")
        yield f"{release.label}: {path} sets {name} to a literal value; {_FIX}."
    for path, value in walk(values):
        if looks_like_token(value) and path not in reported:
            yield f"{release.label}: values.{path} holds a literal Hugging Face token ({masked(value)}); {_FIX}."
