"""The cluster as last seen through the feed: nodes and pods by identity, updated event by event; no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from .cluster_feed import Change, Snapshot

__all__ = ["ClusterView"]


def _identity(obj: dict) -> str:
    metadata = obj.get("metadata") or {}
    return metadata.get("uid") or f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


class ClusterView:
    """Objects per kind; a kind counts as known once its first snapshot arrived."""

    def __init__(self, kinds: Iterable[str] = ("nodes", "pods")) -> None:
        self._objects: dict[str, dict[str, dict]] = {kind: {} for kind in kinds}
        self._known: set[str] = set()

    @property
    def complete(self) -> bool:
        """Every kind has been listed at least once."""
        return self._known == set(self._objects)

    def objects(self, kind: str) -> list[dict]:
        return list(self._objects[kind].values())

    def apply(self, event: Snapshot | Change) -> None:
        """A snapshot replaces the kind's objects; a change adds, replaces or removes one."""
        objects = self._objects[event.kind]
        if isinstance(event, Snapshot):
            objects.clear()
            objects.update((_identity(obj), obj) for obj in event.items)
            self._known.add(event.kind)
        elif event.type == "DELETED":
            objects.pop(_identity(event.obj), None)
        else:
            objects[_identity(event.obj)] = event.obj
