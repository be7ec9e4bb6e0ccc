"""Declared (the release's manifest) vs live objects: what was changed by hand (pure).

Every field the manifest sets must hold the same value in the live object; fields the API server or controllers
add (defaults, status, managedFields, extra annotations such as ``kubectl rollout restart``'s) are not drift.
Lists of named items (containers, env, ports, volumes) are matched by name, and a named item present only in
the live object is drift (a sidecar added by hand). Quantities compare by value (``8`` = ``8000m``). Values of
a Secret's ``data``/``stringData`` and of env vars named like credentials (``*TOKEN*``, ``*KEY*``...) are
never put into a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from components.quantity import QuantityError, parse_quantity

__all__ = ["ObjectKey", "describe", "differences", "object_differences", "object_key", "release_drift"]

ObjectKey = tuple[str, str, str, str]
"""(apiVersion, kind, namespace, name)"""

_SKIPPED_TOP_LEVEL = ("apiVersion", "kind", "metadata", "status")
_COMPARED_METADATA = ("labels", "annotations")
_SECRET_KINDS = ("Secret",)
_SENSITIVE_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def object_key(obj: Mapping[str, Any], default_namespace: str) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return (str(obj.get("apiVersion")), str(obj.get("kind")), str(metadata.get("namespace") or default_namespace),
            str(metadata.get("name")))


def describe(key: ObjectKey) -> str:
    _api_version, kind, namespace, name = key
    return f"{kind} {namespace}/{name}"


def _show(value: Any, hidden: bool) -> str:
    if hidden:
        return "(value hidden)"
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else repr(value)


def _same_scalar(declared: Any, live: Any) -> bool:
    if declared == live and type(declared) is type(live):
        return True
    if isinstance(declared, bool) or isinstance(live, bool):
        return declared is live
    if isinstance(declared, (int, float, str)) and isinstance(live, (int, float, str)):
        if str(declared) == str(live):
            return True
        try:
            return parse_quantity(declared) == parse_quantity(live)
        except QuantityError:
            return False
    return declared == live


def _is_empty(value: Any) -> bool:
    """A value the API server may drop (Go ``omitempty``): null, false, zero, empty string/list/map."""
    if value is None or isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, (str, list, Mapping)) and not value


def _sensitive_env(path: str, name: str) -> bool:
    """An env var whose name suggests a credential: its values never go into a message."""
    return path.endswith(".env") and bool(_SENSITIVE_NAME.search(name))


def _named(items: Sequence[Any]) -> bool:
    return bool(items) and all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in items)


def differences(declared: Any, live: Any, path: str, *, hidden: bool = False) -> list[str]:
    """``path: ...`` lines for every declared value the live value does not match."""
    if isinstance(declared, Mapping):
        if not isinstance(live, Mapping):
            return [] if _is_empty(declared) and _is_empty(live) else \
                [f"{path} is {_show(live, hidden)}, the release sets {_show(declared, hidden)}"]
        found: list[str] = []
        for key, value in declared.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in live:
                if not _is_empty(value):
                    found.append(f"{child} was removed (the release sets {_show(value, hidden)})")
                continue
            found += differences(value, live[key], child, hidden=hidden)
        return found
    if isinstance(declared, list):
        if not isinstance(live, list):
            return [] if _is_empty(declared) and _is_empty(live) else \
                [f"{path} is {_show(live, hidden)}, the release sets {_show(declared, hidden)}"]
        if _named(declared) and (_named(live) or not live):
            live_by_name = {item["name"]: item for item in live}
            found = []
            for item in declared:
                child = f"{path}[{item['name']}]"
                if item["name"] not in live_by_name:
                    found.append(f"{child} was removed")
                else:
                    found += differences(item, live_by_name[item["name"]], child,
                                         hidden=hidden or _sensitive_env(path, item["name"]))
            declared_names = {item["name"] for item in declared}
            found += [f"{path}[{item['name']}] was added by hand" for item in live
                      if item["name"] not in declared_names]
            return found
        if len(declared) != len(live):
            return [f"{path} is {_show(live, hidden)}, the release sets {_show(declared, hidden)}"]
        found = []
        for index, (item, live_item) in enumerate(zip(declared, live, strict=True)):
            found += differences(item, live_item, f"{path}[{index}]", hidden=hidden)
        return found
    if declared is None:
        return []
    if _same_scalar(declared, live):
        return []
    return [f"{path} is {_show(live, hidden)}, the release sets {_show(declared, hidden)}"]


def object_differences(declared: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Differences of one object: its labels/annotations and everything outside metadata and status."""
    hidden = declared.get("kind") in _SECRET_KINDS
    found: list[str] = []
    declared_meta, live_meta = declared.get("metadata") or {}, live.get("metadata") or {}
    for key in _COMPARED_METADATA:
        found += differences(declared_meta.get(key) or {}, live_meta.get(key) or {}, f"metadata.{key}")
    for key, value in declared.items():
        if key in _SKIPPED_TOP_LEVEL:
            continue
        if key not in live:
            if not _is_empty(value):
                found.append(f"{key} was removed")
            continue
        found += differences(value, live[key], key, hidden=hidden and key in ("data", "stringData"))
    return found


def release_drift(declared_objects: Sequence[Mapping[str, Any]], live_objects: Mapping[ObjectKey, Any],
                  default_namespace: str) -> list[str]:
    """One line per difference, ``<Kind> <namespace>/<name>: <path> ...``; a missing object is one line."""
    lines: list[str] = []
    for declared in declared_objects:
        key = object_key(declared, default_namespace)
        live = live_objects.get(key)
        if live is None:
            lines.append(f"{describe(key)}: deleted (the release creates it)")
            continue
        lines += [f"{describe(key)}: {line}" for line in object_differences(declared, live)]
    return lines
