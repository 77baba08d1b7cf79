"""The live cluster store: objects from list+watch, every pod decided by the engine, kept current.

Pure (no I/O) and thread-safe: reflector threads write, the UI reads immutable snapshots.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from core.cache_history import CacheHistory, match_signature
from core.caches import CacheView, cache_from_object
from core.errors import ImcError
from core.findings import FIELD_CODES, Finding, brief
from core.images import ImageRef
from core.matching import CacheIndex, Decision, decide
from core.outcomes import (
    ActualOutcome,
    EventFacts,
    event_facts,
    event_pod_key,
    is_eci_event,
    prediction_disagrees,
    reported_outcome,
    unseen_cache,
)
from core.owners import workload_name
from core.policy import MATCHED_CACHE
from core.starts import (
    PULL_REASON,
    PodStart,
    pod_start,
    pull_from_event,
    with_pulls,
)
from core.timeutil import parse_time
from core.workloads import PodTemplate, pod_template
from kube.slim import PACKED_FIELDS, Shared, pack_pod, packed_field, unpack_metadata, unpack_pod

KINDS = ("pods", "imagecaches", "deployments", "events")
LIVENESS = "api"  # set_error's name for the liveness check (the API server answers), beside the kinds
DEFAULT_HISTORY = 20_000
PRUNE_EVERY = timedelta(minutes=1)  # how often the store drops cache versions no pod needs any more
MAX_ERRORS = 20
UNNAMED = "<unnamed>"
LABELS, SPEC = PACKED_FIELDS.index("labels"), PACKED_FIELDS.index("spec")


@dataclass(frozen=True, slots=True)
class PodRecord:
    """One pod with the engine's prediction beside what ECI actually did.

    The pod is held packed (`kube.slim.pack_pod`: one tuple, its labels, spec and status shared with the pods alike
    and its template): `obj` makes its dict again; `metadata`, `uid`, `phase` and `workload` read it without."""

    key: str
    body: tuple | dict
    template: PodTemplate
    decision: Decision
    actual: ActualOutcome | None
    start: PodStart | None = None
    # the cache ECI reports having used when imc never saw it (deleted before imc watched): not a disagreement
    unseen_cache: str | None = None

    @property
    def obj(self) -> dict:
        """The pod as the store read it (slimmed, without the status fields its start was read from): a new dict
        each time, whose values are shared and never to be changed."""
        return unpack_pod(self.body)

    @property
    def metadata(self) -> dict:
        """The pod's metadata, as in `obj`."""
        return unpack_metadata(self.body)

    @property
    def uid(self) -> str | None:
        """metadata.uid, when a string."""
        uid = packed_field(self.body, "uid")
        return uid if isinstance(uid, str) else None

    @property
    def phase(self) -> str:
        """status.phase, "" when it has none."""
        status = packed_field(self.body, "status")
        phase = status.get("phase") if isinstance(status, dict) else None
        return phase if isinstance(phase, str) else ""

    @property
    def workload(self) -> str:
        """The workload the pod belongs to, as Kind/name (`core.owners.workload_name`; one string a workload); "" when
        none."""
        return sys.intern(workload_name(self.metadata))

    @property
    def namespace(self) -> str:
        """The namespace part of the key ("" for a pod without one); one string a namespace (rows keep it per pod)."""
        return sys.intern(self.key.rpartition("/")[0])

    @property
    def name(self) -> str:
        """The name part of the key: the template's very string (rows keep it per pod)."""
        name = self.key.rpartition("/")[2]
        return self.template.name if self.template.name == name else name

    @property
    def created(self) -> datetime | None:
        """The pod's creationTimestamp (its template's), or None."""
        return self.template.created

    @property
    def disagrees(self) -> bool:
        """ECI reported something other than the prediction (about caches imc saw)."""
        return self.unseen_cache is None and prediction_disagrees(self.decision, self.actual)


@dataclass(frozen=True)
class HistoryPoint:
    """A pod decided (kind "pod", outcome) or a cache phase seen (kind "imagecache", outcome = phase)."""

    at: datetime
    key: str
    outcome: str
    kind: str = "pod"


@dataclass(frozen=True)
class StoreSnapshot:
    """An immutable view of the store at one version."""

    version: int
    pods: Mapping[str, PodRecord]
    caches: Mapping[str, CacheView]
    cache_objects: Mapping[str, dict]
    deployments: Mapping[str, dict]
    history: tuple[HistoryPoint, ...]
    synced: Mapping[str, bool]
    errors: tuple[str, ...]
    # "pods/ns/name", "imagecaches/name", ...: what is wrong with an object read with a field of the wrong
    # type or range (it has a finding), or not read at all (it is left out)
    invalid: Mapping[str, str] = field(default_factory=dict)
    # kind (or "api", the liveness check) -> since when its reflector has had a problem: its data may be stale
    down_since: Mapping[str, datetime] = field(default_factory=dict)
    # every cache seen, with its earlier specs and deleted ones, while a pod may have used them
    cache_history: CacheHistory = field(default_factory=CacheHistory)

    def index_at(self, at: datetime) -> CacheIndex:
        """The caches a pod created at `at` was decided against, as an index (`explain` needs it)."""
        return self.cache_history.index_at(at)

    def watch_up(self) -> dict[str, bool]:
        """Per kind: listed, its watch without a current problem, and the API server answering."""
        api_up = LIVENESS not in self.down_since
        return {kind: api_up and bool(self.synced.get(kind)) and kind not in self.down_since for kind in KINDS}


def object_key(obj: object) -> str:
    """'namespace/name' for namespaced objects, 'name' for cluster-scoped ones; "" without a string name."""
    # dicts first, without the slower ABC check (~100,000 calls per 10k-pod list)
    meta = obj.get("metadata") if type(obj) is dict or isinstance(obj, Mapping) else None
    if type(meta) is not dict and not isinstance(meta, Mapping):
        return ""
    namespace, name = meta.get("namespace"), meta.get("name")
    if not isinstance(name, str):
        return ""
    return f"{namespace}/{name}" if isinstance(namespace, str) and namespace and name else name


def invalid_key(kind: str, key: str) -> str:
    """The key of an object in StoreSnapshot.invalid."""
    return f"{kind}/{key or UNNAMED}"


def visible_part(snapshot: StoreSnapshot, namespaces: frozenset[str] | None, caches: bool) -> StoreSnapshot:
    """The snapshot as a person who may see only these namespaces (None: every one), and the ImageCaches or not, sees
    it: their pods, Deployments, history points and malformed objects; no cache when they may not list caches.

    The decisions stay as they are (a pod's own annotations name the cache ECI used)."""

    def shown(key: str) -> bool:
        return namespaces is None or key.rpartition("/")[0] in namespaces

    def shown_invalid(key: str) -> bool:
        kind, _, rest = key.partition("/")
        return caches if kind == "imagecaches" else shown(rest)

    history = tuple(point for point in snapshot.history
                    if (caches if point.kind == "imagecache" else shown(point.key)))
    return dataclasses.replace(
        snapshot,
        pods=MappingProxyType({key: record for key, record in snapshot.pods.items() if shown(key)}),
        caches=snapshot.caches if caches else MappingProxyType({}),
        cache_objects=snapshot.cache_objects if caches else MappingProxyType({}),
        deployments=MappingProxyType({key: obj for key, obj in snapshot.deployments.items() if shown(key)}),
        history=history,
        invalid=MappingProxyType({key: why for key, why in snapshot.invalid.items() if shown_invalid(key)}),
    )


def _field_problem(findings: Iterable[Finding]) -> str | None:
    """The first finding about a field of the wrong type or range, as one line."""
    return next((f.message for f in findings if f.code in FIELD_CODES), None)


def image_keys(refs: Iterable[ImageRef]) -> frozenset[str]:
    """Reverse-index keys: the repository under its registry family (covers exact, tag, endpoint)."""
    return frozenset(ref.family_key for ref in refs)


def _now() -> datetime:
    return datetime.now(UTC)


class ClusterStore:
    """Objects of the four kinds, every pod decided, thread-safe; readers take `snapshot()`."""

    def __init__(
        self,
        history_limit: int = DEFAULT_HISTORY,
        clock: Callable[[], datetime] = _now,
        remember_for: timedelta = timedelta(0),
    ) -> None:
        """`remember_for`: how long a deleted cache or an earlier spec is kept after it ended even when no live pod
        was created before its end (the ledger's window, whose pods the pages still explain)."""
        self._lock = threading.RLock()
        self._clock = clock
        self._remember_for = remember_for
        self._seen = CacheHistory()
        self._pruned_at: datetime | None = None
        self._version = 0
        self._snapshot: StoreSnapshot | None = None
        # Copy-on-write: a mapping handed to a snapshot is copied before the next write to it.
        self._maps: dict[str, dict] = {
            "pods": {},
            "caches": {},
            "cache_objects": {},
            "deployments": {},
        }
        self._shared: set[str] = set()
        self._events: dict[str, str] = {}  # ECI's events: event key -> the key of the pod it is about
        self._events_by_pod: dict[str, dict[str, EventFacts]] = {}
        # per pod, (hash of the event's key, the pod uid it names, the pull it reported) of each `Pulled` event, one
        # after the other in one tuple; kept while the pod is, since clusters expire events after an hour and a pod's
        # start does not change
        self._pulls_by_pod: dict[str, tuple] = {}
        self._alike = Shared()  # the pods' labels, specs and statuses, each held once
        self._index = CacheIndex([])
        self._by_image: dict[str, set[str]] = {}
        self._by_pin: dict[str, set[str]] = {}
        self._indexed: dict[str, tuple[frozenset[str], str | None]] = {}
        self._history: deque[HistoryPoint] = deque(maxlen=history_limit)
        self._history_tuple: tuple[HistoryPoint, ...] | None = ()
        self._resource_versions: dict[str, str] = {}
        self._synced = {kind: False for kind in KINDS}
        self._errors: dict[str, str] = {}
        self._down_since: dict[str, datetime] = {}
        self._decide_errors: dict[str, str] = {}
        self._invalid: dict[str, str] = {}

    # ---- reading

    @property
    def version(self) -> int:
        """Bumps on every change."""
        return self._version

    def resource_version(self, kind: str) -> str | None:
        """The resourceVersion of the last list of a kind."""
        with self._lock:
            return self._resource_versions.get(kind)

    def snapshot(self) -> StoreSnapshot:
        """An immutable view; the same object while nothing changed."""
        with self._lock:
            if self._snapshot is not None and self._snapshot.version == self._version:
                return self._snapshot
            self._shared.update(self._maps)
            if self._history_tuple is None:
                self._history_tuple = tuple(self._history)
            errors = list(self._errors.values()) + list(self._decide_errors.values())[:MAX_ERRORS]
            self._snapshot = StoreSnapshot(
                version=self._version,
                pods=MappingProxyType(self._maps["pods"]),
                caches=MappingProxyType(self._maps["caches"]),
                cache_objects=MappingProxyType(self._maps["cache_objects"]),
                deployments=MappingProxyType(self._maps["deployments"]),
                history=self._history_tuple,
                synced=MappingProxyType(dict(self._synced)),
                down_since=MappingProxyType(dict(self._down_since)),
                errors=tuple(errors),
                invalid=MappingProxyType(dict(self._invalid)),
                cache_history=self._seen,
            )
            return self._snapshot

    # ---- writing

    def replace(self, kind: str, objects: list[dict] | Iterator[dict], resource_version: str) -> None:
        """Replace every object of a kind with a fresh list (objects missing from it disappear).

        `objects` may be an iterator: it is read under the store's lock, events one at a time as they come (a
        one-shot store's list folded in page by page as it arrives, never held whole: `kube.report`)."""
        _check_kind(kind)
        with self._lock:
            self._invalid.pop(invalid_key(kind, ""), None)
            # each object with its key, in list order
            keyed = self._keyed(kind, objects if isinstance(objects, list | Iterator) else ())
            if kind == "pods":
                self._replace_pods(list(keyed))
            elif kind == "imagecaches":
                self._replace_caches(list(keyed))
            elif kind == "deployments":
                self._write("deployments").clear()
                self._write("deployments").update(keyed)
            else:
                self._replace_events(keyed)
            self._resource_versions[kind] = resource_version
            self._synced[kind] = True
            self._bump()

    def replace_pages(self, kind: str, pages: Iterable[tuple[list[dict], str]]) -> None:
        """`replace` with a list read page by page, each page's objects with the list's resourceVersion. Pods and
        events are stored a page at a time, under the lock as each arrives (the process never holds the whole list,
        whose leftovers pinned ~200 MiB of heap at 50,000 pods), then what the list did not hold is dropped; other
        kinds are replaced once listed. The version moves once the list is stored: until then a snapshot is the one
        before, unless another change moves it (then each object is as listed or as before)."""
        _check_kind(kind)
        version = ""
        if kind not in ("pods", "events"):
            objects: list[dict] = []
            for page, version in pages:  # noqa: B007 - the last page's
                objects.extend(page)
            self.replace(kind, objects, version)
            return
        listed: set[str] = set()
        with self._lock:
            self._invalid.pop(invalid_key(kind, ""), None)
        for page, version in pages:  # noqa: B007 - the last page's
            with self._lock:
                if kind == "pods":
                    for key, obj in self._keyed(kind, page):
                        listed.add(key)
                        self._put_pod(key, obj)
                else:
                    touched: set[str] = set()
                    for key, obj in self._keyed(kind, page):
                        touched |= self._apply_event(obj, deleted=False, refresh=False, key=key)
                        if key in self._events:
                            listed.add(key)
                    self._refresh_actual(touched)
        with self._lock:
            if kind == "pods":
                self._drop_unlisted(listed)
            else:
                touched = set()
                for key in [k for k in self._events if k not in listed]:
                    touched |= self._apply_event({}, deleted=True, refresh=False, key=key)
                self._refresh_actual(touched)
            self._resource_versions[kind] = version
            self._synced[kind] = True
            self._bump()

    def apply(self, kind: str, event_type: str, obj: dict) -> None:
        """Apply one watch event (ADDED, MODIFIED or DELETED) of a kind; an object without a name is noted, not kept."""
        _check_kind(kind)
        if event_type not in ("ADDED", "MODIFIED", "DELETED"):
            raise ValueError(f"not a watch event type the store applies: {event_type!r}")
        deleted = event_type == "DELETED"
        with self._lock:
            if not object_key(obj):
                self._note_unnamed(kind, obj)
            elif kind == "pods":
                self._apply_pod(obj, deleted)
            elif kind == "imagecaches":
                self._apply_cache(obj, deleted)
            elif kind == "deployments":
                key = object_key(obj)
                if deleted:
                    self._write("deployments").pop(key, None)
                else:
                    self._write("deployments")[key] = obj
            else:
                self._apply_event(obj, deleted)
            self._bump()

    def set_error(self, kind: str, message: str | None) -> None:
        """Record (or clear, with None) the current connection problem of a kind's reflector (or of "api")."""
        with self._lock:
            if message is None:
                self._down_since.pop(kind, None)
                if self._errors.pop(kind, None) is None:
                    return
            elif self._errors.get(kind) == message:
                return
            else:
                self._errors[kind] = message
                self._down_since.setdefault(kind, self._clock())
            self._bump()

    # ---- internals

    def _keyed(self, kind: str, objects: Iterable[object]) -> Iterator[tuple[str, dict]]:
        for obj in objects:
            key = object_key(obj)
            if key:
                yield (sys.intern(key) if kind == "pods" else key), obj  # a pod's key: one string, its events' too
            else:
                self._note_unnamed(kind, obj)

    def _note_unnamed(self, kind: str, obj: object) -> None:
        what = type(obj).__name__ if not isinstance(obj, Mapping) else "an object without metadata.name"
        self._invalid[invalid_key(kind, "")] = f"{what}: {brief(obj)}; left out"

    def _note(self, kind: str, key: str, problem: str | None) -> None:
        """Record (or clear, with None) what is wrong with one object."""
        if problem is None:
            self._invalid.pop(invalid_key(kind, key), None)
        else:
            self._invalid[invalid_key(kind, key)] = problem

    def _bump(self) -> None:
        self._version += 1

    def _write(self, name: str) -> dict:
        if name in self._shared:
            self._maps[name] = dict(self._maps[name])
            self._shared.discard(name)
        return self._maps[name]

    def _record_history(self, key: str, outcome: str, kind: str, at: datetime | None = None) -> None:
        self._history.append(HistoryPoint(at or self._clock(), key, outcome, kind))
        self._history_tuple = None

    # pods

    def _replace_pods(self, keyed: list[tuple[str, dict]]) -> None:
        fresh = dict(keyed)
        self._drop_unlisted(fresh)
        for key, obj in fresh.items():
            self._put_pod(key, obj)

    def _drop_unlisted(self, listed: Container[str]) -> None:
        """Drop the pods a list did not hold, with their problems and pulls."""
        for key in [k for k in self._maps["pods"] if k not in listed]:
            self._drop_pod(key)
        for key in [k for k in self._decide_errors if k not in listed]:
            del self._decide_errors[key]
            self._note("pods", key, None)
        for key in [k for k in self._pulls_by_pod if k not in listed]:
            del self._pulls_by_pod[key]

    def _apply_pod(self, obj: dict, deleted: bool) -> None:
        key = sys.intern(object_key(obj))
        if deleted:
            self._drop_pod(key)
            self._decide_errors.pop(key, None)
            self._note("pods", key, None)
        else:
            self._put_pod(key, obj)

    def _drop_pod(self, key: str) -> None:
        self._pulls_by_pod.pop(key, None)
        if self._write("pods").pop(key, None) is not None:
            self._unindex(key)
            self._note("pods", key, None)

    def _put_pod(self, key: str, obj: dict) -> None:
        try:
            self._decide_pod(key, obj)
        except ImcError as exc:
            problem = f"cannot read it: {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug on one pod must not stop the cluster's other pods
            problem = f"cannot read it: internal error {type(exc).__name__}: {brief(str(exc))}"
        else:
            return
        self._drop_pod(key)  # never a stale prediction
        self._decide_errors[key] = f"pod {key}: {problem}"
        self._note("pods", key, problem)

    def _decide_pod(self, key: str, obj: dict) -> None:
        old = self._maps["pods"].get(key)
        template, body = self._packed(obj, pod_template(obj))
        self._decide_errors.pop(key, None)
        if old is not None and old.template == template:
            decision = old.decision  # only status changed: the prediction stands
        else:
            at = template.decided_at(self._clock())
            decision = self._alike_decision(decide(template, self._index_at(at), at=at))
        self._store_pod(key, template, decision, old, obj, body)
        self._note("pods", key, _field_problem(template.findings))

    def _store_pod(self, key: str, template: PodTemplate, decision: Decision, old: PodRecord | None,
                   obj: dict | None = None, body: tuple | dict = ()) -> None:
        """Store a pod's record: `obj` packed as `body`; without them, the pod is old's (only its events, pulls or
        decision changed)."""
        if obj is None:
            body = old.body
        uid = packed_field(body, "uid")
        uid = uid if isinstance(uid, str) else None
        # without the pod, its start was read from its status before: kept
        start = self._start(key, uid, old.start) if obj is None else self._start(key, uid, pod=obj)
        annotations = packed_field(body, "annotations")
        matched = annotations.get(MATCHED_CACHE) if isinstance(annotations, Mapping) else None
        actual = reported_outcome(matched if isinstance(matched, str) and matched else None, uid or "",
                                  self._events_by_pod.get(key, {}).values())
        unseen = self._unseen(actual)
        self._write("pods")[key] = PodRecord(key, body, template, decision, actual, start, unseen)
        self._index_pod(key, template)
        if old is None:
            self._record_history(key, decision.outcome, "pod", template.created)
        elif old.decision.outcome != decision.outcome:
            self._record_history(key, decision.outcome, "pod")

    def _start(self, key: str, uid: str | None, same_pod: PodStart | None = None, pod: dict | None = None
               ) -> PodStart | None:
        """The pod's start with its pulls: read from `pod`, else `same_pod` (the start already read from the pod's
        status) with them, when only the pulls may have changed (after an event list, 50,000 pods are not read again;
        a pod without a creation time has no start)."""
        held = self._pulls_by_pod.get(key, ())
        own = (held[i + 2] for i in range(0, len(held), 3) if not (uid and held[i + 1] and held[i + 1] != uid))
        if pod is not None:
            return pod_start(pod, own)
        return with_pulls(same_pod, own) if same_pod is not None else None

    def _packed(self, obj: dict, template: PodTemplate) -> tuple[PodTemplate, tuple | dict]:
        """The pod packed (`kube.slim.pack_pod`) and its template holding the same shared labels and spec, and images
        held once per distinct list."""
        body = pack_pod(obj, self._alike, {"annotations": template.annotations})
        labels, spec = template.labels, template.spec
        if type(body) is tuple:
            labels = body[LABELS] if labels == body[LABELS] else labels
            spec = body[SPEC] if spec == body[SPEC] else spec
        images, refs = self._alike.keyed(("images", template.images), (template.images, template.image_refs))
        if labels is template.labels and spec is template.spec and images is template.images:
            return template, body
        t = template  # dataclasses.replace, without its per-call look at the fields (~50,000 calls a list)
        return PodTemplate(t.kind, t.namespace, t.name, labels, t.annotations, spec, images, refs, t.policy, t.eci,
                           t.node_name, t.created, t.findings), body

    def _alike_decision(self, decision: Decision) -> Decision:
        """An equal decision already held (against the very same cache), else this one, now held: pods alike (a
        workload's, decided against the same caches) share one."""
        key = ("decision", decision.outcome, id(decision.cache), decision.events, decision.auto_create,
               decision.images, decision.policy, decision.findings, decision.pinned_name)
        return self._alike.keyed(key, decision)

    def _redecide(self, keys: Iterable[str], since: datetime | None = None) -> None:
        """Decide these pods again; those created before `since` (the change's moment) were decided on the caches
        before it, which stand."""
        pods = self._maps["pods"]
        for key in list(keys):
            old = pods.get(key)
            if old is None or (since is not None and old.created is not None and old.created < since):
                continue
            at = old.template.decided_at(self._clock())
            decision = self._alike_decision(decide(old.template, self._index_at(at), at=at))
            self._store_pod(key, old.template, decision, old)

    def _index_at(self, at: datetime) -> CacheIndex:
        """The caches a pod created at `at` was decided against: the live index unless some cache changed since."""
        seen = self._seen
        return self._index if seen.epoch(at) == len(seen.changes) else seen.index_at(at)

    def _unseen(self, actual: ActualOutcome | None) -> str | None:
        """ECI's reported cache when imc never saw it; None until the caches are listed (it may be among them)."""
        return unseen_cache(actual, self._seen.knows) if self._synced["imagecaches"] else None

    def _recheck_unseen(self, only_unseen: bool = False) -> None:
        """After the caches imc knows changed: store the pods whose reported cache became known, or unknown
        (`only_unseen`: the IDs imc knows only grew, so only a pod whose cache was unseen can change)."""
        pods = self._maps["pods"]
        self._refresh_actual([key for key, record in pods.items()
                              if record.actual is not None and (record.unseen_cache is not None or not only_unseen)
                              and record.unseen_cache != self._unseen(record.actual)])

    def _remember(self, name: str, view: CacheView | None, gone: dict | None = None) -> None:
        """Record in the cache history what the watch showed of a cache now (None: it is gone; `gone`, the deleted
        object, may tell when: its metadata.deletionTimestamp, when before now)."""
        now = self._clock()
        if view is not None:
            self._seen = self._seen.seen(view, now)
        else:
            self._seen = self._seen.deleted(name, deletion_time(gone, now))

    def _forget_unneeded(self) -> None:
        """Drop the ended cache versions no live pod was created before, older than `remember_for`; at most once
        every PRUNE_EVERY (it reads every pod)."""
        seen = self._seen
        now = self._clock()
        cutoff = now - self._remember_for
        if not seen.changes or seen.changes[0] >= cutoff or (
                self._pruned_at is not None and self._pruned_at <= now < self._pruned_at + PRUNE_EVERY):
            return
        self._pruned_at = now
        created = (record.created for record in self._maps["pods"].values() if record.created is not None)
        oldest = min(created, default=cutoff)
        self._seen = seen.pruned(min(cutoff, oldest))

    def _refresh_actual(self, keys: Iterable[str]) -> None:
        pods = self._maps["pods"]
        for key in set(keys):
            old = pods.get(key)
            if old is not None:
                self._store_pod(key, old.template, old.decision, old)

    def _index_pod(self, key: str, template: PodTemplate) -> None:
        pin = template.policy.pin_id
        entry = self._alike.keyed(("indexed", template.images, pin), (image_keys(template.image_refs), pin))
        if self._indexed.get(key) == entry:
            return
        self._unindex(key)
        self._indexed[key] = entry
        for image_key in entry[0]:
            self._by_image.setdefault(image_key, set()).add(key)
        if entry[1]:
            self._by_pin.setdefault(entry[1], set()).add(key)

    def _unindex(self, key: str) -> None:
        entry = self._indexed.pop(key, None)
        if entry is None:
            return
        for image_key in entry[0]:
            _discard(self._by_image, image_key, key)
        if entry[1]:
            _discard(self._by_pin, entry[1], key)

    def _affected_by(self, views: Iterable[CacheView | None]) -> set[str]:
        keys: set[str] = set()
        for view in views:
            if view is None:
                continue
            for image_key in image_keys(view.image_refs):
                keys |= self._by_image.get(image_key, set())
            if view.id:
                keys |= self._by_pin.get(view.id, set())
        return keys

    # caches

    def _replace_caches(self, keyed: list[tuple[str, dict]]) -> None:
        old_views = dict(self._maps["caches"])
        old_objects = self._maps["cache_objects"]
        fresh = dict(keyed)
        changed: list[CacheView | None] = []
        views = self._write("caches")
        raw = self._write("cache_objects")
        now = self._clock()
        # gone during a gap in the watch: when is unknown; from the gap's start when the watch was known down (a
        # pod created in the gap, e.g. on a restarted server, was not decided on it), else now
        outage = [self._down_since[kind] for kind in ("imagecaches", LIVENESS) if kind in self._down_since]
        ended = min(outage, default=now)
        shown: list[CacheView] = []
        gone: dict[str, datetime] = {}
        for name in [n for n in views if n not in fresh]:
            changed.append(views.pop(name))
            raw.pop(name, None)
            gone[name] = ended
            self._note("imagecaches", name, None)
        for name, obj in fresh.items():
            if old_objects.get(name) == obj and name in views:
                continue
            view = self._view(name, obj)
            if view is None:
                gone[name] = now
                changed.append(views.pop(name, None))
                raw.pop(name, None)
                continue
            shown.append(view)
            changed += [old_views.get(name), view]
            views[name] = view
            raw[name] = obj
            self._phase_history(name, old_views.get(name), view)
        self._seen = self._seen.observed(shown, gone, now)
        if changed:
            self._index = CacheIndex(list(views.values()))
            self._forget_unneeded()
            moments = [self._seen.changed_at(name) for name in [*gone, *(view.name for view in shown)]]
            self._redecide(self._affected_by(changed), None if None in moments else min(moments, default=None))
        self._synced["imagecaches"] = True  # a pod's reported cache can now be told known or not
        self._recheck_unseen()

    def _apply_cache(self, obj: dict, deleted: bool) -> None:
        name = object_key(obj)
        old = self._maps["caches"].get(name)
        view = None if deleted else self._view(name, obj)
        known = self._seen.ids
        self._remember(name, view, obj if deleted else None)
        if known != self._seen.ids:
            self._recheck_unseen(only_unseen=True)
        if view is None:
            self._write("caches").pop(name, None)
            self._write("cache_objects").pop(name, None)
            self._note("imagecaches", name, None)
        else:
            self._write("caches")[name] = view
            self._write("cache_objects")[name] = obj
            self._phase_history(name, old, view)
        if old is not None and view is not None:
            self._index.replace(old, view)  # the index holds exactly the views of the map
            if match_signature(old) == match_signature(view):
                return  # e.g. only progress or events moved: no decision can change
        else:
            self._index = CacheIndex(list(self._maps["caches"].values()))
        self._forget_unneeded()
        self._redecide(self._affected_by([old, view]), self._seen.changed_at(name))

    def _view(self, name: str, obj: dict) -> CacheView | None:
        try:
            view = cache_from_object(obj)
        except ImcError as exc:
            self._decide_errors[f"imagecache/{name}"] = f"ImageCache {name}: cannot read it: {exc}"
            self._note("imagecaches", name, f"cannot read it: {exc}")
            return None
        self._decide_errors.pop(f"imagecache/{name}", None)
        self._note("imagecaches", name, _field_problem(view.findings))
        return view

    def _phase_history(self, name: str, old: CacheView | None, new: CacheView) -> None:
        if old is None or old.phase != new.phase:
            self._record_history(name, new.phase or "", "imagecache")

    # events

    def _replace_events(self, keyed: Iterable[tuple[str, dict]]) -> None:
        touched = set(self._events_by_pod)
        self._events.clear()
        self._events_by_pod.clear()
        for key, obj in keyed:
            self._apply_event(obj, deleted=False, refresh=False, key=key)
        self._refresh_actual(touched | set(self._events_by_pod) | set(self._pulls_by_pod))

    def _apply_event(self, obj: dict, deleted: bool, refresh: bool = True, key: str = "") -> set[str]:
        """Apply one event; the pods whose actual outcome or start it may change (refreshed unless `refresh` is
        False)."""
        key = key or object_key(obj)
        old = self._events.pop(key, None)
        pods = set()
        if old is not None:
            pods.add(old)
            _discard(self._events_by_pod, old, key)
        if not deleted and obj.get("reason") == PULL_REASON:  # ~3 a pod; never one of ECI's reasons
            pods |= self._keep_pull(key, obj)
        elif not deleted and is_eci_event(obj):
            pod_key = sys.intern(event_pod_key(obj))
            facts = event_facts(obj)
            self._events[key] = pod_key
            self._events_by_pod.setdefault(pod_key, {})[key] = facts._replace(
                type=sys.intern(facts.type), message=sys.intern(facts.message), uid=_interned(facts.uid))  # one each
            pods.add(pod_key)
        if refresh:
            self._refresh_actual(pods)
        return pods

    def _keep_pull(self, key: str, event: dict) -> set[str]:
        pull = pull_from_event(event)
        involved = event.get("involvedObject") or event.get("regarding")
        if pull is None or not isinstance(involved, dict):
            return set()
        pod_key = event_pod_key(event)
        if pod_key is None:
            return set()
        pod_key = sys.intern(pod_key)
        # the event's key as its hash: ~3 pulls a pod, where two keys of one pod sharing a 64-bit hash is not a concern
        mark, uid = hash(key), _interned(involved.get("uid"))
        held = self._pulls_by_pod.get(pod_key, ())
        at = next((i for i in range(0, len(held), 3) if held[i] == mark), len(held))
        self._pulls_by_pod[pod_key] = (*held[:at], mark, uid, pull, *held[at + 3:])
        return {pod_key}


def deletion_time(obj: dict | None, now: datetime) -> datetime:
    """When a deleted object went away: its metadata.deletionTimestamp when readable and not after `now`, else now."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    try:
        stamp = parse_time(meta.get("deletionTimestamp")) if isinstance(meta, dict) else None
    except ImcError:
        stamp = None
    return stamp if stamp is not None and stamp <= now else now


def _interned(value: object) -> object:
    return sys.intern(value) if type(value) is str else value


def _discard(index: dict, key: str, member: str) -> None:
    members = index.get(key)
    if members is None:
        return
    if isinstance(members, dict):
        members.pop(member, None)
    else:
        members.discard(member)
    if not members:
        del index[key]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
