"""Safe writes: validate, server dry-run, then the real call, then an audit Event on the object."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.caches import API_VERSION, KIND, MAX_RETENTION_DAYS, validate_imagecache
from core.policy import POLICY_ANNOTATIONS
from core.timeutil import format_time
from core.workloads import CONTAINER_LISTS
from kube.access import FIELD_MANAGER, WriteError, ensure_writable
from kube.http import MERGE_PATCH, STRATEGIC_MERGE_PATCH, Request, RequestError, send_json
from kube.resources import RESOURCES

CREATED_REASON = "ImageCacheCreated"
PATCHED_REASON = "ImageCacheAnnotationsPatched"
IMAGES_UPDATED_REASON = "ImageCacheImagesUpdated"
RETENTION_EXTENDED_REASON = "ImageCacheRetentionExtended"
DELETED_REASON = "ImageCacheDeleted"
# ECI's UpdateImageCache (images and retention alike) works only on a cache in these phases (docs/eci-model.md 1.6)
UPDATABLE_PHASES = ("Ready", "UpdateFailed")
EVENT_NAMESPACE_FOR_CLUSTER_OBJECTS = "default"
STATUS_ONLY_RETRIES = 3

__all__ = [
    "CREATED_REASON",
    "DELETED_REASON",
    "IMAGES_UPDATED_REASON",
    "PATCHED_REASON",
    "RETENTION_EXTENDED_REASON",
    "CacheEdit",
    "WriteError",
    "WriteResult",
    "annotation_patch",
    "audit_event",
    "cache_edit_problems",
    "cache_patch",
    "cache_patch_request",
    "create_imagecache",
    "create_request",
    "delete_imagecache",
    "delete_request",
    "edit_imagecache",
    "edited_since",
    "patch_deployment_annotations",
    "patch_request",
    "phase_refusal",
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


@dataclass(frozen=True)
class CacheEdit:
    """A change of one ImageCache's spec: new images, a longer retention, or both (None: unchanged)."""

    images: tuple[str, ...] | None = None
    retention_days: int | None = None

    def spec(self) -> dict[str, Any]:
        """The spec fields this edit sets."""
        fields: dict[str, Any] = {}
        if self.images is not None:
            fields["images"] = list(self.images)
        if self.retention_days is not None:
            fields["retentionDays"] = self.retention_days
        return fields

    def describe(self) -> str:
        """'images a, b; retention 30 days' for messages and the audit Event."""
        parts = []
        if self.images is not None:
            parts.append(f"images {', '.join(self.images)}")
        if self.retention_days is not None:
            parts.append(f"retention {self.retention_days} days")
        return "; ".join(parts) or "nothing"


def _cache_parts(cache: Mapping) -> tuple[Mapping, Mapping, Mapping]:
    """metadata, spec and status of an ImageCache, each {} when absent or not an object."""
    return tuple(cache.get(part) if isinstance(cache.get(part), Mapping) else {}  # type: ignore[return-value]
                 for part in ("metadata", "spec", "status"))


def phase_refusal(cache: Mapping) -> str | None:
    """Why ECI refuses any update of the cache in its phase now (only Ready and UpdateFailed caches change)."""
    meta, _, status = _cache_parts(cache)
    phase = status.get("phase") or "Pending"
    if phase in UPDATABLE_PHASES:
        return None
    return f"ECI updates a cache only when it is {' or '.join(UPDATABLE_PHASES)}; {meta.get('name')} is {phase}"


def cache_edit_problems(cache: Mapping, edit: CacheEdit) -> list[str]:
    """Why this edit of the cache as seen cannot be sent; empty when it can.

    ECI updates a cache (images or retention) only when it is Ready or UpdateFailed; a retention may only grow
    (this is "extend"), and the edited spec must still pass the CRD's rules.
    """
    meta, spec, _ = _cache_parts(cache)
    name = meta.get("name") or "(unnamed)"
    problems = [] if edit.spec() else ["nothing to change"]
    refusal = phase_refusal(cache)
    if refusal:
        problems.append(refusal)
    if not meta.get("resourceVersion"):
        problems.append(f"ImageCache {name} has no resourceVersion to update against")
    if edit.images is not None and list(edit.images) == list(spec.get("images") or ()):
        problems.append(f"{name} holds exactly these images already")
    if edit.retention_days is not None:
        current = spec.get("retentionDays")
        if current is None:
            problems.append(f"{name} has no retention: it never expires, so there is nothing to extend")
        elif isinstance(current, int) and edit.retention_days <= current:
            problems.append(f"an extension needs more than the {current} days {name} keeps now "
                            f"(up to {MAX_RETENTION_DAYS})")
    edited = {"metadata": dict(meta), "spec": {**spec, **edit.spec()}}
    problems += [f"{p.field}: {p.message}" if p.field else p.message for p in validate_imagecache(edited)]
    return problems


def cache_patch(cache: Mapping, edit: CacheEdit) -> dict:
    """The merge patch of an edit; the resourceVersion seen makes a concurrent change a Conflict."""
    meta, _, _ = _cache_parts(cache)
    return {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "spec": edit.spec()}


def cache_patch_request(name: str, patch: dict, dry_run: bool) -> Request:
    """PATCH of an ImageCache with a JSON merge patch (a custom resource takes no strategic merge)."""
    return Request("PATCH", RESOURCES["imagecaches"].object_path(name), _write_query(dry_run), patch, MERGE_PATCH)


def delete_request(cache: Mapping, dry_run: bool) -> Request:
    """DELETE of an ImageCache as seen: DeleteOptions preconditions on its uid and resourceVersion."""
    meta, _, _ = _cache_parts(cache)
    preconditions = {key: meta[key] for key in ("uid", "resourceVersion") if meta.get(key)}
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions}
    if dry_run:
        body["dryRun"] = ["All"]
    return Request("DELETE", RESOURCES["imagecaches"].object_path(meta.get("name") or ""), body=body)


def audit_event(obj: Mapping, reason: str, message: str, context: str, now: datetime, person: str = "") -> dict:
    """A core/v1 Event on the written object, saying who (the signed-in person, if any, and which context) did what."""
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
        "message": f"{message} (by {person + ' through ' if person else ''}imc, context {context})",
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


def get_request(kind: str, name: str, namespace: str | None = None) -> Request:
    """GET of one object of a kind of `RESOURCES`."""
    return Request("GET", RESOURCES[kind].object_path(name, namespace))


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
    person = getattr(connection, "person", None)
    event = audit_event(obj, reason, message, str(getattr(connection, "context", "")), datetime.now(UTC),
                        person.user if person is not None else "")
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


def _patch_as_seen(connection: Any, action: str, seen: Mapping, kind: str,
                   build: Callable[[Mapping], tuple[Request, Request]]) -> dict:
    """Dry-run and send the patch `build` makes of the object as the user saw it.

    A controller bumps resourceVersion with every status write; only a real edit (metadata or spec) since the
    user loaded it is a conflict, so after a status-only change the patch is built again on the current object.
    """
    meta = seen.get("metadata") or {}
    for attempt in range(STATUS_ONLY_RETRIES + 1):
        dry, real = build(seen)
        try:
            return _send_twice(connection, action, dry, real)
        except WriteError as exc:
            if exc.status != 409 or attempt == STATUS_ONLY_RETRIES:
                raise
            try:
                current = send_json(connection.api_client, get_request(kind, meta.get("name") or "",
                                                                       meta.get("namespace")))
            except RequestError:
                raise exc from None
            if edited_since(seen, current):
                raise
            seen = current
    raise AssertionError("unreachable: the last attempt returns or raises")


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

    def build(seen: Mapping) -> tuple[Request, Request]:
        patch = annotation_patch(seen, changes, pull_if_not_present)
        return patch_request(namespace, name, patch, True), patch_request(namespace, name, patch, False)

    patched = _patch_as_seen(connection, action, deployment, "deployments", build)
    what = describe_changes(changes, pull_if_not_present)
    warnings = _audit(connection, patched, PATCHED_REASON, f"pod template of Deployment {name}: {what}")
    return WriteResult(True, f"patched Deployment {namespace}/{name}: {what}", patched, warnings)


def edit_imagecache(connection: Any, cache: Mapping, edit: CacheEdit) -> WriteResult:
    """Update an ImageCache's images or extend its retention, as of the version the user saw: checked here
    (phase, range), server dry-run, the patch with a resourceVersion precondition, then an audit Event."""
    ensure_writable(connection)
    name = (cache.get("metadata") or {}).get("name") or ""
    action = f"update ImageCache {name}"

    def build(seen: Mapping) -> tuple[Request, Request]:
        problems = cache_edit_problems(seen, edit)
        if problems:
            raise WriteError(f"{action}: nothing was sent: " + "; ".join(problems), 422, "Invalid", tuple(problems))
        patch = cache_patch(seen, edit)
        return cache_patch_request(name, patch, True), cache_patch_request(name, patch, False)

    patched = _patch_as_seen(connection, action, cache, "imagecaches", build)
    reason = IMAGES_UPDATED_REASON if edit.images is not None else RETENTION_EXTENDED_REASON
    warnings = _audit(connection, patched, reason, f"ImageCache {name}: {edit.describe()}")
    return WriteResult(True, f"updated ImageCache {name}: {edit.describe()}", patched, warnings)


def delete_imagecache(connection: Any, cache: Mapping) -> WriteResult:
    """Delete an ImageCache as the user saw it (uid and resourceVersion preconditions: any change since is a
    Conflict), server dry-run first, then an audit Event."""
    ensure_writable(connection)
    meta = cache.get("metadata") or {}
    name = meta.get("name") or ""
    action = f"delete ImageCache {name}"
    if not name or not meta.get("resourceVersion"):
        raise WriteError(f"{action}: the cache as seen has no name or resourceVersion to delete against", 422, "Invalid")
    answer = _send_twice(connection, action, delete_request(cache, True), delete_request(cache, False))
    # a custom resource's DELETE answers the object; anything else (a Status) audits the version seen
    deleted = answer if isinstance(answer, dict) and answer.get("kind") == KIND else dict(cache)
    images = ", ".join((cache.get("spec") or {}).get("images") or ())
    warnings = _audit(connection, deleted, DELETED_REASON, f"ImageCache {name} deleted (it held {images})")
    return WriteResult(True, f"deleted ImageCache {name}", deleted, warnings)
