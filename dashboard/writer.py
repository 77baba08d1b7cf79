"""The dashboard's writes, through kube.writes, as outcomes a page can show."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kube import writes
from kube.access import WriteError


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did: ok, the message to show, and whether it lost a race (Conflict)."""

    ok: bool
    message: str
    conflict: bool = False
    obj: dict | None = None


def _attempt(write: Callable[[], Any]) -> WriteOutcome:
    """Run one write; a WriteError becomes a message (Conflict flagged), never an exception."""
    try:
        result = write()
    except WriteError as exc:
        return WriteOutcome(False, exc.message, conflict=exc.status == 409 and exc.reason == "Conflict")
    message = result.message[:1].upper() + result.message[1:] + "."
    return WriteOutcome(True, " ".join([message, *result.warnings]), obj=result.object)


def create_cache(cluster: Any, obj: dict) -> WriteOutcome:
    """Create an ImageCache: validated, server dry-run, then created."""
    return _attempt(lambda: writes.create_imagecache(cluster.connection, obj))


def patch_deployment(cluster: Any, deployment: Mapping, changes: Mapping[str, str | None],
                     pull_if_not_present: bool) -> WriteOutcome:
    """Patch a Deployment's template annotations as of the version the user saw (dry run first)."""
    return _attempt(lambda: writes.patch_deployment_annotations(
        cluster.connection, deployment, changes, pull_if_not_present))


def edit_cache(cluster: Any, cache: Mapping, edit: writes.CacheEdit) -> WriteOutcome:
    """Update a cache's images or extend its retention as of the version the user saw (checked, dry run first)."""
    return _attempt(lambda: writes.edit_imagecache(cluster.connection, cache, edit))


def delete_cache(cluster: Any, cache: Mapping) -> WriteOutcome:
    """Delete a cache as of the version the user saw (preconditions, dry run first)."""
    return _attempt(lambda: writes.delete_imagecache(cluster.connection, cache))
