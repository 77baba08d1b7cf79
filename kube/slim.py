"""Cut watched objects down to the fields imc reads, so 10,000 pods fit in a small process."""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import Any

import orjson

from core.outcomes import ECI_REASONS
from core.starts import PULL_REASON, START_STATUS_FIELDS
from core.workloads import CONTAINER_LISTS

# the events the store reads: ECI's image-cache events and the image pulls; the others are dropped as listed
KEPT_EVENT_REASONS = ECI_REASONS | {PULL_REASON}

POD_METADATA_FIELDS = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "generateName",
    "labels",
    "ownerReferences",
)
CONTAINER_FIELDS = ("name", "image", "imagePullPolicy")
POD_STATUS_FIELDS = ("phase", "reason", "message", "startTime")
# what `core.starts.pod_start` reads of a container status: start times and why it waits
CONTAINER_STATE_FIELDS = {"running": ("startedAt",), "terminated": ("startedAt",), "waiting": ("reason", "message")}
EVENT_FIELDS = (
    "apiVersion",
    "kind",
    "reason",
    "message",
    "type",
    "count",
    "firstTimestamp",
    "lastTimestamp",
    "eventTime",
)
# the object an event is about: what `core.outcomes.event_pod_key` and the Pods page's event list read
EVENT_INVOLVED_FIELDS = ("apiVersion", "kind", "namespace", "name", "uid", "fieldPath")
EVENT_METADATA_FIELDS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
# a kubelet's `Pulled` event (~3 a pod) is only parsed into an ImagePull (`core.starts.pull_from_event`):
# it keeps what that and the store's keys read, so listing them pins less memory
PULLED_FIELDS = ("reason", "message", "firstTimestamp", "lastTimestamp", "eventTime")
PULLED_INVOLVED_FIELDS = ("kind", "namespace", "name", "uid", "fieldPath")
PULLED_METADATA_FIELDS = ("name", "namespace", "creationTimestamp")
# written by `kubectl apply`: a copy of the whole manifest, often the largest part of a pod
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


# fields whose text repeats across 10,000 pods (namespaces, images, timestamps to the second): one string each
REPEATED = frozenset({
    "namespace", "generateName", "creationTimestamp", "apiVersion", "kind", "phase", "reason", "startTime",
    "type", "status", "lastTransitionTime", "startedAt", "image", "imagePullPolicy", "fieldPath",
    "firstTimestamp", "lastTimestamp", "nodeName", "eventTime",
})
CONTAINER_REPEATED = REPEATED | {"name"}


def _shared(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value


def _pick(source: Any, fields: tuple[str, ...], repeated: frozenset[str] = REPEATED) -> dict:
    if not isinstance(source, dict):
        return {}
    return {key: _shared(source[key]) if key in repeated else source[key] for key in fields if key in source}


def _short(value: Any) -> Any:
    return sys.intern(value) if type(value) is str and len(value) <= 64 else value


def _shared_labels(labels: Any) -> Any:
    if not isinstance(labels, dict):
        return labels
    return {_shared(key): _shared(value) for key, value in labels.items()}


def slim_pod(pod: dict) -> dict:
    """The pod with what the engine, the store and the dashboard read: identity, labels, annotations, images."""
    meta = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    slim_meta = _pick(meta, POD_METADATA_FIELDS)
    if "labels" in slim_meta:
        slim_meta["labels"] = _shared_labels(slim_meta["labels"])
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):  # short values (a matched cache's ID, a policy) repeat across pods: one string each
        slim_meta["annotations"] = {k: _short(v) for k, v in annotations.items() if k not in DROPPED_ANNOTATIONS}
    elif annotations is not None:  # kept as it is, for the engine to name it
        slim_meta["annotations"] = annotations
    slim_spec: dict = {}
    for list_name in CONTAINER_LISTS:
        containers = spec.get(list_name)
        if isinstance(containers, list):
            slim_spec[list_name] = [_pick(c, CONTAINER_FIELDS, CONTAINER_REPEATED) if isinstance(c, dict) else c for c in containers]
        elif containers is not None:
            slim_spec[list_name] = containers
    if "nodeName" in spec:
        slim_spec["nodeName"] = _shared(spec["nodeName"])
    slim = {
        "apiVersion": pod.get("apiVersion", "v1"),
        "kind": pod.get("kind", "Pod"),
        "metadata": slim_meta,
        "spec": slim_spec,
    }
    status = _pick(pod.get("status"), POD_STATUS_FIELDS)
    _slim_start_fields(pod.get("status"), status)
    if status:
        slim["status"] = status
    return slim


def _slim_state(state: Any) -> dict:
    if not isinstance(state, dict):
        return {}
    return {k: _pick(state[k], f) for k, f in CONTAINER_STATE_FIELDS.items() if k in state}


def _slim_start_fields(source: Any, status: dict) -> None:
    """The scheduling condition and container start states: what a pod's start time is read from."""
    if not isinstance(source, dict):
        return
    conditions = source.get("conditions")
    if isinstance(conditions, list):
        scheduled = [
            _pick(c, ("type", "status", "lastTransitionTime"))
            for c in conditions
            if isinstance(c, dict) and c.get("type") == "PodScheduled"
        ]
        if scheduled:
            status["conditions"] = scheduled
    statuses = source.get("containerStatuses")
    if isinstance(statuses, list):
        status["containerStatuses"] = [_slim_container_status(s) for s in statuses if isinstance(s, dict)]


def _slim_container_status(source: dict) -> dict:
    slim = {"name": _shared(source.get("name"))}
    for name in ("state", "lastState"):
        state = _slim_state(source.get(name))
        if state:  # most containers have no lastState: an empty dict each would be ~2 MiB at 10k pods
            slim[name] = state
    return slim


def slim_event(event: dict) -> dict:
    """The event with its reason, message, times and the object it is about."""
    if event.get("reason") == PULL_REASON:
        slim = _pick(event, PULLED_FIELDS)
        for name in ("involvedObject", "regarding"):
            if name in event:
                slim[name] = _pick(event[name], PULLED_INVOLVED_FIELDS)
        slim["metadata"] = _pick(event.get("metadata"), PULLED_METADATA_FIELDS)
        return slim
    slim = _pick(event, EVENT_FIELDS)
    for name in ("involvedObject", "regarding"):
        if name in event:
            slim[name] = _pick(event[name], EVENT_INVOLVED_FIELDS) if isinstance(event[name], dict) else event[name]
    slim["metadata"] = _pick(event.get("metadata"), EVENT_METADATA_FIELDS)
    return slim


SLIMMERS = {"pods": slim_pod, "events": slim_event}


def keep_object(kind: str, obj: dict) -> bool:
    """Client-side filter: only ECI's image-cache events and image pulls are kept."""
    return kind != "events" or obj.get("reason") in KEPT_EVENT_REASONS


def slim_object(kind: str, obj: dict) -> dict:
    """The object cut down for its kind; caches and Deployments are kept whole (few, and edited)."""
    slimmer = SLIMMERS.get(kind)
    return slimmer(obj) if slimmer is not None and isinstance(obj, dict) else obj


# A stored pod is packed (`pack_pod`): one tuple of its slim fields, in this order, instead of ~10 dicts; its labels,
# owner references, spec and status are held once per distinct value (`Shared`), and `unpack_pod` gives the dict back.
PACKED_TOP = ("apiVersion", "kind", "spec", "status")
PACKED_METADATA = (*POD_METADATA_FIELDS, "annotations")
PACKED_FIELDS = (*PACKED_TOP, *PACKED_METADATA)
_TOP_KEYS = frozenset({*PACKED_TOP, "metadata"})
_METADATA_KEYS = frozenset(PACKED_METADATA)
MAX_SHARED = 100_000  # distinct values held by a Shared table before it starts afresh


class Absent:
    """A packed field the pod does not have."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = Absent()


class Shared:
    """Equal JSON values (labels, specs, statuses) held as one object, keyed by their JSON text; not thread-safe (the
    store calls it under its lock). Values are never changed once stored, so sharing them is safe."""

    def __init__(self, limit: int = MAX_SHARED) -> None:
        self.limit = limit
        self._values: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self._values)

    def one(self, value: Any) -> Any:
        """The held value equal to `value` (in the same key order), else `value`, now held; a value that is not JSON
        (a key that is not a string) is returned as it is."""
        if type(value) is not dict and type(value) is not list:
            return value
        try:
            text = orjson.dumps(value).decode()  # as text: orjson's bytes keep a 4 KiB buffer each
        except TypeError:
            return value
        return self.keyed(text, value)

    def keyed(self, key: Hashable, value: Any) -> Any:
        """The value held under `key` (its content: JSON text, or a tuple of hashable parts), else `value`, now held;
        `value` when the key cannot be hashed."""
        try:
            found = self._values.get(key)
        except TypeError:
            return value
        if found is None:
            if len(self._values) >= self.limit:
                self._values.clear()  # those held stay shared by their pods; later ones start a new table
            found = self._values[key] = value
        return found


def pack_pod(pod: dict, shared: Shared, same: dict[str, Any] | None = None) -> tuple | dict:
    """The pod as one tuple of PACKED_FIELDS (ABSENT where it has none), without the status fields only its start is
    read from (`core.starts.START_STATUS_FIELDS`); its spec, status, labels and owner references (alike across a
    workload's pods) held once in `shared`; `same`: objects to keep
    instead of equal ones (its template's annotations). A pod with other fields, or whose metadata is not a dict, is
    kept as a dict (without those status fields): `unpack_pod` gives either back."""
    meta = pod.get("metadata")
    status = pod.get("status", ABSENT)
    if type(status) is dict and any(name in status for name in START_STATUS_FIELDS):
        status = {name: value for name, value in status.items() if name not in START_STATUS_FIELDS}
    if type(meta) is not dict or not _TOP_KEYS.issuperset(pod) or not _METADATA_KEYS.issuperset(meta):
        return pod if status is ABSENT or status is pod.get("status") else {**pod, "status": status}
    get = meta.get
    annotations = get("annotations", ABSENT)
    kept = (same or {}).get("annotations")
    if kept is not None and kept is not annotations and kept == annotations:
        annotations = kept
    api_version, kind = pod.get("apiVersion", ABSENT), pod.get("kind", ABSENT)
    one = shared.one
    return (  # PACKED_FIELDS, in order
        sys.intern(api_version) if type(api_version) is str else api_version,
        sys.intern(kind) if type(kind) is str else kind,
        one(pod.get("spec", ABSENT)), one(status),
        get("name", ABSENT), get("namespace", ABSENT), get("uid", ABSENT), get("resourceVersion", ABSENT),
        get("creationTimestamp", ABSENT), get("deletionTimestamp", ABSENT), get("generateName", ABSENT),
        one(get("labels", ABSENT)), one(get("ownerReferences", ABSENT)), annotations,
    )


_TOP_POSITIONS = tuple(enumerate(PACKED_TOP))
_METADATA_POSITIONS = tuple(enumerate(PACKED_METADATA, start=len(PACKED_TOP)))


def unpack_pod(packed: tuple | dict) -> dict:
    """The pod dict `pack_pod` packed (a new dict and metadata; the values are the held ones, never to be changed)."""
    if type(packed) is dict:
        return packed
    meta = unpack_metadata(packed)
    pod = {name: packed[position] for position, name in _TOP_POSITIONS[:2] if packed[position] is not ABSENT}
    pod["metadata"] = meta
    for position, name in _TOP_POSITIONS[2:]:
        if packed[position] is not ABSENT:
            pod[name] = packed[position]
    return pod


def unpack_metadata(packed: tuple | dict) -> dict:
    """The metadata of a packed pod, as `unpack_pod` gives it ({} when it has none that is a dict)."""
    if type(packed) is dict:
        meta = packed.get("metadata")
        return meta if isinstance(meta, dict) else {}
    return {name: packed[position] for position, name in _METADATA_POSITIONS if packed[position] is not ABSENT}


def packed_field(packed: tuple | dict, name: str) -> Any:
    """One field of a packed pod (a PACKED_FIELDS name; metadata's by their own name), None when it has none."""
    if type(packed) is dict:
        source = packed if name in PACKED_TOP else packed.get("metadata")
        return source.get(name) if isinstance(source, dict) else None
    value = packed[PACKED_FIELDS.index(name)]
    return None if value is ABSENT else value
