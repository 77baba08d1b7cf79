"""The dashboard's writes, through core.kube.writes, as outcomes a page can show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did: ok, the message to show, and whether it lost a race (Conflict)."""

    ok: bool
    message: str
    conflict: bool = False
    obj: dict | None = None


def create_cache(cluster: Any, obj: dict) -> WriteOutcome:
    """Create an ImageCache: the server validates it with a dry run first, then it is created."""
    from core.kube import writes

    try:
        created = writes.create_imagecache(cluster.connection, obj)
    except writes.WriteError as exc:
        return WriteOutcome(False, str(exc), conflict=getattr(exc, "reason", "") == "Conflict")
    return WriteOutcome(True, f"ImageCache {obj['metadata']['name']} created.", obj=created)


def patch_deployment(cluster: Any, namespace: str, name: str, patch: dict, resource_version: str | None
                     ) -> WriteOutcome:
    """Patch a Deployment's template with the resourceVersion precondition (dry run first)."""
    from core.kube import writes

    try:
        patched = writes.patch_deployment_annotations(
            cluster.connection, namespace, name, patch, resource_version=resource_version
        )
    except writes.WriteError as exc:
        return WriteOutcome(False, str(exc), conflict=getattr(exc, "reason", "") == "Conflict")
    return WriteOutcome(True, f"Deployment {namespace}/{name} patched; its pods are rolling.", obj=patched)
