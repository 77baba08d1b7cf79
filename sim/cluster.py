"""The API operations of the simulated cluster (create, update, patch, delete) over the store."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from core.timeutil import format_time
from sim import errors
from sim.defaults import apply_defaults
from sim.errors import ApiError
from sim.patching import PatchError, apply_patch
from sim.resources import (
    CRDS,
    DEPLOYMENTS,
    EVENTS,
    IMAGECACHES,
    NAMESPACES,
    PODS,
    REPLICASETS,
    STORED_RESOURCES,
    ResourceType,
)
from sim.schema import crd_schema, prune, unknown_fields
from sim.store import Entry, Store
from sim.validation import check_object, check_update

# Warnings for the response to the current request (Kubernetes' `Warning:` headers); None outside a request.
WARNINGS: ContextVar[list[str] | None] = ContextVar("WARNINGS", default=None)
# An admission hook may change a new object before it is stored and return work to do once it is.
Admitter = Callable[[dict], Callable[[Entry], None] | None]
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
GENERATION_FROM_SPEC = (DEPLOYMENTS.key, REPLICASETS.key, IMAGECACHES.key, CRDS.key)
CASCADE_TO = (REPLICASETS, PODS)
BUILT_IN_GROUPS = ("", "apps", "apiextensions.k8s.io", "authorization.k8s.io", "authentication.k8s.io")
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class WriteOptions:
    """How a write was asked for: dryRun=All, fieldManager, fieldValidation, and Update or (server-side) Apply."""

    dry_run: bool = False
    field_manager: str | None = None
    field_validation: str = "Warn"
    operation: str = "Update"


DEFAULT_WRITE = WriteOptions()


def now_timestamp() -> str:
    """The current time as Kubernetes writes it."""
    return format_time(datetime.now(UTC))


def random_suffix(length: int = 5) -> str:
    """A random suffix in the alphabet Kubernetes uses for generated names."""
    return "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(length))


def patched(original: dict, content_type: str, patch: object) -> dict:
    """A patch applied to an object; 422 when it cannot be."""
    try:
        return apply_patch(original, content_type, patch)
    except PatchError as exc:
        raise ApiError(422, f"the patch could not be applied: {exc}", reason="Invalid") from None


def _comparable(obj: dict) -> dict:
    """An object without what every write changes (resourceVersion, managedFields), to spot no-op writes."""
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": metadata}


def _record_manager(obj: dict, options: WriteOptions, api_version: str) -> None:
    """Note who wrote the object in metadata.managedFields."""
    field_manager, operation = options.field_manager, options.operation
    if not field_manager:
        return
    entries = [
        e
        for e in obj["metadata"].get("managedFields") or []
        if (e.get("manager"), e.get("operation")) != (field_manager, operation)
    ]
    entries.append(
        {
            "manager": field_manager,
            "operation": operation,
            "apiVersion": api_version,
            "time": now_timestamp(),
            "fieldsType": "FieldsV1",
            "fieldsV1": {},
        }
    )
    obj["metadata"]["managedFields"] = entries


class Cluster:
    """Validated writes with Kubernetes semantics; controllers and the HTTP layer both go through here."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.admitters: dict[str, list[Admitter]] = {}

    def add_admitter(self, resource: ResourceType, admitter: Admitter) -> None:
        """Run `admitter` on every new object of a resource before it is stored (not on dry runs)."""
        self.admitters.setdefault(resource.key, []).append(admitter)

    # reads
    def get(self, resource: ResourceType, namespace: str, name: str) -> Entry:
        """One object, or 404."""
        entry = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if entry is None:
            raise errors.not_found(resource.plural, resource.group, name)
        return entry

    # writes
    def _check_body(self, resource: ResourceType, namespace: str, body: object) -> dict:
        """The request body as an object of this resource, or 400."""
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != resource.kind:
            raise ApiError(400, f"the kind {kind!r} does not match the resource {resource.plural!r}")
        if api_version and api_version != resource.api_version:
            raise ApiError(400, f"the API version {api_version!r} does not match {resource.api_version!r}")
        body["kind"], body["apiVersion"] = resource.kind, resource.api_version
        metadata = body.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ApiError(400, "metadata must be an object")
        if resource.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise ApiError(
                    400, "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        return body

    def schema_of(self, resource: ResourceType) -> dict | None:
        """The structural schema of a custom resource, from its CRD object; None for built-in kinds."""
        if resource.group in BUILT_IN_GROUPS:
            return None
        crd = self.store.get(CRDS.key, "", f"{resource.plural}.{resource.group}")
        return crd_schema(crd.obj if crd else None, resource.version)

    def custom_schemas(self, api_version: str) -> dict[str, dict]:
        """Kind → schema of the custom resources of one group version (for /openapi/v3)."""
        resources = [r for r in STORED_RESOURCES if r.api_version == api_version]
        return {r.kind: schema for r in resources if (schema := self.schema_of(r)) is not None}

    def _check_fields(self, resource: ResourceType, obj: dict, field_validation: str) -> dict:
        """Custom resources: unknown fields are a 400 when Strict, else pruned (as the CRD's schema says)."""
        schema = self.schema_of(resource)
        if schema is None:
            return obj
        unknown = unknown_fields(obj, schema)
        if unknown and field_validation == "Strict":
            listed = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise ApiError(400, f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                                f"{resource.kind}: strict decoding error: {listed}")
        warnings = WARNINGS.get()
        if field_validation == "Warn" and warnings is not None:
            warnings.extend(f'unknown field "{path}"' for path in unknown)
        return prune(obj, schema) if unknown else obj

    def _validate(self, resource: ResourceType, obj: dict, old: dict | None = None) -> None:
        """422 Invalid with causes when the object breaks the rules."""
        causes = check_object(resource.key, obj)
        if old is not None and not causes:
            causes = check_update(resource.key, old, obj)
        if causes:
            raise errors.invalid(resource.kind, resource.group, obj["metadata"].get("name", ""), causes)

    def create(
        self,
        resource: ResourceType,
        namespace: str,
        body: object,
        options: WriteOptions = DEFAULT_WRITE,
        internal: bool = False,
    ) -> dict:
        """POST: store a new object.

        `internal` is for scenarios and controllers: the status and creationTimestamp they give are kept.
        """
        obj = self._check_fields(resource, self._check_body(resource, namespace, body), options.field_validation)
        metadata = obj["metadata"]
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + random_suffix()
        if resource.namespaced and self.store.get(NAMESPACES.key, "", namespace) is None:
            raise errors.not_found("namespaces", "", namespace)
        created = metadata.get("creationTimestamp") if internal else None
        for server_field in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation"):
            metadata.pop(server_field, None)
        if resource.has_status and not internal:
            obj.pop("status", None)
        if resource == NAMESPACES:
            obj.setdefault("status", {"phase": "Active"})
        apply_defaults(resource.key, obj)
        self._validate(resource, obj)
        if self.store.get(resource.key, metadata.get("namespace", ""), metadata["name"]) is not None:
            raise errors.already_exists(resource.plural, resource.group, metadata["name"])
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = created or now_timestamp()
        if resource.key in GENERATION_FROM_SPEC or resource.key == PODS.key:
            metadata["generation"] = 1
        _record_manager(obj, options, resource.api_version)
        if options.dry_run:
            return obj
        after_store = [
            hook for admit in self.admitters.get(resource.key, ()) if (hook := admit(obj)) is not None
        ]
        entry = self.store.put(resource.key, obj)
        for hook in after_store:
            hook(entry)
        return entry.obj

    def _replace(
        self,
        resource: ResourceType,
        current: Entry,
        new: dict,
        subresource: str | None,
        options: WriteOptions,
    ) -> dict:
        """Store `new` in place of `current`, keeping what the server owns; 409 on a stale resourceVersion."""
        old = current.obj
        new = self._check_fields(resource, new, options.field_validation)
        metadata = new.setdefault("metadata", {})
        name = old["metadata"]["name"]
        if metadata.get("name", name) != name:
            raise ApiError(400, f'the name of the object ({metadata.get("name")}) does not match the name on the URL')
        if metadata.get("resourceVersion") and metadata["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise errors.conflict(resource.plural, resource.group, name)
        if subresource == "status":
            status = new.get("status", {})
            new = current.copy()
            new["status"] = status
        else:
            if resource.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            kept = {k: old["metadata"][k] for k in ("uid", "creationTimestamp", "generation") if k in old["metadata"]}
            new["metadata"] = {**metadata, **kept, "name": name}
            if resource.namespaced:
                new["metadata"]["namespace"] = old["metadata"]["namespace"]
            apply_defaults(resource.key, new)
            if resource.key in GENERATION_FROM_SPEC and new.get("spec") != old.get("spec"):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            self._validate(resource, new, old)
        new["kind"], new["apiVersion"] = resource.kind, resource.api_version
        if _comparable(new) == _comparable(old):
            return old
        _record_manager(new, options, resource.api_version)
        if options.dry_run:
            return new
        return self.store.put(resource.key, new).obj

    def update(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        body: object,
        subresource: str | None = None,
        options: WriteOptions = DEFAULT_WRITE,
    ) -> dict:
        """PUT: replace an object (or its status)."""
        current = self.get(resource, namespace, name)
        new = self._check_body(resource, namespace, body)
        return self._replace(resource, current, new, subresource, options)

    def patch(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: object,
        subresource: str | None = None,
        options: WriteOptions = DEFAULT_WRITE,
    ) -> dict:
        """PATCH: apply a merge, strategic merge or JSON patch; a stale resourceVersion in it is a 409."""
        current = self.get(resource, namespace, name)
        new = patched(current.copy(), content_type, patch)
        new_metadata = new.get("metadata")
        if not isinstance(new_metadata, dict):
            raise ApiError(422, "metadata must be an object", reason="Invalid")
        if new_metadata.get("resourceVersion") is None:
            new_metadata["resourceVersion"] = current.obj["metadata"]["resourceVersion"]
        return self._replace(resource, current, new, subresource, options)

    def scale_of(self, resource: ResourceType, namespace: str, name: str) -> dict:
        """The autoscaling/v1 Scale of a Deployment or ReplicaSet."""
        obj = self.get(resource, namespace, name).obj
        metadata = obj["metadata"]
        labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {k: metadata[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in labels.items())},
        }

    def set_scale(self, resource: ResourceType, namespace: str, name: str, scale: object,
                  options: WriteOptions = DEFAULT_WRITE) -> dict:
        """Write `spec.replicas` from a Scale; 409 on a stale resourceVersion in it."""
        if not isinstance(scale, dict) or not isinstance(scale.get("spec", {}).get("replicas"), int):
            raise errors.invalid("Scale", "autoscaling", name, [("spec.replicas", "Required value")])
        current = self.get(resource, namespace, name)
        new = current.copy()
        new["spec"]["replicas"] = scale["spec"]["replicas"]
        new["metadata"]["resourceVersion"] = (scale.get("metadata") or {}).get("resourceVersion") or \
            current.obj["metadata"]["resourceVersion"]
        self._replace(resource, current, new, None, options)
        return self.scale_of(resource, namespace, name) if not options.dry_run else {**scale, "kind": "Scale"}

    def record_event(self, involved: dict, reason: str, event_type: str, message: str, component: str) -> None:
        """A v1 Event about an object (named `<object>.<time>` so names sort by time)."""
        metadata = involved["metadata"]
        now = now_timestamp()
        body = {
            "metadata": {"name": f"{metadata['name']}.{time.time_ns():x}", "namespace": metadata["namespace"]},
            "involvedObject": {
                "kind": involved.get("kind", "Pod"),
                "apiVersion": involved.get("apiVersion", "v1"),
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata.get("uid", ""),
                "resourceVersion": metadata.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.create(EVENTS, metadata["namespace"], body)

    def save(self, resource: ResourceType, obj: dict) -> Entry:
        """Store a controller's change to an existing object as is (no validation, status included)."""
        return self.store.put(resource.key, obj)

    def delete(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        preconditions: dict | None = None,
        dry_run: bool = False,
        propagation: str = "Background",
    ) -> dict:
        """DELETE: remove an object and, unless orphaned, what it owns (a Deployment's pods go with it)."""
        current = self.get(resource, namespace, name)
        metadata = current.obj["metadata"]
        preconditions = preconditions or {}
        for key in ("uid", "resourceVersion"):
            if preconditions.get(key) and preconditions[key] != metadata.get(key):
                raise errors.conflict(resource.plural, resource.group, name)
        if resource == NAMESPACES and name in PROTECTED_NAMESPACES:
            raise ApiError(403, f'namespaces "{name}" is forbidden: this namespace may not be deleted')
        if resource == CRDS and name == f"{IMAGECACHES.plural}.{IMAGECACHES.group}":
            raise ApiError(
                403,
                f'customresourcedefinitions.apiextensions.k8s.io "{name}" is forbidden: '
                "the built-in cluster serves ImageCaches itself",
            )
        if dry_run:
            return current.obj
        if propagation != "Orphan":
            self._delete_dependents(resource, current.obj)
        removed = self.store.remove(resource.key, metadata.get("namespace", ""), name)
        return removed.obj if removed else current.obj

    def _delete_dependents(self, resource: ResourceType, obj: dict) -> None:
        """Garbage-collect what the object owns (and a namespace's contents)."""
        metadata = obj["metadata"]
        if resource == NAMESPACES:
            for kind in STORED_RESOURCES:
                if kind.namespaced:
                    for child in list(self.store.entries(kind.key, metadata["name"])):
                        self.store.remove(kind.key, metadata["name"], child.obj["metadata"]["name"])
            return
        if not resource.namespaced:
            return
        uid = metadata.get("uid")
        for kind in CASCADE_TO:
            for child in list(self.store.entries(kind.key, metadata["namespace"])):
                owners = child.obj["metadata"].get("ownerReferences") or []
                if any(owner.get("uid") == uid for owner in owners):
                    self.delete(kind, metadata["namespace"], child.obj["metadata"]["name"])
