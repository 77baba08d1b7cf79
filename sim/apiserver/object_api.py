"""The API operations of the simulated cluster (create, update, patch, delete) over the store."""

from __future__ import annotations

import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from core.timeutil import format_time
from sim.apiserver import errors, fields
from sim.apiserver.defaults import apply_defaults
from sim.apiserver.definitions import OBJECT_META, decodable_fields, decode_check, definition_of, prune_unknown
from sim.apiserver.ephemeral import check_ephemeral, with_ephemeral
from sim.apiserver.errors import ApiError
from sim.apiserver.patching import PatchError, apply_patch
from sim.apiserver.resources import (
    CRDS,
    CRONJOBS,
    DEPLOYMENTS,
    EVENTS,
    IMAGECACHES,
    JOBS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    RESOURCES_BY_KEY,
    STORED_RESOURCES,
    ResourceType,
    Target,
)
from sim.apiserver.scheduling import Scheduler
from sim.apiserver.schema import crd_schema, crd_status, prune, type_errors, unknown_fields
from sim.apiserver.store import Change, Entry, Store, object_key
from sim.apiserver.validation import check_object, check_update, fit_for_storage

# Warnings for the response to the current request (Kubernetes' `Warning:` headers); None outside a request.
WARNINGS: ContextVar[list[str] | None] = ContextVar("WARNINGS", default=None)
# An admission hook may change a new object before it is stored and return work to do once it is.
Admitter = Callable[[dict], Callable[[Entry], None] | None]
# An update check sees the stored object and the new one: it may refuse (ApiError), also on a dry run, and return work to
# do once the new one is stored (not on a dry run).
UpdateAdmitter = Callable[[dict, dict], Callable[[dict], None] | None]
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
GENERATION_FROM_SPEC = (DEPLOYMENTS.key, REPLICASETS.key, JOBS.key, CRONJOBS.key, IMAGECACHES.key, CRDS.key)
# metadata only the server writes (an update keeps the stored values)
SERVER_METADATA = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")
FOREGROUND = "foregroundDeletion"
DEFAULT_GRACE_SECONDS = 30
POD_STOP_SECONDS = 2.0  # how long (sim time) a Terminating pod's containers take to stop, within its grace period
BUILT_IN_GROUPS = ("", "apps", "batch", "apiextensions.k8s.io", "authorization.k8s.io", "authentication.k8s.io",
                   "coordination.k8s.io")
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# names and uids need to be unlikely to repeat, not unguessable: kube-apiserver draws a generated name's suffix from
# math/rand (k8s.io/apimachinery/pkg/util/rand.String); one os.urandom call per pod was a tenth of a ramp's CPU
_random = random.Random()
# a create with generateName draws another name while the drawn one is taken, up to 8 draws (KEP-4420, GA in v1.32:
# maxNameGenerationCreateAttempts in k8s.io/apiserver/pkg/registry/generic/registry/store.go)
NAME_GENERATION_ATTEMPTS = 8
DEFAULT_MAX_PODS = 25_000  # the quota on all pods: well above the scale scenario's 10,000
POD_QUOTA_NAME = "imc-sim-pods"
GC_BATCH = 500  # dependents deleted at once; a bigger cascade goes on in batches while the server serves
GC_PAUSE_SECONDS = 0.02  # real time between those batches


@dataclass(frozen=True)
class WriteOptions:
    """How a write was asked for: dryRun=All, fieldManager, fieldValidation, and Update or (server-side) Apply."""

    dry_run: bool = False
    field_manager: str | None = None
    field_validation: str = "Warn"
    operation: str = "Update"
    force: bool = False  # server-side apply: take fields other managers own


DEFAULT_WRITE = WriteOptions()


@dataclass(frozen=True)
class DeleteOptions:
    """How a delete was asked for (the DeleteOptions body and query): preconditions, dryRun, propagation, grace."""

    preconditions: dict | None = None
    dry_run: bool = False
    propagation: str = "Background"  # Orphan, Background or Foreground
    grace_seconds: int | None = None  # None: the object's own default


DEFAULT_DELETE = DeleteOptions()


def now_timestamp() -> str:
    """The current time as Kubernetes writes it."""
    return format_time(datetime.now(UTC))


def random_suffix(length: int = 5) -> str:
    """A random suffix in the alphabet Kubernetes uses for generated names."""
    return "".join(_random.choices(_NAME_SUFFIX_ALPHABET, k=length))


def new_uid() -> str:
    """A random (version 4) UUID for a new object."""
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))


def generated_name(prefix: str, taken: Callable[[str], bool]) -> str:
    """`prefix` and a random suffix, drawn again while the name is taken, NAME_GENERATION_ATTEMPTS times at most
    (the last draw is returned taken or not: its create is then the 409 AlreadyExists)."""
    name = prefix + random_suffix()
    for _ in range(NAME_GENERATION_ATTEMPTS - 1):
        if not taken(name):
            break
        name = prefix + random_suffix()
    return name


def patched(original: dict, content_type: str, patch: object) -> dict:
    """A patch applied to an object; 422 when it cannot be."""
    try:
        return apply_patch(original, content_type, patch)
    except PatchError as exc:
        raise ApiError(422, f"the patch could not be applied: {exc}", reason="Invalid") from None


def owner_uids(metadata: dict) -> set[str]:
    """The uids an object's ownerReferences name (a malformed reference names none)."""
    references = metadata.get("ownerReferences")
    if not isinstance(references, list):
        return set()
    return {uid for o in references if isinstance(o, dict) and isinstance(uid := o.get("uid"), str)}


def _undecodable(resource: ResourceType, problem: str) -> ApiError:
    """400 for a body that does not decode as the resource's kind, as kube-apiserver's transformDecodeError words it."""
    return ApiError(400, f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
                         f"{problem}")


def _comparable(obj: dict) -> dict:
    """An object without what every write changes (resourceVersion, managedFields' times), to spot no-op writes."""
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    if "managedFields" in metadata:
        metadata["managedFields"] = [{k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e
                                     for e in metadata["managedFields"] or []]
    return {**obj, "metadata": metadata}


def _record_manager(new: dict, old: dict | None, options: WriteOptions, api_version: str,
                    subresource: str | None = None) -> None:
    """Ownership after an update or create: the writer owns what it changed, and nobody keeps what is gone."""
    manager = options.field_manager
    if not manager or options.operation == "Apply":
        return
    section = "status" if subresource == "status" else ""
    before = fields.leaves(old, section) if old is not None else {}
    after = fields.leaves(new, section)
    changed = {path for path, value in after.items() if path not in before or before[path] != value}
    gone = before.keys() - after.keys()
    source = new if "managedFields" in new["metadata"] or old is None else old
    entries = fields.entries_of(source)
    mine = next((e for e in entries if e.same_owner(manager, "Update", section)), None)
    for entry in entries:
        if entry is not mine:
            entry.paths -= changed | gone
    if mine is not None:
        mine.paths = (mine.paths | changed) - gone
        if changed or gone:
            mine.time, mine.api_version = now_timestamp(), api_version
    elif changed:
        entries.append(fields.ManagedEntry(manager, "Update", api_version, now_timestamp(), changed, section))
    new["metadata"]["managedFields"] = [entry.encode() for entry in entries if entry.paths]
    if not new["metadata"]["managedFields"]:
        del new["metadata"]["managedFields"]


class ObjectApi:
    """Validated writes with Kubernetes semantics; controllers and the HTTP layer both go through here."""

    def __init__(self, store: Store, scheduler: Scheduler | None = None, max_pods: int = DEFAULT_MAX_PODS) -> None:
        self.store = store
        self.scheduler = scheduler  # runs the end of pods' grace periods (none: pods go at once)
        self.max_pods = max_pods
        self._garbage: deque[tuple[str, str, str, DeleteOptions]] = deque()  # dependents still to delete
        self._collecting = False  # a batch is running or scheduled
        self._terminating: dict[str, int] = {}  # namespace being deleted -> how many objects it still holds
        self.admitters: dict[str, list[Admitter]] = {}
        self.update_admitters: dict[str, list[UpdateAdmitter]] = {}
        self.dependents: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> (resource key, namespace, name)
        self.owners: dict[str, tuple[str, str, str]] = {}  # uid -> where that object lives
        store.add_listener(self._index_owners)

    def resume(self) -> None:
        """After a restart on stored objects, the work the stopped cluster left: a Terminating pod's grace period runs
        again, and an object whose owners are all gone is collected, as the garbage collector's first sync finds it
        (kubernetes pkg/controller/garbagecollector: attemptToDeleteItem deletes a dependent of absent owners)."""
        for entry in list(self.store.entries(PODS.key)):
            metadata = entry.obj["metadata"]
            if metadata.get("deletionTimestamp") and metadata.get("deletionGracePeriodSeconds") and self.scheduler:
                self.scheduler.after(POD_STOP_SECONDS, self._grace_over, PODS, metadata.get("namespace", ""),
                                     metadata["name"], metadata.get("uid", ""))
        orphaned = {key for uid, keys in self.dependents.items() if uid not in self.owners for key in keys}
        for key, namespace, name in sorted(orphaned):
            entry = self.store.get(key, namespace, name)
            if entry is not None and not owner_uids(entry.obj["metadata"]) & self.owners.keys():
                self._garbage.append((key, namespace, name, DeleteOptions()))
        if self._garbage and not self._collecting:
            self._collect_garbage()

    def _check_pod_quota(self, name: str) -> None:
        """403 once the cluster holds `max_pods` pods, worded as a ResourceQuota refusal."""
        used = self.store.count(PODS.key)
        if used >= self.max_pods:
            raise ApiError(
                403,
                f'pods "{name}" is forbidden: exceeded quota: {POD_QUOTA_NAME}, requested: pods=1, '
                f"used: pods={used}, limited: pods={self.max_pods}",
                details={"name": name, "kind": "pods"},
            )

    def add_admitter(self, resource: ResourceType, admitter: Admitter) -> None:
        """Run `admitter` on every new object of a resource before it is stored (not on dry runs)."""
        self.admitters.setdefault(resource.key, []).append(admitter)

    def add_update_admitter(self, resource: ResourceType, admitter: UpdateAdmitter) -> None:
        """Run `admitter` on every update of an object of a resource (not of its status) once it is valid."""
        self.update_admitters.setdefault(resource.key, []).append(admitter)

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
        """Decode an object as its kind's schema says: wrong types are 400 (in a custom resource's own fields, 422),
        unknown fields are a 400 when Strict, a warning when Warn, and dropped in any case."""
        definition = definition_of(resource.group, resource.version, resource.kind)
        if definition is not None:
            decoded = decode_check(obj, definition)
            if decoded.mismatches:
                raise _undecodable(resource, decoded.mismatches[0])
            unknown = decoded.unknown
        else:
            schema = self.schema_of(resource)
            if schema is None:
                return obj
            # a custom resource's metadata is decoded into ObjectMeta as a built-in's is (apiextensions-apiserver's
            # schemaCoercingDecoder: GetObjectMetaWithOptions), so its wrong types are the same 400
            meta = decode_check(obj.get("metadata"), OBJECT_META, "metadata")
            if meta.mismatches:
                raise _undecodable(resource, meta.mismatches[0])
            causes = type_errors(obj, schema)
            if causes:
                raise errors.invalid(resource.kind, resource.group, (obj.get("metadata") or {}).get("name", ""),
                                     causes)
            unknown = meta.unknown + unknown_fields(obj, schema)
        if unknown and field_validation == "Strict":
            listed = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise _undecodable(resource, f"strict decoding error: {listed}")
        warnings = WARNINGS.get()
        if field_validation == "Warn" and warnings is not None:
            warnings.extend(f'unknown field "{path}"' for path in unknown)
        if not unknown:
            return obj
        if definition is not None:
            return prune_unknown(obj, definition)
        pruned = prune(obj, self.schema_of(resource))
        return {**pruned, "metadata": prune_unknown(obj["metadata"], OBJECT_META)}

    def _validate(self, resource: ResourceType, obj: dict, old: dict | None = None) -> None:
        """422 Invalid with causes when the object breaks the rules."""
        causes = check_object(resource.key, obj)
        if old is not None:  # what may not change comes first, as kube-apiserver's update validation lists it
            causes = check_update(resource.key, old, obj) + causes
        if causes:
            raise errors.invalid(resource.kind, resource.group, obj["metadata"].get("name", ""), causes)

    def create(
        self,
        resource: ResourceType,
        namespace: str,
        body: object,
        options: WriteOptions = DEFAULT_WRITE,
        internal: bool = False,
        trusted: bool = False,
    ) -> dict:
        """POST: store a new object.

        `internal` is for scenarios and controllers: the status and creationTimestamp they give are kept. `trusted`
        is for a body the sim built from objects the API already decoded (a controller's pod from its template, an
        Event): its fields are not decoded again.
        """
        obj = self._check_body(resource, namespace, body)
        if not trusted:
            obj = self._check_fields(resource, obj, options.field_validation)
        metadata = obj["metadata"]
        if not metadata.get("name") and metadata.get("generateName"):
            home_namespace = metadata.get("namespace", "")
            metadata["name"] = generated_name(
                metadata["generateName"], lambda name: self.store.get(resource.key, home_namespace, name) is not None)
        if resource.namespaced:
            home = self.store.get(NAMESPACES.key, "", namespace)
            if home is None:
                raise errors.not_found("namespaces", "", namespace)
            if home.obj["metadata"].get("deletionTimestamp"):
                raise ApiError(403, f'{errors.qualified(resource.plural, resource.group)} "{metadata.get("name", "")}" '
                                    f"is forbidden: unable to create new content in namespace {namespace} because it "
                                    "is being terminated", details={"name": metadata.get("name", ""),
                                                                    "group": resource.group, "kind": resource.plural})
        created = metadata.get("creationTimestamp") if internal else None
        for server_field in ("resourceVersion", *SERVER_METADATA):
            metadata.pop(server_field, None)
        if resource.has_status and not internal:
            obj.pop("status", None)
        if resource == NAMESPACES:
            obj.setdefault("status", {"phase": "Active"})
        if resource == CRDS:
            obj["status"] = crd_status(obj, now_timestamp())
        applied = set(fields.leaves(obj)) if options.operation == "Apply" else set()
        metadata["uid"] = new_uid()  # before the defaults: a Job's generated selector names it
        apply_defaults(resource.key, obj)
        self._validate(resource, obj)
        if self.store.get(resource.key, metadata.get("namespace", ""), metadata["name"]) is not None:
            raise errors.already_exists(resource.plural, resource.group, metadata["name"])
        if resource == PODS:
            self._check_pod_quota(metadata["name"])
        metadata["creationTimestamp"] = created or now_timestamp()
        if resource.key in GENERATION_FROM_SPEC or resource.key == PODS.key:
            metadata["generation"] = 1
        if options.operation == "Apply" and options.field_manager:
            metadata["managedFields"] = [fields.ManagedEntry(options.field_manager, "Apply", resource.api_version,
                                                             metadata["creationTimestamp"], applied).encode()]
        _record_manager(obj, None, options, resource.api_version)
        if options.dry_run:
            return obj
        obj = fit_for_storage(obj, apply=options.operation == "Apply")
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
        elif subresource == "ephemeralcontainers":
            new = with_ephemeral(current.copy(), new, now_timestamp())
            causes = check_ephemeral(old, new)
            if causes:
                raise errors.invalid(resource.kind, resource.group, name, causes)
        else:
            if resource.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            kept = {k: old["metadata"][k] for k in SERVER_METADATA if k in old["metadata"]}
            new["metadata"] = {k: v for k, v in metadata.items() if k not in SERVER_METADATA}
            new["metadata"].update(kept, name=name)
            if "deletionTimestamp" in kept:
                added = set(new["metadata"].get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
                if added:
                    raise errors.invalid(resource.kind, resource.group, name, [
                        ("metadata.finalizers", "Forbidden: no new finalizers can be added if the object is being "
                                                "deleted")])
            if resource.namespaced:
                new["metadata"]["namespace"] = old["metadata"]["namespace"]
            apply_defaults(resource.key, new)
            if resource.key in GENERATION_FROM_SPEC and new.get("spec") != old.get("spec"):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            self._validate(resource, new, old)
        new["kind"], new["apiVersion"] = resource.kind, resource.api_version
        _record_manager(new, old, options, resource.api_version, subresource)
        if _comparable(new) == _comparable(old):
            return old
        after_store = [hook for admit in self.update_admitters.get(resource.key, ()) if not subresource
                       and (hook := admit(old, new)) is not None]
        if options.dry_run:
            return new
        stored = self._settle(resource, fit_for_storage(new, apply=options.operation == "Apply"))
        for hook in after_store:
            hook(stored)
        return stored

    def update(self, target: Target, body: object, options: WriteOptions = DEFAULT_WRITE) -> dict:
        """PUT: replace an object (or its status)."""
        current = self.get(target.resource, target.namespace, target.name)
        new = self._check_body(target.resource, target.namespace, body)
        return self._replace(target.resource, current, new, target.subresource, options)

    def patch(self, target: Target, content_type: str, patch: object, options: WriteOptions = DEFAULT_WRITE) -> dict:
        """PATCH: apply a merge, strategic merge or JSON patch; a stale resourceVersion in it is a 409."""
        current = self.get(target.resource, target.namespace, target.name)
        new = patched(current.copy(), content_type, patch)
        new_metadata = new.get("metadata")
        if not isinstance(new_metadata, dict):
            raise ApiError(422, "metadata must be an object", reason="Invalid")
        if new_metadata.get("resourceVersion") is None:
            new_metadata["resourceVersion"] = current.obj["metadata"]["resourceVersion"]
        return self._replace(target.resource, current, new, target.subresource, options)

    def apply(self, resource: ResourceType, namespace: str, name: str, body: object,
              options: WriteOptions) -> dict:
        """Server-side apply to an existing object: merge the applied configuration and move field ownership.

        A field another manager owns with a different value is a 409 conflict unless forced; a field this
        manager applied before and no longer applies is removed when nobody else owns it.
        """
        current = self.get(resource, namespace, name)
        config = self._check_fields(resource, self._check_body(resource, namespace, body), options.field_validation)
        config["metadata"].pop("managedFields", None)
        live, manager = current.copy(), options.field_manager or ""
        applied = fields.leaves(config)
        entries = fields.entries_of(live)
        found = fields.conflicts(live, applied, entries, manager)
        unexcused = fields.unexcused_conflicts(live, found, manager)
        if unexcused and not options.force:
            raise ApiError(409, fields.conflict_message(unexcused), reason="Conflict", details={
                "causes": [{"reason": "FieldManagerConflict", "field": fields.dotted(c.path),
                            "message": f'conflict with "{c.manager}" using {c.api_version}'} for c in unexcused]})
        for conflict in found:
            for entry in entries:
                if entry.manager == conflict.manager:
                    entry.paths.discard(conflict.path)
        mine = next((e for e in entries if e.same_owner(manager, "Apply", "")), None)
        merged = fields.merge(live, config)
        others = [path for entry in entries if entry is not mine and not entry.subresource for path in entry.paths]
        dropped = (mine.paths if mine else set()) - applied.keys()
        for path in sorted(dropped, key=lambda p: len(p) - (p[-1] == fields.ITEM)):  # an item before its fields
            prefix = path[:-1] if path[-1] == fields.ITEM else path
            if not any(other[:len(prefix)] == prefix for other in others):
                fields.remove(merged, path)
        if mine is None:
            mine = fields.ManagedEntry(manager, "Apply", resource.api_version, "", set())
            entries.append(mine)
        mine.paths, mine.time, mine.api_version = set(applied), now_timestamp(), resource.api_version
        merged["metadata"]["managedFields"] = [entry.encode() for entry in entries if entry.paths]
        merged["metadata"].setdefault("resourceVersion", current.obj["metadata"]["resourceVersion"])
        return self._replace(resource, current, merged, None, options)

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

    def record_event(
        self, involved: dict, reason: str, event_type: str, message: str, component: str, field_path: str = "",
        at: datetime | None = None,
    ) -> None:
        """A v1 Event about an object (named `<object>.<time>` so names sort by time), or about one of its containers;
        `at` dates an event of a scenario's past."""
        metadata = involved["metadata"]
        if metadata["namespace"] in self._terminating:
            return  # nothing new is written into a namespace being deleted
        now = format_time(at) if at is not None else now_timestamp()
        body = {
            "metadata": {"name": f"{metadata['name']}.{time.time_ns():x}", "namespace": metadata["namespace"]},
            "involvedObject": {
                "kind": involved.get("kind", "Pod"),
                "apiVersion": involved.get("apiVersion", "v1"),
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata.get("uid", ""),
                "resourceVersion": metadata.get("resourceVersion", ""),
                **({"fieldPath": field_path} if field_path else {}),
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
        self.create(EVENTS, metadata["namespace"], body, trusted=True)

    def save(self, resource: ResourceType, obj: dict) -> Entry:
        """Store a controller's change to an existing object as is (no validation, status included)."""
        return self.store.put(resource.key, obj)

    def delete(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        options: DeleteOptions = DEFAULT_DELETE,
    ) -> dict:
        """DELETE: remove an object now, or mark it Terminating while finalizers or a pod's grace period hold it.

        What it owns is garbage-collected as `options.propagation` says: Background (after it goes),
        Foreground (before it goes, held by the `foregroundDeletion` finalizer) or Orphan (kept, unowned).
        """
        current = self.get(resource, namespace, name)
        metadata = current.obj["metadata"]
        preconditions = options.preconditions or {}
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
        if options.dry_run:
            return current.obj
        current = self._readable(resource, current)
        metadata = current.obj["metadata"]
        if resource == NAMESPACES:
            return self._terminate_namespace(current)
        grace = self._grace_seconds(resource, current.obj, options.grace_seconds)
        if metadata.get("deletionTimestamp"):
            if grace == 0 and metadata.get("deletionGracePeriodSeconds"):
                obj = current.copy()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                return self._settle(resource, obj)
            return current.obj
        if options.propagation == "Orphan":
            self._orphan_dependents(metadata.get("uid", ""))
        obj = current.copy()
        finalizers = list(obj["metadata"].get("finalizers") or [])
        foreground = options.propagation == "Foreground" and bool(self.dependents.get(metadata.get("uid", "")))
        if foreground and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if not finalizers and not grace:
            return self._remove(resource, current)
        obj["metadata"].update(deletionTimestamp=now_timestamp(), deletionGracePeriodSeconds=grace)
        if finalizers:
            obj["metadata"]["finalizers"] = finalizers
        entry = self.store.put(resource.key, obj)
        if foreground:
            self._delete_dependents(metadata.get("uid", ""), DeleteOptions(propagation="Foreground"))
        if grace and self.scheduler is not None:
            # the kubelet stops the containers well within the grace period, then deletes for good
            self.scheduler.after(min(grace, POD_STOP_SECONDS), self._grace_over, resource, namespace, name,
                                 metadata.get("uid", ""))
        return entry.obj

    def _readable(self, resource: ResourceType, current: Entry) -> Entry:
        """An object as kube-apiserver reads it back from storage: metadata fields that do not decode are dropped
        (stored again without them, so that a malformed object left in the store can still be deleted)."""
        metadata = current.obj["metadata"]
        kept = decodable_fields(metadata, OBJECT_META)
        if len(kept) == len(metadata):
            return current
        obj = current.copy()
        obj["metadata"] = {key: value for key, value in obj["metadata"].items() if key in kept}
        return self.store.put(resource.key, obj)

    @staticmethod
    def _grace_seconds(resource: ResourceType, obj: dict, asked: int | None) -> int:
        """The grace period of a deletion: what was asked, else a pod's terminationGracePeriodSeconds; 0 for others."""
        if resource != PODS:
            return 0
        if asked is None:
            asked = obj.get("spec", {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        return max(0, int(asked))

    def _grace_over(self, resource: ResourceType, namespace: str, name: str, uid: str) -> None:
        """A Terminating pod's containers have stopped: it goes, unless finalizers still hold it."""
        entry = self.store.get(resource.key, namespace, name)
        if entry is None or entry.obj["metadata"].get("uid") != uid:
            return
        obj = entry.copy()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        self._settle(resource, obj)

    def _settle(self, resource: ResourceType, obj: dict) -> dict:
        """Store a Terminating object, or remove it once no finalizer and no grace period holds it."""
        metadata = obj["metadata"]
        if metadata.get("deletionTimestamp") and not metadata.get("finalizers") and \
                not metadata.get("deletionGracePeriodSeconds"):
            current = self.store.get(resource.key, metadata.get("namespace", ""), metadata["name"])
            if current is not None:
                return self._remove(resource, current)
        return self.store.put(resource.key, obj).obj

    def _remove(self, resource: ResourceType, current: Entry) -> dict:
        """Remove an object for good, collect what it still owns, and release owners waiting in the foreground."""
        metadata = current.obj["metadata"]
        removed = self.store.remove(resource.key, metadata.get("namespace", ""), metadata["name"])
        namespace = metadata.get("namespace", "")
        if namespace in self._terminating:
            self._terminating[namespace] -= 1
            home = self.store.get(NAMESPACES.key, "", namespace)
            if self._terminating[namespace] <= 0 and home is not None:
                del self._terminating[namespace]
                self._remove(NAMESPACES, home)
        if resource == NAMESPACES:
            self._empty_namespace(metadata["name"])
        self._delete_dependents(metadata.get("uid", ""), DeleteOptions())
        for uid in owner_uids(metadata):
            self._release_foreground(uid)
        return removed.obj if removed else current.obj

    def _terminate_namespace(self, current: Entry) -> dict:
        """A namespace with content is Terminating while its objects are deleted (finalizers and grace periods
        honoured); it goes with its last object."""
        name = current.obj["metadata"]["name"]
        if current.obj["metadata"].get("deletionTimestamp"):
            return current.obj
        contents = [(kind.key, name, entry.obj["metadata"]["name"])
                    for kind in STORED_RESOURCES if kind.namespaced for entry in self.store.entries(kind.key, name)]
        if not contents:
            return self._remove(NAMESPACES, current)
        namespace = current.copy()
        namespace["metadata"].update(deletionTimestamp=now_timestamp(), deletionGracePeriodSeconds=0)
        namespace.setdefault("status", {})["phase"] = "Terminating"
        entry = self.store.put(NAMESPACES.key, namespace)
        self._terminating[name] = len(contents)
        self._garbage.extend((key, ns, child, DeleteOptions()) for key, ns, child in contents)
        if not self._collecting:
            self._collect_garbage()
        return entry.obj

    def _empty_namespace(self, namespace: str) -> None:
        """A deleted namespace takes everything in it."""
        for kind in STORED_RESOURCES:
            if kind.namespaced:
                for child in list(self.store.entries(kind.key, namespace)):
                    self.store.remove(kind.key, namespace, child.obj["metadata"]["name"])

    def _delete_dependents(self, uid: str, options: DeleteOptions) -> None:
        """Delete every object with an ownerReference to `uid` (each once: linear in the dependents)."""
        self._garbage.extend((key, namespace, name, options) for key, namespace, name in self.dependents.get(uid, ()))
        if not self._collecting:
            self._collect_garbage()

    def _collect_garbage(self) -> None:
        """Delete queued dependents: GC_BATCH now, the rest in later batches (with a scheduler) between requests."""
        self._collecting = True
        deleted = 0
        while self._garbage and (deleted < GC_BATCH or self.scheduler is None):
            key, namespace, name, options = self._garbage.popleft()
            if self.store.get(key, namespace, name) is not None:
                self.delete(RESOURCES_BY_KEY[key], namespace, name, options)  # queues its own dependents
                deleted += 1
        if self._garbage and self.scheduler is not None:
            self.scheduler.after_once(GC_PAUSE_SECONDS, self._collect_garbage, real=True)
        else:
            self._collecting = False

    def _orphan_dependents(self, uid: str) -> None:
        """Remove the ownerReferences to `uid` from what it owns."""
        for key, namespace, name in list(self.dependents.get(uid, ())):
            entry = self.store.get(key, namespace, name)
            if entry is None:
                continue
            dependent = entry.copy()
            owners = [o for o in dependent["metadata"].get("ownerReferences") or []
                      if isinstance(o, dict) and o.get("uid") != uid]
            if owners:
                dependent["metadata"]["ownerReferences"] = owners
            else:
                dependent["metadata"].pop("ownerReferences", None)
            self.store.put(key, dependent)

    def _release_foreground(self, uid: str | None) -> None:
        """An owner deleted in the foreground goes once its last dependent has gone."""
        if not uid or self.dependents.get(uid):
            return
        location = self.owners.get(uid)
        entry = self.store.get(*location) if location else None
        if entry is None or FOREGROUND not in (entry.obj["metadata"].get("finalizers") or []):
            return
        owner = entry.copy()
        owner["metadata"]["finalizers"] = [f for f in owner["metadata"]["finalizers"] if f != FOREGROUND]
        if not owner["metadata"]["finalizers"]:
            del owner["metadata"]["finalizers"]
        self._settle(RESOURCES_BY_KEY[location[0]], owner)

    def _index_owners(self, change: Change) -> None:
        """Keep the dependents of every owner uid (and where each object with dependents lives) up to date."""
        obj = change.entry.obj
        key = (change.resource, *object_key(obj))
        before = owner_uids(change.previous.obj["metadata"]) if change.previous is not None else set()
        after = set() if change.type == "DELETED" else owner_uids(obj["metadata"])
        for uid in before - after:
            dependents = self.dependents.get(uid)
            if dependents is not None:
                dependents.discard(key)
                if not dependents:
                    del self.dependents[uid]
        for uid in after - before:
            self.dependents.setdefault(uid, set()).add(key)
        uid = obj["metadata"].get("uid")
        if change.type == "DELETED":
            self.owners.pop(uid, None)
        elif change.type == "ADDED":
            self.owners[uid] = key
