"""Objects with resourceVersions, the watch history, and the watchers fed from it."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from sim.apiserver.errors import expired
from sim.apiserver.selectors import Selector

COMPACTION_SECONDS = 300.0  # kube-apiserver's --etcd-compaction-interval default (5m0s)
CONTINUE_TOO_OLD = ("The provided continue parameter is too old to display a consistent list result. You can start "
                    "a new list without the continue parameter.")
ObjectKey = tuple[str, str]  # (namespace or "", name)
DEFAULT_HISTORY_SIZE = 100_000  # watch events kept
DEFAULT_HISTORY_BYTES = 64 * 1024 * 1024  # and at most this much JSON in them (Change.size)


@dataclass(frozen=True)
class Entry:
    """One stored version of an object and its JSON encoding (made once per version)."""

    obj: dict
    raw: bytes
    rv: int

    def copy(self) -> dict:
        """A private deep copy of the object, to change and store again."""
        return orjson.loads(self.raw)


@dataclass(frozen=True)
class Change:
    """One event of the watch history."""

    rv: int
    resource: str
    type: str  # ADDED, MODIFIED, DELETED
    entry: Entry
    previous: Entry | None

    @property
    def size(self) -> int:
        """The bytes of JSON this change keeps alive (its object and the version before it): about half of what
        they take in memory, decoded and encoded."""
        return len(self.entry.raw) + (len(self.previous.raw) if self.previous is not None else 0)


def object_key(obj: dict) -> ObjectKey:
    """The (namespace, name) key of an object."""
    metadata = obj.get("metadata", {})
    return metadata.get("namespace", ""), metadata.get("name", "")


@dataclass(eq=False)
class Watcher:
    """One open watch: which objects it wants, and the events waiting to be sent (each with its change's rv)."""

    resource: str
    namespace: str | None
    selector: Selector
    pending: deque[tuple[int, str, Entry]] = field(default_factory=deque)
    delivered_rv: int = 0  # the resourceVersion of the last event taken to be sent
    expired_at: int = 0  # set when the history was trimmed past an unsent event: the stream ends with 410 Expired
    ended: bool = False  # nothing more is queued (the server is stopping, or the stream is over)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def wanted(self, obj: dict) -> bool:
        """Whether the watch selects this object."""
        if self.namespace and obj.get("metadata", {}).get("namespace") != self.namespace:
            return False
        return self.selector.empty or self.selector.matches(obj)

    def event_for(self, change: Change) -> tuple[str, Entry] | None:
        """The event this watcher sees for a change: selection changes turn into ADDED/DELETED."""
        now = self.wanted(change.entry.obj)
        if change.type != "MODIFIED" or change.previous is None:
            return (change.type, change.entry) if now else None
        before = self.wanted(change.previous.obj)
        if before and now:
            return "MODIFIED", change.entry
        if now:
            return "ADDED", change.entry
        if before:
            return "DELETED", change.entry
        return None

    def queue(self, rv: int, event_type: str, entry: Entry) -> None:
        """Queue one event to send, made at resourceVersion `rv`."""
        if not self.ended and not self.expired_at:
            self.pending.append((rv, event_type, entry))
            self.wakeup.set()

    def offer(self, change: Change) -> None:
        """Queue a change if this watcher sees it."""
        event = self.event_for(change)
        if event is not None:
            self.queue(change.rv, *event)

    def expire_through(self, evicted_rv: int) -> None:
        """The history no longer holds `evicted_rv` and older: a watcher still owing such an event falls behind
        for good (its events are dropped, its stream ends with 410)."""
        if self.pending and self.pending[0][0] <= evicted_rv:
            self.pending.clear()
            self.expired_at = evicted_rv + 1
            self.wakeup.set()

    def take(self, max_events: int, max_bytes: int) -> list[tuple[str, Entry]]:
        """The next events to send in one write: at least one, then up to `max_events` or about `max_bytes`."""
        taken: list[tuple[str, Entry]] = []
        size = 0
        while self.pending and len(taken) < max_events and (not taken or size + len(self.pending[0][2].raw)
                                                            <= max_bytes):
            rv, event_type, entry = self.pending.popleft()
            taken.append((event_type, entry))
            size += len(entry.raw)
            self.delivered_rv = rv
        return taken

    def end(self) -> None:
        """Queue nothing more: the stream ends once what is queued is sent."""
        self.ended = True
        self.wakeup.set()


@dataclass
class ListSnapshot:
    """The remaining items of a paged list, kept so that every page shows the same resourceVersion."""

    rv: int
    entries: list[Entry]
    created: float


class Store:
    """All objects of the cluster, one global resourceVersion counter, a watch history bounded by events and by
    bytes."""

    SNAPSHOT_TTL = 300.0
    MAX_SNAPSHOTS = 256

    def __init__(self, history_size: int = DEFAULT_HISTORY_SIZE, history_bytes: int = DEFAULT_HISTORY_BYTES,
                 compaction_seconds: float = COMPACTION_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.rv = 1
        self.history_size = max(1, history_size)
        self.history_bytes = max(1, history_bytes)
        self.history: deque[Change] = deque()
        self.held_bytes = 0  # Change.size summed over the history
        self.evicted_rv = 0
        # what etcd has compacted: a paged list's continue token older than it gets 410 (the history's size bounds
        # only watches: kube-apiserver serves a continued list from etcd, not from its watch cache)
        self.compacted_rv = 0
        self.compaction_seconds = compaction_seconds
        self._clock = clock
        self._compaction_tick = (clock(), self.rv)  # when the last interval began, and the resourceVersion then
        self._objects: dict[str, dict[ObjectKey, Entry]] = {}
        self._sorted_keys: dict[str, list[ObjectKey] | None] = {}
        self._watchers: dict[str, set[Watcher]] = {}
        self._listeners: list[Callable[[Change], None]] = []
        self._snapshots: OrderedDict[str, ListSnapshot] = OrderedDict()
        self._snapshot_ids = itertools.count(1)
        self.closed = False

    # reads
    def get(self, resource: str, namespace: str, name: str) -> Entry | None:
        """The current version of one object."""
        return self._objects.get(resource, {}).get((namespace, name))

    def count(self, resource: str) -> int:
        """How many objects of a resource there are."""
        return len(self._objects.get(resource, {}))

    def _keys(self, resource: str) -> list[ObjectKey]:
        """The sorted keys of a resource (cached until an object is added or removed)."""
        keys = self._sorted_keys.get(resource)
        if keys is None:
            keys = sorted(self._objects.get(resource, {}))
            self._sorted_keys[resource] = keys
        return keys

    def entries(self, resource: str, namespace: str | None = None) -> Iterator[Entry]:
        """Current objects of a resource in (namespace, name) order, optionally of one namespace."""
        objects = self._objects.get(resource, {})
        keys = self._keys(resource)
        if namespace:
            start = bisect.bisect_left(keys, (namespace, ""))
            keys = itertools.takewhile(lambda key: key[0] == namespace, keys[start:])
        for key in keys:
            yield objects[key]

    def entries_at(self, resource: str, namespace: str | None, rv: int) -> list[Entry]:
        """Objects of a resource as they were at `rv` (which must still be in the history), in key order."""
        state = {key: entry for key, entry in self._objects.get(resource, {}).items()
                 if not namespace or key[0] == namespace}
        for change in reversed(self.changes_since(resource, rv)):
            key = object_key(change.entry.obj)
            if namespace and key[0] != namespace:
                continue
            if change.type == "ADDED" or change.previous is None:
                state.pop(key, None)
            else:
                state[key] = change.previous
        return [state[key] for key in sorted(state)]

    def objects(self, resource: str, namespace: str | None = None) -> list[dict]:
        """Current objects (read-only dicts) of a resource."""
        return [entry.obj for entry in self.entries(resource, namespace)]

    # writes
    def _record(self, resource: str, event_type: str, entry: Entry, previous: Entry | None) -> None:
        """Append a change to the history and tell watchers and listeners."""
        change = Change(entry.rv, resource, event_type, entry, previous)
        self.history.append(change)
        self.held_bytes += change.size
        for watcher in list(self._watchers.get(resource, ())):
            watcher.offer(change)
        self._trim()
        for listener in list(self._listeners):
            listener(change)

    def _trim(self) -> None:
        """Drop the oldest changes beyond the history's bounds (the newest stays); watchers still owing a dropped
        change expire."""
        evicted = self.evicted_rv
        while len(self.history) > 1 and (len(self.history) > self.history_size
                                         or self.held_bytes > self.history_bytes):
            gone = self.history.popleft()
            self.held_bytes -= gone.size
            self.evicted_rv = gone.rv
        if self.evicted_rv != evicted:
            for watchers in self._watchers.values():
                for watcher in watchers:
                    watcher.expire_through(self.evicted_rv)

    def _stamp(self, obj: dict) -> Entry:
        """Give an object the next resourceVersion and encode it."""
        self.compact_when_due()  # before the version moves: an interval that ended began before this write
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        return Entry(obj, orjson.dumps(obj), self.rv)

    def put(self, resource: str, obj: dict) -> Entry:
        """Store a new version of an object (the store owns `obj` from now on)."""
        key = object_key(obj)
        table = self._objects.setdefault(resource, {})
        previous = table.get(key)
        entry = self._stamp(obj)
        table[key] = entry
        if previous is None:
            self._sorted_keys[resource] = None
        self._record(resource, "ADDED" if previous is None else "MODIFIED", entry, previous)
        return entry

    def remove(self, resource: str, namespace: str, name: str) -> Entry | None:
        """Delete an object; the DELETED event carries its last state with a new resourceVersion."""
        previous = self._objects.get(resource, {}).pop((namespace, name), None)
        if previous is None:
            return None
        self._sorted_keys[resource] = None
        entry = self._stamp(previous.copy())
        self._record(resource, "DELETED", entry, previous)
        return entry

    def restore(self, stored: Iterable[tuple[str, Entry]], rv: int) -> None:
        """Fill an empty store with the objects of a restarted cluster, and tell the listeners of each (as ADDED,
        outside the watch history). Versions go on from `rv`; nothing before it can be watched or listed any more:
        a restarted kube-apiserver's watch cache starts at the current resourceVersion, and an older one is "too
        old" (apiserver pkg/storage/cacher/watch_cache.go), so a client with a stale resourceVersion gets 410."""
        added = []
        for resource, entry in stored:
            self._objects.setdefault(resource, {})[object_key(entry.obj)] = entry
            self._sorted_keys[resource] = None
            self.rv = max(self.rv, entry.rv)
            added.append(Change(entry.rv, resource, "ADDED", entry, None))
        self.rv = max(self.rv, rv)
        self.evicted_rv = self.compacted_rv = self.rv
        self._compaction_tick = (self._clock(), self.rv)
        for change in added:
            for listener in list(self._listeners):
                listener(change)

    # watching
    def add_listener(self, listener: Callable[[Change], None]) -> None:
        """Call `listener(change)` after every change (it must not write to the store synchronously)."""
        self._listeners.append(listener)

    def can_resume(self, rv: int) -> bool:
        """Whether every change after `rv` is still in the history."""
        self.compact_when_due()
        return rv >= self.evicted_rv

    def can_continue(self, rv: int) -> bool:
        """Whether a paged list begun at `rv` may go on: until it is compacted (apiserver pkg/storage/etcd3 store.go
        GetList reads a continued page at the token's revision from etcd, and etcd answers ErrCompacted, which becomes
        410 "continue parameter is too old", once that revision is compacted), however far the watch history moved."""
        self.compact_when_due()
        return rv >= self.compacted_rv

    def compact_when_due(self) -> None:
        """Compact as kube-apiserver has etcd compacted: every interval, to the resourceVersion the previous interval
        began at (apiserver pkg/storage/etcd3/compact.go, --etcd-compaction-interval, default 5 minutes), so a
        version older than 5 to 10 minutes gets 410. Called on every write and watch start, so missed intervals
        had no writes: two or more of them compact to now."""
        if self.compaction_seconds <= 0:
            return
        began, rv_then = self._compaction_tick
        intervals = int((self._clock() - began) // self.compaction_seconds)
        if intervals < 1:
            return
        self.compact(rv_then if intervals == 1 else self.rv)
        self._compaction_tick = (began + intervals * self.compaction_seconds, self.rv)

    def compact(self, rv: int) -> None:
        """Forget the changes up to `rv`: a watch or list from before it gets 410 (watches already open go on)."""
        while self.history and self.history[0].rv <= rv:
            self.held_bytes -= self.history.popleft().size
        self.evicted_rv = max(self.evicted_rv, rv)
        self.compacted_rv = max(self.compacted_rv, rv)

    def changes_since(self, resource: str, rv: int) -> list[Change]:
        """Changes of a resource newer than `rv`, oldest first."""
        newer = []
        for change in reversed(self.history):
            if change.rv <= rv:
                break
            if change.resource == resource:
                newer.append(change)
        newer.reverse()
        return newer

    def subscribe(self, watcher: Watcher) -> None:
        """Start feeding a watcher (one subscribed after `close_watchers` is told to stop at once)."""
        self._watchers.setdefault(watcher.resource, set()).add(watcher)
        if self.closed:
            watcher.end()

    def close_watchers(self) -> None:
        """Tell every watcher to end its stream (the server is stopping)."""
        self.closed = True
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.end()

    def unsubscribe(self, watcher: Watcher) -> None:
        """Stop feeding a watcher and let go of what it still had queued (the client left, or its stream ended)."""
        watcher.end()
        watcher.pending.clear()
        watchers = self._watchers.get(watcher.resource)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[watcher.resource]

    # paged lists
    def save_snapshot(self, rv: int, entries: list[Entry]) -> str:
        """Keep the rest of a paged list; returns its id for the continue token."""
        now = time.monotonic()
        while self._snapshots and (
            len(self._snapshots) >= self.MAX_SNAPSHOTS
            or now - next(iter(self._snapshots.values())).created > self.SNAPSHOT_TTL
        ):
            self._snapshots.popitem(last=False)
        snapshot_id = str(next(self._snapshot_ids))
        self._snapshots[snapshot_id] = ListSnapshot(rv, entries, now)
        return snapshot_id

    def load_snapshot(self, snapshot_id: str) -> ListSnapshot:
        """A kept paged list, or 410 Expired when it is gone."""
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None or time.monotonic() - snapshot.created > self.SNAPSHOT_TTL:
            raise expired(CONTINUE_TOO_OLD)
        return snapshot
