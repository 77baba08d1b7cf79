"""Safe writes: validate, server dry-run, then the real call, then an audit Event on the object."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.caches import API_VERSION, KIND, validate_imagecache
from core.policy import POLICY_ANNOTATIONS
from core.timeutil import format_time
from core.workloads import CONTAINER_LISTS
from kube.access import FIELD_MANAGER, WriteError, ensure_writable
from kube.http import STRATEGIC_MERGE_PATCH, Request, RequestError, send_json
from kube.resources import RESOURCES

CREATED_REASON = "ImageCacheCreated"
PATCHED_REASON = "ImageCacheAnnotationsPatched"
EVENT_NAMESPACE_FOR_CLUSTER_OBJECTS = "default"
STATUS_ONLY_RETRIES = 3

__all__ = [
    "CREATED_REASON",
    "PATCHED_REASON",
    "WriteError",
    "WriteResult",
    "annotation_patch",
    "audit_event",
    "create_imagecache",
    "create_request",
    "edited_since",
    "patch_deployment_annotations",
    "patch_request",
]


@dataclass(frozen=True)
class WriteResult:
    """A write that happened: what the server stored, and any warning (say, the audit Event failed)."""

    ok: bool
    message: str
    object: dict | None
    warnings: tuple[str, ...] = field(default_factory=tuple)


# ---- pure request builders


def _write_query(dry_run: bool) -> tuple[tuple[str, str], ...]:
    query = [("fieldManager", FIELD_MANAGER)]
    if dry_run:
        query.append(("dryRun", "All"))
    return tuple(query)


def create_request(obj: Mapping, dry_run: bool) -> Request:
    """POST of an ImageCache (cluster-scoped)."""
    body = {**copy.deepcopy(dict(obj)), "apiVersion": API_VERSION, "kind": KIND}
    return Request("POST", RESOURCES["imagecaches"].collection_path(), _write_query(dry_run), body)


def annotation_patch(deployment: Mapping, changes: Mapping[str, str | None], pull_if_not_present: bool = False) -> dict:
    """The strategic-merge patch setting (or, with None, removing) image-cache annotations of a pod template.

    Only keys of `POLICY_ANNOTATIONS`; the Deployment's resourceVersion makes a concurrent edit a Conflict.
    """
    unknown = sorted(k for k in changes if k not in POLICY_ANNOTATIONS)
    if unknown:
        raise WriteError(
            f"not an image-cache annotation: {', '.join(unknown)} (allowed: {', '.join(POLICY_ANNOTATIONS)})"
        )
    bad = sorted(k for k, v in changes.items() if v is not None and not isinstance(v, str))
    if bad:
        raise WriteError(f"annotation values must be strings: {', '.join(bad)}")
    meta = deployment.get("metadata") or {}
    resource_version = meta.get("resourceVersion")
    if not resource_version:
        raise WriteError(
            f"Deployment {meta.get('namespace')}/{meta.get('name')} has no resourceVersion to patch against"
        )
    template: dict[str, Any] = {"metadata": {"annotations": dict(changes)}}
    if pull_if_not_present:
        pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers: dict[str, list] = {}
        for list_name in CONTAINER_LISTS:
            names = [c.get("name") for c in pod_spec.get(list_name) or () if c.get("name")]
            if names:
                containers[list_name] = [{"name": n, "imagePullPolicy": "IfNotPresent"} for n in names]
        if containers:
            template["spec"] = containers
    return {"metadata": {"resourceVersion": resource_version}, "spec": {"template": template}}


def patch_request(namespace: str, name: str, patch: dict, dry_run: bool) -> Request:
    """PATCH of a Deployment with a strategic-merge patch."""
    path = RESOURCES["deployments"].object_path(name, namespace)
    return Request("PATCH", path, _write_query(dry_run), patch, STRATEGIC_MERGE_PATCH)


def audit_event(obj: Mapping, reason: str, message: str, context: str, now: datetime) -> dict:
    """A core/v1 Event on the written object, saying who (which context) did what."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    involved = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    if namespace:
        involved["namespace"] = namespace
    stamp = format_time(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta.get('name')}.{int(now.timestamp() * 1e9):x}",
            "namespace": namespace or EVENT_NAMESPACE_FOR_CLUSTER_OBJECTS,
        },
        "involvedObject": {k: v for k, v in involved.items() if v},
        "reason": reason,
        "message": f"{message} (by imc, context {context})",
        "type": "Normal",
        "source": {"component": FIELD_MANAGER},
        "reportingComponent": FIELD_MANAGER,
        "reportingInstance": context,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def event_request(event: dict) -> Request:
    """POST of an Event into its namespace."""
    return Request("POST", RESOURCES["events"].collection_path(event["metadata"]["namespace"]), body=event)


_SERVER_KEPT = ("resourceVersion", "managedFields", "generation")


def edited_since(seen: Mapping, current: Mapping) -> bool:
    """Whether someone changed the object's metadata or spec since `seen` (a status update alone is no edit)."""

    def edit(obj: Mapping) -> tuple:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_KEPT}
        return meta, obj.get("spec")

    return edit(seen) != edit(current)


def get_request(namespace: str, name: str) -> Request:
    """GET of one Deployment."""
    return Request("GET", RESOURCES["deployments"].object_path(name, namespace))


def describe_changes(changes: Mapping[str, str | None], pull_if_not_present: bool) -> str:
    """'set a=b, removed c' for messages and the audit Event."""
    parts = [f"set {k}={v}" if v is not None else f"removed {k}" for k, v in sorted(changes.items())]
    if pull_if_not_present:
        parts.append("imagePullPolicy IfNotPresent on all containers")
    return ", ".join(parts) or "nothing"


# ---- thin senders


def _write_error(action: str, exc: RequestError) -> WriteError:
    if exc.status == 409 and exc.reason == "Conflict":
        text = f"{action}: someone changed it since it was loaded; nothing was written. Reload and retry. ({exc})"
    elif exc.status == 403:
        text = f"{action}: not allowed: {exc}"
    elif exc.status == 0:
        text = f"{action}: the server did not answer: {exc.message}"
    else:
        text = f"{action}: {exc}"
    return WriteError(text, exc.status, exc.reason, exc.causes)


def _send_twice(connection: Any, action: str, dry: Request, real: Request) -> dict:
    for request in (dry, real):
        try:
            answer = send_json(connection.api_client, request)
        except RequestError as exc:
            stage = " (server dry-run)" if request is dry else ""
            raise _write_error(action + stage, exc) from None
    return answer


def _audit(connection: Any, obj: dict, reason: str, message: str) -> tuple[str, ...]:
    event = audit_event(obj, reason, message, str(getattr(connection, "context", "")), datetime.now(UTC))
    try:
        send_json(connection.api_client, event_request(event))
    except RequestError as exc:
        return (f"the change was made, but its audit Event could not be recorded: {exc}",)
    return ()


def create_imagecache(connection: Any, obj: Mapping) -> WriteResult:
    """Create an ImageCache: client-side validation, server dry-run, then the real create, then an audit Event."""
    ensure_writable(connection)
    name = (obj.get("metadata") or {}).get("name") or "(unnamed)"
    action = f"create ImageCache {name}"
    problems = validate_imagecache(obj)
    if problems:
        causes = tuple(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
        raise WriteError(f"{action}: invalid: " + "; ".join(causes), 422, "Invalid", causes)
    created = _send_twice(connection, action, create_request(obj, True), create_request(obj, False))
    images = ", ".join((obj.get("spec") or {}).get("images") or ())
    warnings = _audit(connection, created, CREATED_REASON, f"ImageCache {name} created with {images}")
    return WriteResult(True, f"created ImageCache {name}", created, warnings)


def patch_deployment_annotations(
    connection: Any,
    deployment: Mapping,
    changes: Mapping[str, str | None],
    pull_if_not_present: bool = False,
) -> WriteResult:
    """Patch the image-cache annotations of a Deployment's pod template, as of the version the user saw."""
    ensure_writable(connection)
    meta = deployment.get("metadata") or {}
    namespace, name = meta.get("namespace") or "default", meta.get("name") or ""
    action = f"patch Deployment {namespace}/{name}"
    # A rolling Deployment's controller bumps resourceVersion with every status write; only a real edit
    # (metadata or spec) since the user loaded it is a conflict, so a status-only change is retried.
    for attempt in range(STATUS_ONLY_RETRIES + 1):
        patch = annotation_patch(deployment, changes, pull_if_not_present)
        try:
            patched = _send_twice(
                connection,
                action,
                patch_request(namespace, name, patch, True),
                patch_request(namespace, name, patch, False),
            )
            break
        except WriteError as exc:
            if exc.status != 409 or attempt == STATUS_ONLY_RETRIES:
                raise
            try:
                current = send_json(connection.api_client, get_request(namespace, name))
            except RequestError:
                raise exc from None
            if edited_since(deployment, current):
                raise
            deployment = current
    what = describe_changes(changes, pull_if_not_present)
    warnings = _audit(connection, patched, PATCHED_REASON, f"pod template of Deployment {name}: {what}")
    return WriteResult(True, f"patched Deployment {namespace}/{name}: {what}", patched, warnings)
